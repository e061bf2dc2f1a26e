# Step 2 of multi-pose decoding, which grows one pose from its root keypoint along the
# skeleton.
from libc.stdint cimport uint8_t, int8_t
from tensor cimport Frame, Tensor, raw_t, load

cdef extern from "pairs.h":
    ctypedef struct posefast_pair:
        pass
    posefast_pair posefast_pair_make(double lo, double hi) noexcept nogil
    double posefast_pair_lo(posefast_pair a) noexcept nogil
    double posefast_pair_hi(posefast_pair a) noexcept nogil
    int posefast_pair_floor(posefast_pair p, int* y0, int* x0, posefast_pair* frac) noexcept nogil
    posefast_pair posefast_pair_bilinear(posefast_pair a, posefast_pair b, posefast_pair c,
                                         posefast_pair d, posefast_pair frac) noexcept nogil
    posefast_pair posefast_pair_bilinear_edge(posefast_pair a, posefast_pair b, posefast_pair c,
                                              posefast_pair d, posefast_pair frac) noexcept nogil
    posefast_pair posefast_pair_scale(posefast_pair a, double factor) noexcept nogil
    posefast_pair posefast_pair_step(posefast_pair p, posefast_pair s, posefast_pair hi) noexcept nogil
    double posefast_pair_mix(double a, double b, double c, double d, posefast_pair frac) noexcept nogil
    double posefast_pair_mix_edge(double a, double b, double c, double d, posefast_pair frac) noexcept nogil

cdef extern from "skeleton.h":
    ctypedef struct posefast_neighbour:
        int edge, target, forward
    const int* posefast_neighbour_count
    const posefast_neighbour (*posefast_neighbours)[4]

# For 8-bit tensors, every stored byte's value ((key - zero_point) * scale, and for the
# vectors / stride: in grid cells), looked up by the byte read as unsigned: one load
# instead of a conversion, a subtraction and a multiplication per key. Built once per
# call, for its first frame with a candidate (768 values, about a third of one walk's
# cost; multi.MultiWork keeps them); fwd and bwd, usually views of one tensor, share
# theirs when their quantisation is the same.
ctypedef struct WalkTables:
    double heatmaps[256]
    double offsets[256]
    double fwd[256]
    double bwd_own[256]
    const double* bwd       # bwd_own, or fwd when they are the same

cdef inline void fill_table(const Tensor* t, raw_t* tag, double divisor, double* table) noexcept nogil:
    cdef int b
    cdef double factor = t.scale / divisor
    for b in range(256):
        if raw_t is int8_t:
            table[b] = (<double>(<int8_t>b) - t.zero_point) * factor
        else:
            table[b] = (<double>b - t.zero_point) * factor

cdef inline void walk_tables(const Frame* f, raw_t* tag, WalkTables* tb) noexcept nogil:
    if raw_t is uint8_t or raw_t is int8_t:
        fill_table(&f.heatmaps, tag, 1.0, tb.heatmaps)
        fill_table(&f.offsets, tag, f.stride, tb.offsets)
        fill_table(&f.fwd, tag, f.stride, tb.fwd)
        if f.bwd.scale == f.fwd.scale and f.bwd.zero_point == f.fwd.zero_point:
            tb.bwd = tb.fwd
        else:
            fill_table(&f.bwd, tag, f.stride, tb.bwd_own)
            tb.bwd = tb.bwd_own

# The key at p as a value: through the table for 8-bit tensors, as stored otherwise
# (the caller scales).
cdef inline double value(const char* p, raw_t* tag, const double* table) noexcept nogil:
    if raw_t is uint8_t or raw_t is int8_t:
        return table[(<const uint8_t*>p)[0]]
    else:
        return load(p, tag)

# The bilinear footprint of a clamped position (cells, (y, x)) in t: the address of its
# top-left key in channel c, the steps to the lower and right neighbours, and the
# fractions; returns whether both fractions are > 0. A step is 0 where its fraction is
# 0 (pairs.h: a corner of weight 0 must not count, so that a NaN or inf there cannot
# spoil the sample; the caller then mixes with the _edge functions); that covers the
# last row and column too, where a clamped position has fraction 0.
cdef inline bint footprint(const Tensor* t, Py_ssize_t c, posefast_pair pos,
                           const char** p, Py_ssize_t* down, Py_ssize_t* right,
                           posefast_pair* frac) noexcept nogil:
    cdef int y0, x0
    cdef int nonzero = posefast_pair_floor(pos, &y0, &x0, frac)
    down[0] = t.sy if nonzero & 1 else 0
    right[0] = t.sx if nonzero & 2 else 0
    p[0] = t.data + y0 * t.sy + x0 * t.sx + c * t.sc
    return nonzero == 3

