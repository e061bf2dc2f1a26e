# Multi-pose decoding of one frame, candidates -> pose walks -> soft keypoint NMS.
from libc.stdlib cimport malloc, free
from tensor cimport Frame, raw_t, value_at
from geometry cimport clamp, sigmoid
from candidates cimport (Cand, CandBuf, STACK_CANDS, scan_candidates, heapify, heap_pop,
                         sort_by_key_u8, cand_cell, cand_release)
from pose_walk cimport WalkTables, walk_tables, walk_pose
from rescore cimport rescore
from near_index cimport (NearIndex, near_bytes, near_init, near_free, near_reset, near_add,
                         near_any)

ctypedef struct MultiParams:
    Py_ssize_t max_detections
    double key_threshold    # threshold on raw heatmap keys (see candidates.scan_typed)
    double score_threshold  # on pose scores, 0..1
    double nms_r2           # nms_radius squared, pixels^2
    int refine_steps

# Work space for max_detections poses, allocated once per call and reused per frame.
ctypedef struct MultiWork:
    double* poses           # max_detections * 17 * (y, x, score)
    double* pose_scores     # max_detections
    Py_ssize_t* order       # max_detections
    Py_ssize_t* rank        # max_detections
    Py_ssize_t* tmp         # max_detections
    double* final           # max_detections
    double* by_pose         # max_detections
    NearIndex near          # the poses placed so far, by keypoint position
    # the walk's value tables: the frames of a call share their quantisation, so they
    # are built for the first frame that has a candidate and serve the others
    WalkTables tables
    bint tables_built

cdef inline int work_alloc(MultiWork* w, Py_ssize_t n, Py_ssize_t height, Py_ssize_t width,
                           double stride, double r2) noexcept nogil:
    # one block for the seven arrays (all of 8-byte items) and the index's positions:
    # one malloc per call
    w.tables_built = False
    w.near.head = NULL
    if n < 1:
        n = 1
    w.poses = <double*>malloc(n * (51 + 7) * sizeof(double) + near_bytes(n))
    if w.poses == NULL:
        return -1
    w.pose_scores = w.poses + n * 51
    w.final = w.pose_scores + n
    w.by_pose = w.final + n
    w.order = <Py_ssize_t*>(w.by_pose + n)
    w.rank = w.order + n
    w.tmp = w.rank + n
    near_init(&w.near, <char*>(w.tmp + n), n, height, width, stride, r2)
    return 0

cdef inline void work_free(MultiWork* w) noexcept nogil:
    free(w.poses)
    w.poses = NULL
    near_free(&w.near)

# Decodes one frame. Writes up to max_detections poses, best first, into out_kp
# (n x 17 x (x, y, score), pixels) and out_scores; returns how many, or -1 when out
# of memory.
cdef inline Py_ssize_t decode_multi_frame(const Frame* f, raw_t* tag, const MultiParams* p, MultiWork* w,
                                          float* out_kp, double* out_scores) noexcept nogil:
    cdef Cand local[STACK_CANDS]
    cdef CandBuf buf
    cdef Cand c
    cdef Py_ssize_t sorted_local[STACK_CANDS]
    cdef Py_ssize_t* sorted_orders = NULL    # by_key: the candidates' orders, best first
    cdef bint by_key
    cdef Py_ssize_t n_heap, n_poses = 0, i, j, k, n_final, cy, cx, ck, taken = 0
    cdef double hi_y = f.height - 1, hi_x = f.width - 1, stride = f.stride
    cdef double ry, rx, total
    cdef double ys[17]
    cdef double xs[17]
    cdef double logits[17]
    cdef double* pose
    cdef double score
    buf.items = local
    buf.n = 0
    buf.cap = STACK_CANDS
    buf.owned = False
    if p.max_detections <= 0:
        return 0
    if scan_candidates(&f.heatmaps, tag, f.height, f.width, p.key_threshold, &buf,
                       &by_key) < 0:
        cand_release(&buf)
        return -1
    n_heap = buf.n
    if by_key:
        sorted_orders = sorted_local
        if n_heap > STACK_CANDS:
            sorted_orders = <Py_ssize_t*>malloc(n_heap * sizeof(Py_ssize_t))
        if sorted_orders == NULL:
            by_key = False  # the heap pops the same sequence
        else:
            sort_by_key_u8(buf.items, n_heap, sorted_orders)
    if not by_key:
        heapify(buf.items, n_heap)
    if n_heap > 0 and not w.tables_built:
        walk_tables(f, tag, &w.tables)
        w.tables_built = True
    near_reset(&w.near)
    while n_poses < p.max_detections:
        if by_key:
            if taken == n_heap:
                break
            c.order = sorted_orders[taken]
            taken += 1
        else:
            if n_heap == 0:
                break
            heap_pop(buf.items, &n_heap, &c)
        cand_cell(&c, f.width, &cy, &cx, &ck)
        ry = clamp(cy + value_at(&f.offsets, tag, cy, cx, ck) / stride, hi_y)
        rx = clamp(cx + value_at(&f.offsets, tag, cy, cx, 17 + ck) / stride, hi_x)
        if near_any(&w.near, ck, ry, rx):
            continue
        walk_pose(f, tag, &w.tables, <int>ck, ry, rx, p.refine_steps, ys, xs, logits)
        pose = w.poses + n_poses * 51
        total = 0.0
        for k in range(17):
            pose[3 * k] = ys[k]
            pose[3 * k + 1] = xs[k]
            score = sigmoid(logits[k])
            # a NaN logit (a non-finite value weighed into the sample) scores 0, as in
            # single-pose decoding, instead of taking the whole pose with it
            pose[3 * k + 2] = score if score == score else 0.0
            total += pose[3 * k + 2]
        total = total / 17.0
        if total >= p.score_threshold:
            w.pose_scores[n_poses] = total
            near_add(&w.near, pose)
            n_poses += 1
    cand_release(&buf)
    if sorted_orders != sorted_local:
        free(sorted_orders)
    n_final = rescore(w.poses, w.pose_scores, n_poses, p.score_threshold, &w.near,
                      w.order, w.tmp, w.by_pose, w.rank, w.final)
    for i in range(n_final):
        pose = w.poses + w.rank[i] * 51
        out_scores[i] = w.final[i]
        for k in range(17):
            out_kp[i * 51 + 3 * k] = <float>(pose[3 * k + 1] * stride)
            out_kp[i * 51 + 3 * k + 1] = <float>(pose[3 * k] * stride)
            out_kp[i * 51 + 3 * k + 2] = <float>pose[3 * k + 2]
    return n_final
