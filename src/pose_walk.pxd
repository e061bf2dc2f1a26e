# Step 2 of multi-pose decoding, which grows one pose from its root keypoint along the
# skeleton, best-scoring keypoint first.
from libc.math cimport isnan, INFINITY
from tensor cimport Frame, Tensor, raw_t
from geometry cimport Move, Cells, cells_of, locate_move, move_keys, clamp, sample

cdef extern from "skeleton.h":
    ctypedef struct posefast_neighbour:
        int edge, target, forward
    const int* posefast_neighbour_count
    const posefast_neighbour (*posefast_neighbours)[4]

# Fills ys, xs (cells) and logits (17 each) for the pose rooted at keypoint root_k at
# (root_y, root_x). The queue holds at most one entry per keypoint (the skeleton is a
# tree, so each keypoint is reached once); the best logit pops first, NaN counting as
# -inf and ties going to the lower keypoint id.
#
# The refinement steps form one dependent chain per keypoint, so its latency is the
# decoder's cost: the y and x channels share one bilinear footprint whose weights also
# dequantise and turn pixels into cells (see geometry.Move).
cdef inline void walk_pose(const Frame* f, raw_t* tag, int root_k, double root_y,
                           double root_x, int refine_steps, double* ys, double* xs,
                           double* logits) noexcept nogil:
    cdef bint seen[17]
    cdef int queue[17]      # keypoints waiting to be fixed
    cdef int queued = 0
    cdef int grow[4]        # the neighbours being placed, at most 4 (the nose's)
    cdef int n
    cdef Py_ssize_t height = f.height, width = f.width
    cdef double hi_y = height - 1, hi_x = width - 1
    cdef int k, i, s, t, r, edge, pick
    cdef double best, v, dy, dx, ty, tx
    cdef const Tensor* disp
    cdef const posefast_neighbour* nb
    cdef Move move
    cdef Cells off_c, fwd_c, bwd_c
    cdef const Cells* disp_c
    cells_of(&f.offsets, tag, f.stride, &off_c)
    cells_of(&f.fwd, tag, f.stride, &fwd_c)
    cells_of(&f.bwd, tag, f.stride, &bwd_c)
    for k in range(17):
        seen[k] = False
    ys[root_k] = root_y
    xs[root_k] = root_x
    logits[root_k] = sample(&f.heatmaps, tag, root_y, root_x, root_k, height, width)
    seen[root_k] = True
    queue[0] = root_k
    queued = 1
    while queued > 0:
        pick = 0
        best = logits[queue[0]]
        if isnan(best):
            best = -INFINITY
        for i in range(1, queued):
            v = logits[queue[i]]
            if isnan(v):
                v = -INFINITY
            if v > best or (v == best and queue[i] < queue[pick]):
                pick = i
                best = v
        s = queue[pick]
        queued -= 1
        queue[pick] = queue[queued]
        # The neighbours' refinement chains are independent of each other: step them in
        # lockstep so that the CPU overlaps their latencies.
        n = 0
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
            locate_move(disp, ys[s], xs[s], height, width, disp_c, &move)
            ys[t] = clamp((ys[s] - disp_c.shift) + move_keys(disp, tag, &move, edge), hi_y)
            xs[t] = clamp((xs[s] - disp_c.shift) + move_keys(disp, tag, &move, 16 + edge), hi_x)
            seen[t] = True
            grow[n] = t
            n += 1
        if n == 1:
            # the usual case (a limb): one chain, kept in registers
            t = grow[0]
            ty = ys[t]
            tx = xs[t]
            for r in range(refine_steps):
                locate_move(&f.offsets, ty, tx, height, width, &off_c, &move)
                dy = move_keys(&f.offsets, tag, &move, t)
                dx = move_keys(&f.offsets, tag, &move, 17 + t)
                ty = clamp((ty - off_c.shift) + dy, hi_y)
                tx = clamp((tx - off_c.shift) + dx, hi_x)
            ys[t] = ty
            xs[t] = tx
        else:
            for r in range(refine_steps):
                for i in range(n):
                    t = grow[i]
                    locate_move(&f.offsets, ys[t], xs[t], height, width, &off_c, &move)
                    dy = move_keys(&f.offsets, tag, &move, t)
                    dx = move_keys(&f.offsets, tag, &move, 17 + t)
                    ys[t] = clamp((ys[t] - off_c.shift) + dy, hi_y)
                    xs[t] = clamp((xs[t] - off_c.shift) + dx, hi_x)
        for i in range(n):
            t = grow[i]
            logits[t] = sample(&f.heatmaps, tag, ys[t], xs[t], t, height, width)
            queue[queued] = t
            queued += 1
