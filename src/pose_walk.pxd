# Step 2 of multi-pose decoding, which grows one pose from its root keypoint along the
# skeleton, best-scoring keypoint first.
from libc.math cimport isnan, INFINITY
from tensor cimport Frame, Tensor
from geometry cimport clamp, sample

cdef extern from "skeleton.h":
    int POSEFAST_NUM_EDGES
    const int* posefast_edge_parent
    const int* posefast_edge_child

# Fills ys, xs (cells) and logits (17 each) for the pose rooted at keypoint root_k at
# (root_y, root_x). The queue holds at most one entry per keypoint (the skeleton is a
# tree, so each keypoint is reached once); the best logit pops first, NaN counting as
# -inf and ties going to the lower keypoint id.
cdef inline void walk_pose(const Frame* f, int root_k, double root_y, double root_x,
                           int refine_steps, double* ys, double* xs, double* logits) noexcept nogil:
    cdef int state[17]      # 0 unseen, 1 queued, 2 decoded
    cdef Py_ssize_t height = f.height, width = f.width
    cdef double hi_y = height - 1, hi_x = width - 1, stride = f.stride
    cdef int k, s, t, r, edge, step
    cdef double best, v, ty, tx
    cdef const Tensor* disp
    for k in range(17):
        state[k] = 0
    ys[root_k] = root_y
    xs[root_k] = root_x
    logits[root_k] = sample(&f.heatmaps, root_y, root_x, root_k, height, width)
    state[root_k] = 1
    for step in range(17):
        s = -1
        best = -INFINITY
        for k in range(17):
            if state[k] == 1:
                v = logits[k]
                if isnan(v):
                    v = -INFINITY
                if s < 0 or v > best:
                    s = k
                    best = v
        if s < 0:
            break
        state[s] = 2
        for edge in range(16):
            if posefast_edge_parent[edge] == s:
                t = posefast_edge_child[edge]
                disp = &f.fwd
            elif posefast_edge_child[edge] == s:
                t = posefast_edge_parent[edge]
                disp = &f.bwd
            else:
                continue
            if state[t] != 0:
                continue
            ty = clamp(ys[s] + sample(disp, ys[s], xs[s], edge, height, width) / stride, hi_y)
            tx = clamp(xs[s] + sample(disp, ys[s], xs[s], 16 + edge, height, width) / stride, hi_x)
            for r in range(refine_steps):
                v = sample(&f.offsets, ty, tx, t, height, width)
                tx = clamp(tx + sample(&f.offsets, ty, tx, 17 + t, height, width) / stride, hi_x)
                ty = clamp(ty + v / stride, hi_y)
            ys[t] = ty
            xs[t] = tx
            logits[t] = sample(&f.heatmaps, ty, tx, t, height, width)
            state[t] = 1
