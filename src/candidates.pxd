# Step 1 of multi-pose decoding, the candidate roots (local maxima of each keypoint's
# heatmap at or above the threshold) and the max-heap they are taken from.
from libc.stdint cimport uint8_t, int8_t, int16_t, uint16_t, uint32_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy
from tensor cimport Tensor, raw_t, load

cdef extern from "dense_scan.h":
    uint32_t posefast_mask32_u8(const uint8_t* p, uint8_t thr) noexcept nogil
    uint32_t posefast_mask32_i8(const int8_t* p, int8_t thr) noexcept nogil
    uint32_t posefast_mask32_f32(const float* p, float thr) noexcept nogil
    uint32_t posefast_mask32_f64(const double* p, double thr) noexcept nogil
    int posefast_lowest_bit(uint32_t m) noexcept nogil
    int posefast_highest_bit(uint32_t m) noexcept nogil
    uint32_t posefast_run_maxima_u8(const uint8_t* p, Py_ssize_t sy, uint8_t thr) noexcept nogil
    uint32_t posefast_cell_above_u8(const uint8_t* p, uint8_t thr) noexcept nogil
    bint posefast_any_above_u8(const uint8_t* p, Py_ssize_t n, uint8_t thr) noexcept nogil
    bint posefast_any_above_f32(const float* p, Py_ssize_t n, float thr) noexcept nogil
    bint posefast_any32_f32(const float* p, float thr) noexcept nogil
    uint32_t posefast_cell_above_f32(const float* p, float thr) noexcept nogil
    uint32_t posefast_run_maxima_f32(const float* p, Py_ssize_t sy, float thr) noexcept nogil
    float posefast_float_at_least(double t) noexcept nogil
    bint posefast_f16_threshold(double key_thr, int16_t* t) noexcept nogil
    uint32_t posefast_cell_above_f16(const uint16_t* p, int16_t t) noexcept nogil
    uint32_t posefast_mask32_f16(const uint16_t* p, int16_t t) noexcept nogil

# 16 bytes: the heap of a 46x81 grid at threshold 0 holds 16,000 of them, and heapify
# and each pop move them around (the cell and keypoint are worked out of order for
# the few popped: cand_cell)
ctypedef struct Cand:
    double score            # the logit at the cell
    Py_ssize_t order        # (y * W + x) * 17 + k: breaks score ties, scan order first

cdef enum:
    STACK_CANDS = 256       # candidates held on the stack before the buffer moves to the heap

ctypedef struct CandBuf:
    Cand* items
    Py_ssize_t n, cap
    bint owned              # items was malloc'd (it starts on the caller's stack)

cdef inline int cand_push(CandBuf* buf, double score, Py_ssize_t order) noexcept nogil:
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
    buf.n += 1
    return 0

# The cell (y, x) and keypoint k of a candidate of a grid width cells wide.
cdef inline void cand_cell(const Cand* c, Py_ssize_t width, Py_ssize_t* y, Py_ssize_t* x,
                           Py_ssize_t* k) noexcept nogil:
    cdef Py_ssize_t cell = c.order // 17
    k[0] = c.order - 17 * cell
    y[0] = cell // width
    x[0] = cell - y[0] * width

cdef inline void cand_release(CandBuf* buf) noexcept nogil:
    if buf.owned:
        free(buf.items)
        buf.owned = False

