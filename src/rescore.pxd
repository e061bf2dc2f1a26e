# Step 4 of multi-pose decoding, soft keypoint NMS. A keypoint counts towards its
# pose's final score only if no higher-scoring pose has the same keypoint within
# the NMS radius.
from geometry cimport within

# poses: n poses of 17 (y, x, score) triples in cells, listed in acceptance order;
# pose_scores[i] their mean keypoint scores. Writes into rank the indices of the poses
# whose final score is >= threshold, best first, and their final scores into final;
# returns how many. Ties keep acceptance order. order is scratch of n entries.
cdef inline Py_ssize_t rescore(const double* poses, const double* pose_scores, Py_ssize_t n,
                               double stride, double r2, double threshold,
                               Py_ssize_t* order, Py_ssize_t* rank, double* final) noexcept nogil:
    cdef Py_ssize_t i, j, a, b, m, k, kept = 0
    cdef double total, fs
    cdef const double* p
    cdef const double* q
    cdef bint hidden
    # stable insertion sort by pose score, descending
    for i in range(n):
        j = i
        while j > 0 and pose_scores[order[j - 1]] < pose_scores[i]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = i
    for a in range(n):
        p = poses + order[a] * 51
        total = 0.0
        for k in range(17):
            hidden = False
            for b in range(a):
                q = poses + order[b] * 51
                if within(p[3 * k], p[3 * k + 1], q[3 * k], q[3 * k + 1], stride, r2):
                    hidden = True
                    break
            if not hidden:
                total += p[3 * k + 2]
        fs = total / 17.0
        if fs >= threshold:
            # stable insertion into rank by final score, descending
            m = kept
            while m > 0 and final[m - 1] < fs:
                rank[m] = rank[m - 1]
                final[m] = final[m - 1]
                m -= 1
            rank[m] = order[a]
            final[m] = fs
            kept += 1
    return kept