# One move of a clamped position pos by the bilinear sample of channels c (dy) and
# c + c_half (dx) of t at pos, scaled by factor (1 for 8-bit tensors, whose tables are
# in cells already); the result is clamped to [0, hi].
cdef inline posefast_pair move(const Tensor* t, raw_t* tag, const double* table,
                               double factor, Py_ssize_t c, Py_ssize_t c_half,
                               posefast_pair pos, posefast_pair hi) noexcept nogil:
    cdef Py_ssize_t down, right
    cdef posefast_pair frac, a, b, cc, d, s
    cdef const char* p
    cdef bint inside = footprint(t, c, pos, &p, &down, &right, &frac)
    cdef Py_ssize_t dx = c_half * t.sc
    a = posefast_pair_make(value(p, tag, table), value(p + dx, tag, table))
    b = posefast_pair_make(value(p + right, tag, table), value(p + right + dx, tag, table))
    cc = posefast_pair_make(value(p + down, tag, table), value(p + down + dx, tag, table))
    d = posefast_pair_make(value(p + down + right, tag, table),
                           value(p + down + right + dx, tag, table))
    if inside:
        s = posefast_pair_bilinear(a, b, cc, d, frac)
    else:
        s = posefast_pair_bilinear_edge(a, b, cc, d, frac)
    if not (raw_t is uint8_t or raw_t is int8_t):
        s = posefast_pair_scale(s, factor)
    return posefast_pair_step(pos, s, hi)

# The logit of keypoint c at a clamped position.
cdef inline double logit_at(const Tensor* hm, raw_t* tag, const double* table, Py_ssize_t c,
                            posefast_pair pos) noexcept nogil:
    cdef Py_ssize_t down, right
    cdef posefast_pair frac
    cdef const char* p
    cdef double a, b, cc, d
    cdef bint inside = footprint(hm, c, pos, &p, &down, &right, &frac)
    a = value(p, tag, table)
    b = value(p + right, tag, table)
    cc = value(p + down, tag, table)
    d = value(p + down + right, tag, table)
    if inside:
        return posefast_pair_mix(a, b, cc, d, frac)
    return posefast_pair_mix_edge(a, b, cc, d, frac)

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
# keypoint at a time would wait out every step. Each step moves y and x together as
# one pair (pairs.h).
cdef inline void walk_pose(const Frame* f, raw_t* tag, const WalkTables* tb, int root_k,
                           double root_y, double root_x, int refine_steps, double* ys,
                           double* xs, double* logits) noexcept nogil:
    cdef bint seen[17]
    cdef int level[17]      # keypoints placed in the previous level
    cdef int grow[17]       # keypoints being placed in this level
    cdef posefast_pair pos[17]
    cdef int n_level, n_grow
    cdef Py_ssize_t height = f.height, width = f.width
    cdef posefast_pair hi = posefast_pair_make(height - 1, width - 1)
    cdef int k, i, j, s, t, r
    cdef const posefast_neighbour* nb
    cdef double factor = 1.0 / f.stride      # pixels -> cells, for other than 8-bit keys
    for k in range(17):
        seen[k] = False
    ys[root_k] = root_y
    xs[root_k] = root_x
    pos[root_k] = posefast_pair_make(root_y, root_x)
    logits[root_k] = logit_at(&f.heatmaps, tag, tb.heatmaps, root_k, pos[root_k])
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
                if nb.forward:
                    pos[t] = move(&f.fwd, tag, tb.fwd, factor, nb.edge, 16, pos[s], hi)
                else:
                    pos[t] = move(&f.bwd, tag, tb.bwd, factor, nb.edge, 16, pos[s], hi)
                seen[t] = True
                grow[n_grow] = t
                n_grow += 1
        for r in range(refine_steps):
            for i in range(n_grow):
                t = grow[i]
                pos[t] = move(&f.offsets, tag, tb.offsets, factor, t, 17, pos[t], hi)
        for i in range(n_grow):
            t = grow[i]
            ys[t] = posefast_pair_lo(pos[t])
            xs[t] = posefast_pair_hi(pos[t])
            logits[t] = logit_at(&f.heatmaps, tag, tb.heatmaps, t, pos[t])
            level[i] = t
        n_level = n_grow