# Comparisons are made on raw stored values ("keys": integers for quantised input): for
# scale > 0 they order as the logits do. A neighbour that is NaN never suppresses a cell.
cdef inline bint local_max(const Tensor* hm, raw_t* tag, Py_ssize_t y, Py_ssize_t x,
                           Py_ssize_t k, double v, Py_ssize_t height, Py_ssize_t width) noexcept nogil:
    cdef Py_ssize_t yy, xx
    cdef const char* p
    cdef double m, a
    if 0 < y < height - 1 and 0 < x < width - 1:
        # all 8 neighbours there: their maximum without a branch per neighbour (a NaN
        # one loses every comparison, so it never counts)
        p = hm.data + y * hm.sy + x * hm.sx + k * hm.sc
        m = v
        a = load(p - hm.sy - hm.sx, tag)
        m = a if a > m else m
        a = load(p - hm.sy, tag)
        m = a if a > m else m
        a = load(p - hm.sy + hm.sx, tag)
        m = a if a > m else m
        a = load(p - hm.sx, tag)
        m = a if a > m else m
        a = load(p + hm.sx, tag)
        m = a if a > m else m
        a = load(p + hm.sy - hm.sx, tag)
        m = a if a > m else m
        a = load(p + hm.sy, tag)
        m = a if a > m else m
        a = load(p + hm.sy + hm.sx, tag)
        m = a if a > m else m
        return m == v
    cdef Py_ssize_t ylo = y - 1 if y > 0 else 0
    cdef Py_ssize_t yhi = y + 2 if y + 2 <= height else height
    cdef Py_ssize_t xlo = x - 1 if x > 0 else 0
    cdef Py_ssize_t xhi = x + 2 if x + 2 <= width else width
    cdef const char* base = hm.data + k * hm.sc
    for yy in range(ylo, yhi):
        for xx in range(xlo, xhi):
            if load(base + yy * hm.sy + xx * hm.sx, tag) > v:
                return False
    return True

cdef inline int consider(CandBuf* buf, const Tensor* hm, raw_t* tag, Py_ssize_t y,
                         Py_ssize_t x, Py_ssize_t k, Py_ssize_t height, Py_ssize_t width) noexcept nogil:
    return consider_as(buf, hm, tag, y, x, k, height, width, False)

# consider(), the score being the key itself where raw (scan_hwc_u8's candidates).
cdef inline int consider_as(CandBuf* buf, const Tensor* hm, raw_t* tag, Py_ssize_t y,
                            Py_ssize_t x, Py_ssize_t k, Py_ssize_t height, Py_ssize_t width,
                            bint raw) noexcept nogil:
    cdef double v = load(hm.data + y * hm.sy + x * hm.sx + k * hm.sc, tag)
    if not local_max(hm, tag, y, x, k, v, height, width):
        return 0
    return cand_push(buf, v if raw else (v - hm.zero_point) * hm.scale,
                     (y * width + x) * 17 + k)

# consider_as() for each key of the cell (y, x) whose bit is set in `above` (its keys
# >= the threshold): the scans' cells whose keys were tested at once (border cells,
# cells that are not contiguous, float16 cells).
cdef inline int consider_cell(CandBuf* buf, const Tensor* hm, raw_t* tag, uint32_t above,
                              Py_ssize_t y, Py_ssize_t x, Py_ssize_t height,
                              Py_ssize_t width, bint raw) noexcept nogil:
    cdef Py_ssize_t k
    while above:
        k = posefast_lowest_bit(above)
        above &= above - 1
        if consider_as(buf, hm, tag, y, x, k, height, width, raw) < 0:
            return -1
    return 0

# Bit j set where key j of the 32 at p is >= thr (thr already in the keys' type, see
# key_in_type: for float16 keys an order of their bits).
cdef inline uint32_t mask32(const char* p, raw_t* tag, raw_t thr) noexcept nogil:
    if raw_t is uint8_t:
        return posefast_mask32_u8(<const uint8_t*>p, thr)
    elif raw_t is int8_t:
        return posefast_mask32_i8(<const int8_t*>p, thr)
    elif raw_t is float:
        return posefast_mask32_f32(<const float*>p, thr)
    elif raw_t is uint16_t:
        return posefast_mask32_f16(<const uint16_t*>p, <int16_t>thr)
    else:
        return posefast_mask32_f64(<const double*>p, thr)

# Bit k set where key k of the 17 contiguous keys of the cell at p is >= thr (as mask32).
cdef inline uint32_t cell_mask(const char* p, raw_t* tag, raw_t thr) noexcept nogil:
    cdef uint32_t m = 0
    cdef int k
    if raw_t is uint8_t:
        return posefast_cell_above_u8(<const uint8_t*>p, thr)
    elif raw_t is float:
        return posefast_cell_above_f32(<const float*>p, thr)
    elif raw_t is uint16_t:
        return posefast_cell_above_f16(<const uint16_t*>p, <int16_t>thr)
    else:
        for k in range(17):
            if (<const raw_t*>p)[k] >= thr:
                m |= (<uint32_t>1) << k
        return m

