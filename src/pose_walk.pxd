# Step 2 of multi-pose decoding, which grows one pose from its root keypoint along the
# skeleton.
from tensor cimport Frame, Tensor, raw_t
from geometry cimport Footprint, Scale, scale_of, locate, weighted, clamp, sample

cdef extern from "skeleton.h":
    ctypedef struct posefast_neighbour:
        int edge, target, forward
    const int* posefast_neighbour_count
    const posefast_neighbour (*posefast_neighbours)[4]

# Fills ys, xs (cells) and logits (17 each) for the pose rooted at keypoint root_k at
# (root_y, root_x).
#
# The algorithm expands keypoints best-logit first from a priority queue; but the
# skeleton is a tree, so every keypoint is reached from one neighbour only, the one on
# its path to the root, and its position depends on that neighbour's alone: the order
# of expansion changes nothing. So the pose grows level by level from the root (the
# queue is not needed), and all refinement chains of a level run in lockstep. A chain's
# step is a floor, a load, a weighted sum and a clamp, each waiting on the one before;
# stepping up to six independent chains together lets the CPU overlap them, where one
# keypoint at a time would wait out every step. The y and x channels share one bilinear
# footprint whose weights also dequantise and turn pixels into cells (geometry.Footprint).
cdef inline void walk_pose(const Frame* f, raw_t* tag, int root_k, double root_y,
                           double root_x, int refine_steps, double* ys, double* xs,
                           double* logits) noexcept nogil:
    cdef bint seen[17]
    cdef int level[17]      # keypoints placed in the previous level
    cdef int grow[17]       # keypoints being placed in this level
    cdef int n_level, n_grow
    cdef Py_ssize_t height = f.height, width = f.width
    cdef double hi_y = height - 1, hi_x = width - 1, dy, dx
    cdef int k, i, j, s, t, r, edge
    cdef const Tensor* disp
    cdef const posefast_neighbour* nb
    cdef Footprint move
    cdef Scale heat_s, off_c, fwd_c, bwd_c
    cdef const Scale* disp_c
    scale_of(&f.heatmaps, tag, 1.0, &heat_s)      # logits
    scale_of(&f.offsets, tag, f.stride, &off_c)   # pixels -> cells
    scale_of(&f.fwd, tag, f.stride, &fwd_c)
    scale_of(&f.bwd, tag, f.stride, &bwd_c)
    for k in range(17):
        seen[k] = False
    ys[root_k] = root_y
    xs[root_k] = root_x
    logits[root_k] = sample(&f.heatmaps, tag, root_y, root_x, root_k, height, width, &heat_s)
    seen[root_k] = True
    level[0] = root_k
    n_level = 1
    while n_level > 0:
        n_grow = 0
        for j in range(n_level):
            s = level[j]
            for i in range(posefast_neighbour_count[s]):
                nb = &posefast_neighbours[s][i]
                t = nb.target
                if seen[t]:
                    continue
                edge = nb.edge
                if nb.forward:
                    disp, disp_c = &f.fwd, &fwd_c
                else:
                    disp, disp_c = &f.bwd, &bwd_c
                locate(disp, ys[s], xs[s], height, width, disp_c, &move)
                ys[t] = clamp((ys[s] - disp_c.shift) + weighted(disp, tag, &move, edge), hi_y)
                xs[t] = clamp((xs[s] - disp_c.shift) + weighted(disp, tag, &move, 16 + edge), hi_x)
                seen[t] = True
                grow[n_grow] = t
                n_grow += 1
        for r in range(refine_steps):
            for i in range(n_grow):
                t = grow[i]
                locate(&f.offsets, ys[t], xs[t], height, width, &off_c, &move)
                dy = weighted(&f.offsets, tag, &move, t)
                dx = weighted(&f.offsets, tag, &move, 17 + t)
                ys[t] = clamp((ys[t] - off_c.shift) + dy, hi_y)
                xs[t] = clamp((xs[t] - off_c.shift) + dx, hi_x)
        for i in range(n_grow):
            t = grow[i]
            logits[t] = sample(&f.heatmaps, tag, ys[t], xs[t], t, height, width, &heat_s)
            level[i] = t
        n_level = n_grow
