# Step 1 of multi-pose decoding, the candidate roots (local maxima of each keypoint's
# heatmap at or above the threshold) and the max-heap they are taken from.
from libc.stdint cimport uint8_t, int8_t, uint16_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy
from tensor cimport Tensor, posefast_half_to_float, DT_U8, DT_I8, DT_F16, DT_F32

ctypedef struct Cand:
    double score            # the logit at the cell
    Py_ssize_t order        # (y * W + x) * 17 + k: breaks score ties, scan order first
    int y, x, k

cdef enum:
    STACK_CANDS = 256       # candidates held on the stack before the buffer moves to the heap

ctypedef struct CandBuf:
    Cand* items
    Py_ssize_t n, cap
    bint owned              # items was malloc'd (it starts on the caller's stack)

ctypedef fused raw_t:
    uint8_t
    int8_t
    uint16_t                # float16 bits
    float
    double

cdef inline double key_of(raw_t v) noexcept nogil:
    if raw_t is uint16_t:
        return posefast_half_to_float(v)
    else:
        return <double>v

cdef inline int cand_push(CandBuf* buf, double score, Py_ssize_t order, int y, int x, int k) noexcept nogil:
    cdef Cand* grown
    if buf.n == buf.cap:
        if buf.owned:
            grown = <Cand*>realloc(buf.items, 2 * buf.cap * sizeof(Cand))
        else:
            grown = <Cand*>malloc(2 * buf.cap * sizeof(Cand))
            if grown != NULL:
                memcpy(grown, buf.items, buf.n * sizeof(Cand))
        if grown == NULL:
            return -1
        buf.items = grown
        buf.cap *= 2
        buf.owned = True
    buf.items[buf.n].score = score
    buf.items[buf.n].order = order
    buf.items[buf.n].y = y
    buf.items[buf.n].x = x
    buf.items[buf.n].k = k
    buf.n += 1
    return 0

cdef inline void cand_release(CandBuf* buf) noexcept nogil:
    if buf.owned:
        free(buf.items)
        buf.owned = False

# Scan the heatmap of one frame with its element type known at compile time.
# Comparisons are made on raw keys (integers for quantised input): for scale > 0
# they order as the logits do, and key_thr is the smallest key whose logit
# reaches the threshold. A neighbour that is NaN never suppresses a cell.
cdef inline int scan_typed(const raw_t* data, const Tensor* hm, Py_ssize_t height,
                           Py_ssize_t width, double key_thr, CandBuf* buf) noexcept nogil:
    cdef const char* base = <const char*>data
    cdef const char* cell
    cdef Py_ssize_t sy = hm.sy, sx = hm.sx, sc = hm.sc
    cdef Py_ssize_t y, x, k, yy, xx, ylo, yhi, xlo, xhi
    cdef double v
    cdef bint is_max
    for y in range(height):
        ylo = y - 1 if y > 0 else 0
        yhi = y + 2 if y + 2 <= height else height
        for x in range(width):
            cell = base + y * sy + x * sx
            for k in range(17):
                v = key_of((<const raw_t*>(cell + k * sc))[0])
                if not (v >= key_thr):
                    continue
                xlo = x - 1 if x > 0 else 0
                xhi = x + 2 if x + 2 <= width else width
                is_max = True
                for yy in range(ylo, yhi):
                    for xx in range(xlo, xhi):
                        if key_of((<const raw_t*>(base + yy * sy + xx * sx + k * sc))[0]) > v:
                            is_max = False
                            break
                    if not is_max:
                        break
                if is_max:
                    if cand_push(buf, (v - hm.zero_point) * hm.scale,
                                 (y * width + x) * 17 + k, <int>y, <int>x, <int>k) < 0:
                        return -1
    return 0

cdef inline int scan_candidates(const Tensor* hm, Py_ssize_t height, Py_ssize_t width,
                                double key_thr, CandBuf* buf) noexcept nogil:
    if hm.dtype == DT_U8:
        return scan_typed(<const uint8_t*>hm.data, hm, height, width, key_thr, buf)
    elif hm.dtype == DT_I8:
        return scan_typed(<const int8_t*>hm.data, hm, height, width, key_thr, buf)
    elif hm.dtype == DT_F16:
        return scan_typed(<const uint16_t*>hm.data, hm, height, width, key_thr, buf)
    elif hm.dtype == DT_F32:
        return scan_typed(<const float*>hm.data, hm, height, width, key_thr, buf)
    else:
        return scan_typed(<const double*>hm.data, hm, height, width, key_thr, buf)

# Max-heap by (score desc, order asc): equal logits come out in scan order.
cdef inline bint cand_before(const Cand* a, const Cand* b) noexcept nogil:
    return a.score > b.score or (a.score == b.score and a.order < b.order)

cdef inline void sift_down(Cand* h, Py_ssize_t n, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t best, left, right
    cdef Cand tmp
    while True:
        best = i
        left = 2 * i + 1
        right = left + 1
        if left < n and cand_before(&h[left], &h[best]):
            best = left
        if right < n and cand_before(&h[right], &h[best]):
            best = right
        if best == i:
            return
        tmp = h[i]
        h[i] = h[best]
        h[best] = tmp
        i = best

cdef inline void heapify(Cand* h, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i = n // 2 - 1
    while i >= 0:
        sift_down(h, n, i)
        i -= 1

# Remove the best candidate into *out; the heap shrinks by one.
cdef inline void heap_pop(Cand* h, Py_ssize_t* n, Cand* out) noexcept nogil:
    out[0] = h[0]
    n[0] -= 1
    if n[0] > 0:
        h[0] = h[n[0]]
        sift_down(h, n[0], 0)