# Calls consider() for every key >= thr in the run of n keys at p: one HWC row y0
# (channels = 17: key i is cell i // 17, keypoint i % 17) or rows of keypoint k0's CHW
# plane from row y0 (channels = 1: key i is cell (y0 + i // width, i % width)).
cdef inline int scan_run(CandBuf* buf, const Tensor* hm, raw_t* tag, const char* p,
                         Py_ssize_t n, raw_t thr, Py_ssize_t y0, Py_ssize_t k0,
                         Py_ssize_t channels, Py_ssize_t height, Py_ssize_t width) noexcept nogil:
    cdef Py_ssize_t b, i
    cdef int r
    cdef uint32_t m
    cdef raw_t tail[32]
    cdef int j
    b = 0
    while b < n:
        if b + 32 <= n:
            m = mask32(p + b * sizeof(raw_t), tag, thr)
        else:  # the last, partial block: copy it so no read goes past the run
            for j in range(32):
                tail[j] = (<const raw_t*>p)[b + j] if b + j < n else thr
            m = mask32(<const char*>tail, tag, thr) & ((<uint32_t>1 << (n - b)) - 1)
        while m:
            i = b + posefast_lowest_bit(m)
            m &= m - 1
            if channels == 17:  # a row of HWC cells: y is y0 (divisions by constants are cheap)
                r = consider(buf, hm, tag, y0, i // 17, k0 + i % 17, height, width)
            else:               # runs of a CHW plane
                r = consider(buf, hm, tag, y0 + i // width, i % width, k0, height, width)
            if r < 0:
                return -1
        b += 32
    return 0

# The candidates among a run of interior keys of a HWC row whose cells are contiguous,
# from posefast_run_maxima_*'s bits (key b the lowest): scored by their keys where raw
# (float32 keys are logits; uint8 ones order as their logits do, see keys_keep_order),
# by their logits otherwise.
cdef inline int push_run(CandBuf* buf, const Tensor* hm, const raw_t* row, uint32_t bits,
                         Py_ssize_t b, Py_ssize_t y, Py_ssize_t width, bint raw) noexcept nogil:
    cdef Py_ssize_t i, x, k
    while bits:
        i = b + posefast_lowest_bit(bits)
        bits &= bits - 1
        x = i // 17
        k = i - 17 * x
        if cand_push(buf, row[i] if raw else (row[i] - hm.zero_point) * hm.scale,
                     (y * width + x) * 17 + k) < 0:
            return -1
    return 0

# Candidates of a HWC uint8 heatmap whose cells are contiguous (17 bytes apart; rows
# sy bytes apart). A row without any key >= thr is passed over after one branch-free
# pass (posefast_any_above_u8). In the others, the keys of the cells that have all 8
# neighbours are taken 16 at a time, whatever cell they belong to
# (posefast_run_maxima_u8: one test where nobody is, one vector comparison with the 8
# neighbours where somebody is); the border cells by 17-key masks. The candidates come out
# in scan order (ascending Cand.order), which sort_by_key_u8 relies on. raw: each
# candidate's score is its key rather than its logit (the same order: see
# keys_keep_order).
cdef inline int scan_hwc_u8(CandBuf* buf, const Tensor* hm, uint8_t thr,
                            Py_ssize_t height, Py_ssize_t width, bint raw) noexcept nogil:
    cdef Py_ssize_t y, x, n = width * 17, b, start
    cdef Py_ssize_t end = n - 17     # interior keys: [17, n - 17)
    cdef const uint8_t* row
    cdef uint32_t bits
    cdef uint8_t* tag = NULL
    for y in range(height):
        row = <const uint8_t*>(hm.data + y * hm.sy)
        if not posefast_any_above_u8(row, n, thr):
            continue
        if y == 0 or y == height - 1 or width < 3:
            for x in range(width):
                if consider_cell(buf, hm, tag, posefast_cell_above_u8(row + x * 17, thr),
                                 y, x, height, width, raw) < 0:
                    return -1
            continue
        if consider_cell(buf, hm, tag, posefast_cell_above_u8(row, thr),
                         y, 0, height, width, raw) < 0:
            return -1
        b = 17
        while b < end:
            # the last run of a row overlaps the one before, whose keys it leaves out
            start = b if b + 16 <= end else end - 16
            bits = posefast_run_maxima_u8(row + start, hm.sy, thr) >> (b - start)
            if push_run(buf, hm, row, bits, b, y, width, raw) < 0:
                return -1
            b += 16
        if consider_cell(buf, hm, tag, posefast_cell_above_u8(row + end, thr),
                         y, width - 1, height, width, raw) < 0:
            return -1
    return 0

# scan_hwc_u8 for float32 keys. The interior keys of a row are taken 32 at a time: a run
# of 32 where nobody is passed over after one test (posefast_any32_f32), the others 8
# at a time (posefast_run_maxima_f32). The border cells go by 17-key masks, and
# the first and last rows only where one running maximum finds a key >= thr. (A
# running maximum over every row first, as for uint8, cost more than it saved where
# people are: at threshold 0.2 on couple.jpg 20 of 31 rows have keys above it. 32-key
# masks plus a scalar neighbour test per key above the threshold took 2.5x as long.)
cdef inline int scan_hwc_f32(CandBuf* buf, const Tensor* hm, float thr,
                             Py_ssize_t height, Py_ssize_t width) noexcept nogil:
    cdef Py_ssize_t y, x, n = width * 17, b, start, j
    cdef Py_ssize_t end = n - 17     # interior keys: [17, n - 17)
    cdef const float* row
    cdef uint32_t bits
    cdef float* tag = NULL
    for y in range(height):
        row = <const float*>(hm.data + y * hm.sy)
        if y == 0 or y == height - 1 or width < 3:
            if not posefast_any_above_f32(row, n, thr):
                continue
            for x in range(width):
                if consider_cell(buf, hm, tag, posefast_cell_above_f32(row + x * 17, thr),
                                 y, x, height, width, False) < 0:
                    return -1
            continue
        if consider_cell(buf, hm, tag, posefast_cell_above_f32(row, thr),
                         y, 0, height, width, False) < 0:
            return -1
        b = 17
        while b + 32 <= end:
            if posefast_any32_f32(row + b, thr):
                for j in range(b, b + 32, 8):
                    if push_run(buf, hm, row, posefast_run_maxima_f32(row + j, hm.sy, thr),
                                j, y, width, True) < 0:
                        return -1
            b += 32
        while b < end:
            # the last run of a row overlaps the one before, whose keys it leaves out
            start = b if b + 8 <= end else end - 8
            bits = posefast_run_maxima_f32(row + start, hm.sy, thr) >> (b - start)
            if push_run(buf, hm, row, bits, b, y, width, True) < 0:
                return -1
            b += 8
        if consider_cell(buf, hm, tag, posefast_cell_above_f32(row + end, thr),
                         y, width - 1, height, width, False) < 0:
            return -1
    return 0

# thr as a key of the tensor's type, such that key >= thr exactly when the key's logit
# reaches the threshold; False when no key can.
cdef inline bint key_in_type(double key_thr, raw_t* tag, raw_t* thr) noexcept nogil:
    cdef int16_t t16
    if raw_t is uint8_t:
        if key_thr > 255.0:
            return False
        thr[0] = <uint8_t>key_thr
    elif raw_t is int8_t:
        if key_thr > 127.0:
            return False
        thr[0] = <int8_t>key_thr
    elif raw_t is float:
        thr[0] = posefast_float_at_least(key_thr)
    elif raw_t is double:
        thr[0] = key_thr
    else:
        # float16: the order of half bits (dense_scan.h) from which keys pass, compared
        # without converting them
        if not posefast_f16_threshold(key_thr, &t16):
            return False
        thr[0] = <uint16_t>t16
    return True

# Whether the logits (key - zero_point) * scale of all 256 uint8 keys are finite, and
# so strictly increasing with the key (scale > 0 and finite; a product of an integer
# and a double only rounds to a neighbour's when it overflows): candidates may then be
# ordered by their keys.
cdef inline bint keys_keep_order(const Tensor* hm) noexcept nogil:
    cdef double lo = (0.0 - hm.zero_point) * hm.scale, hi = (255.0 - hm.zero_point) * hm.scale
    return lo - lo == 0.0 and hi - hi == 0.0

# Every candidate of one frame into buf. key_thr is the smallest key whose logit
# reaches the threshold. *by_key is set when the candidates' scores are their uint8 keys
# and they are in scan order: sort_by_key_u8 can then order them (otherwise the heap).
cdef inline int scan_candidates(const Tensor* hm, raw_t* tag, Py_ssize_t height,
                                Py_ssize_t width, double key_thr, CandBuf* buf,
                                bint* by_key) noexcept nogil:
    cdef Py_ssize_t item = sizeof(raw_t)
    cdef Py_ssize_t y, x, k, rows
    cdef const char* cell
    cdef raw_t thr
    cdef uint32_t above
    by_key[0] = False
    if not key_in_type(key_thr, tag, &thr):
        return 0
    if raw_t is uint8_t and hm.sc == 1 and hm.sx == 17:
        by_key[0] = keys_keep_order(hm)
        return scan_hwc_u8(buf, hm, thr, height, width, by_key[0])
    if raw_t is float and hm.sc == 4 and hm.sx == 68 and width >= 3 and hm.sy % 4 == 0:
        return scan_hwc_f32(buf, hm, thr, height, width)
    if hm.sc == item and hm.sx == 17 * item:
        # HWC, cells contiguous: each row is one run of width * 17 keys
        for y in range(height):
            if scan_run(buf, hm, tag, hm.data + y * hm.sy, width * 17, thr, y, 0, 17,
                        height, width) < 0:
                return -1
        return 0
    if hm.sx == item:
        # CHW: each keypoint's plane is one run, or one run per row
        rows = height if (hm.sy == width * item or height == 1) else 1
        for k in range(17):
            y = 0
            while y < height:
                if scan_run(buf, hm, tag, hm.data + k * hm.sc + y * hm.sy, rows * width,
                            thr, y, k, 1, height, width) < 0:
                    return -1
                y += rows
        return 0
    if hm.sc == item:
        # HWC whose cells are not contiguous (a view of a tensor with more channels):
        # each cell's 17 keys at once, as the dense scans do for border cells
        for y in range(height):
            for x in range(width):
                above = cell_mask(hm.data + y * hm.sy + x * hm.sx, tag, thr)
                if consider_cell(buf, hm, tag, above, y, x, height, width, False) < 0:
                    return -1
        return 0
    for y in range(height):
        for x in range(width):
            cell = hm.data + y * hm.sy + x * hm.sx
            for k in range(17):
                if load(cell + k * hm.sc, tag) >= key_thr:
                    if consider(buf, hm, tag, y, x, k, height, width) < 0:
                        return -1
    return 0

# Max-heap by (score desc, order asc): equal logits come out in scan order. Orders are
# unique, so this is a strict total order and the pops come in the same sequence
# whatever the heap's inner arrangement.
# (Bitwise operators rather than `or`/`and`: no branch per comparison, whose outcome
# is a coin toss in the heap's lower levels.)
cdef inline bint cand_before(const Cand* a, const Cand* b) noexcept nogil:
    return (a.score > b.score) | ((a.score == b.score) & (a.order < b.order))

# Moves h[i] down to its place below: the better child moves up into the hole until
# the item is before both children (one copy per level rather than a swap).
cdef inline void sift_down(Cand* h, Py_ssize_t n, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t child, right
    cdef Cand item = h[i]
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        right = child + 1
        if right < n:
            child += cand_before(&h[right], &h[child])
        if not cand_before(&h[child], &item):
            break
        h[i] = h[child]
        i = child
    h[i] = item

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

# The orders of n candidates from scan_hwc_u8 (raw keys, in scan order) into out, best
# first: by key descending, equal keys in scan order (a stable counting sort), the
# sequence the heap would pop them in. O(n + 256) where the heap took O(n) to build and
# O(log n) per pop: with 16,000 candidates and 1,700 pops, a third of the frame's
# time outside the walks.
cdef inline void sort_by_key_u8(const Cand* items, Py_ssize_t n, Py_ssize_t* out) noexcept nogil:
    cdef Py_ssize_t start[256]
    cdef Py_ssize_t i, s = 0, c
    cdef int b
    for b in range(256):
        start[b] = 0
    for i in range(n):
        start[<int>items[i].score] += 1
    b = 255
    while b >= 0:
        c = start[b]
        start[b] = s
        s += c
        b -= 1
    for i in range(n):
        b = <int>items[i].score
        out[start[b]] = items[i].order
        start[b] += 1
