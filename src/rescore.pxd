# Step 4 of multi-pose decoding, soft keypoint NMS. A keypoint counts towards its
# pose's final score only if no higher-scoring pose has the same keypoint within
# the NMS radius.
from libc.stdint cimport uint32_t
from near_index cimport NearIndex, NearPos, near_reset, near_one_ask_add

# Stable sort of idx[0..n) by key[idx[i]], descending (equal keys keep their order:
# the same permutation a stable insertion sort gives, in O(n log n)); tmp: n entries.
cdef inline void sort_descending(const double* key, Py_ssize_t* idx, Py_ssize_t* tmp,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t width = 1, lo, mid, hi, a, b, o, i
    cdef Py_ssize_t* src = idx
    cdef Py_ssize_t* dst = tmp
    cdef Py_ssize_t* swap
    while width < n:
        lo = 0
        while lo < n:
            mid = lo + width if lo + width < n else n
            hi = lo + 2 * width if lo + 2 * width < n else n
            a, b, o = lo, mid, lo
            while a < mid and b < hi:
                # the right run goes first only when strictly greater: stable
                if key[src[b]] > key[src[a]]:
                    dst[o] = src[b]
                    b += 1
                else:
                    dst[o] = src[a]
                    a += 1
                o += 1
            while a < mid:
                dst[o] = src[a]
                a += 1
                o += 1
            while b < hi:
                dst[o] = src[b]
                b += 1
                o += 1
            lo = hi
        swap = src
        src = dst
        dst = swap
        width *= 2
    if src != idx:
        for i in range(n):
            idx[i] = src[i]

# poses: n poses of 17 (y, x, score) triples in cells, listed in acceptance order;
# pose_scores[i] their mean keypoint scores; ix the index they were added to, in that
# order (its positions are read here, its links rebuilt). Writes into rank the indices
# of the poses whose final score is >= threshold, best first, and their final scores
# into final; returns how many. Ties keep acceptance order. order, tmp and by_pose are
# scratch of n entries.
cdef inline Py_ssize_t rescore(const double* poses, const double* pose_scores, Py_ssize_t n,
                               double threshold, NearIndex* ix, Py_ssize_t* order,
                               Py_ssize_t* tmp, double* by_pose, Py_ssize_t* rank,
                               double* final) noexcept nogil:
    cdef Py_ssize_t i, a, k, kept = 0
    cdef double total, fs
    cdef const double* p
    cdef const NearPos* at
    # bit k of shown[a]: keypoint k of the a-th pose in this order counts (no pose
    # before it has keypoint k within the radius); in tmp, free once sorted
    cdef uint32_t* shown = <uint32_t*>tmp
    for i in range(n):
        order[i] = i
    sort_descending(pose_scores, order, tmp, n)
    for a in range(n):
        shown[a] = 0
    # keypoint by keypoint: one pass reads one keypoint's positions (16 bytes a pose,
    # as the poses' index holds them) and the buckets of one keypoint
    for k in range(17):
        near_reset(ix)
        at = ix.pos + k * ix.cap
        for a in range(n):
            if not near_one_ask_add(ix, at[order[a]].y, at[order[a]].x):
                shown[a] |= (<uint32_t>1) << k
    for a in range(n):
        p = poses + order[a] * 51
        total = 0.0
        for k in range(17):    # in keypoint order, as the sum always was: the same bits
            if shown[a] & ((<uint32_t>1) << k):
                total += p[3 * k + 2]
        fs = total / 17.0
        if fs >= threshold:
            by_pose[order[a]] = fs
            rank[kept] = order[a]
            kept += 1
    # by final score, ties in pose-score order
    sort_descending(by_pose, rank, tmp, kept)
    for i in range(kept):
        final[i] = by_pose[rank[i]]
    return kept
