# Which poses already placed have keypoint k within the NMS radius of a position: the
# question root NMS (multi) and soft keypoint NMS (rescore) ask once per candidate /
# keypoint. Asked of every earlier pose, it makes decoding quadratic in the number of
# poses (13 ms for 1000 poses on a 46x81 grid); a uniform grid of buckets per keypoint
# over the frame's cells makes it about linear. The answer is the same bit for bit: a
# bucket only rules out poses that `within` would reject, and `within` decides the
# rest exactly as before (any order of asking gives the same "any").
#
# For a handful of poses a plain scan is cheaper than clearing buckets, so the index
# starts empty and is filled only once more than LINEAR_POSES poses are placed.
from libc.math cimport sqrt
from libc.stdint cimport int32_t, INT32_MAX
from libc.stdlib cimport malloc, free
from geometry cimport within

cdef enum:
    LINEAR_POSES = 16       # up to this many poses, ask each of them
    BUCKETS_PER_POSE = 4    # bucket grid size, per keypoint, for the poses it can hold...
    MAX_BUCKETS = 16384     # ... but no more than this

# Keypoint k of the j-th pose added ("slot" j) is at pos[k * cap + j] (cells); once the
# buckets are in use, next[k * cap + j] is the slot added before it to the same bucket
# (-1: none). A keypoint's positions are contiguous, and links are 32-bit, so that the
# arrays stay small enough for the cache: with 1000 poses they are read at random.
ctypedef struct NearPos:
    double y, x

ctypedef struct NearIndex:
    NearPos* pos            # 17 * cap
    NearPos* one_pos        # cap: the one keypoint's positions of a keypoint-by-keypoint
                            # pass (near_one_ask_add)
    int32_t* next           # 17 * cap
    int32_t* head           # 17 * nb: a bucket's latest slot, -1 when empty
    Py_ssize_t cap          # poses it can hold
    Py_ssize_t nby, nbx, nb # buckets along y, x, in all (per keypoint)
    double inv_size         # 1 / bucket side, per cell
    double reach            # cells: two positions farther apart than this along an
                            # axis are never within the radius (see near_init)
    double stride, r2
    Py_ssize_t n            # poses added
    bint filled             # buckets in use (more than LINEAR_POSES poses added; links
                            # are 32-bit, so never beyond 2^31 poses)

# The bucket along one axis of a position v (cells, finite or +-inf), in [0, n - 1].
# (Truncation is floor for v > 0: no libm call.)
cdef inline Py_ssize_t bucket(double v, double inv_size, Py_ssize_t n) noexcept nogil:
    v = v * inv_size
    if not v > 0.0:
        return 0
    if v >= <double>(n - 1):
        return n - 1
    return <Py_ssize_t>v

# Bytes of the positions and links for cap poses (the caller's block: see near_init).
cdef inline Py_ssize_t near_bytes(Py_ssize_t cap) noexcept nogil:
    if cap < 1:
        cap = 1
    return cap * (18 * sizeof(NearPos) + 17 * sizeof(int32_t))

# Sizes the buckets for a height x width grid and room for cap poses, whose positions
# and links go to mem (near_bytes(cap) bytes, 8-byte aligned). The buckets themselves
# are allocated only when more than LINEAR_POSES poses come (near_free frees them).
cdef inline void near_init(NearIndex* ix, char* mem, Py_ssize_t cap, Py_ssize_t height,
                           Py_ssize_t width, double stride, double r2) noexcept nogil:
    cdef double side
    cdef Py_ssize_t target
    # within(a, b) is dy*dy + dx*dx <= r2 with dy = (ay - by) * stride rounded: when
    # |ay - by| > sqrt(r2) / stride * (1 + 1e-12), dy*dy alone exceeds r2 (the sum of
    # non-negative terms never rounds below one of them); and when |ay - by| > 1e-150,
    # dy*dy (stride >= 1) is a normal number > 0 = the smallest r2. The margins below
    # are far wider than that.
    ix.reach = sqrt(r2) * (1.0 + 1e-6) / stride + 1e-100
    ix.stride = stride
    ix.r2 = r2
    ix.cap = cap if cap > 0 else 1
    ix.n = 0
    ix.filled = False
    # buckets as wide as the reach (a question then looks into at most 2 x 2 of them),
    # but no more of them than BUCKETS_PER_POSE per pose and MAX_BUCKETS
    target = MAX_BUCKETS
    if ix.cap < MAX_BUCKETS // BUCKETS_PER_POSE:
        target = ix.cap * BUCKETS_PER_POSE
    side = sqrt(<double>height * <double>width / <double>target)
    if side < ix.reach:
        side = ix.reach
    ix.inv_size = 1.0 / side
    # (with side >= sqrt(H * W / target), nby * nbx stays within about 2 * target; a
    # grid far taller than wide gets target rows of buckets and one column)
    ix.nby = bucket(height - 1.0, ix.inv_size, target) + 1
    ix.nbx = bucket(width - 1.0, ix.inv_size, target) + 1
    ix.nb = ix.nby * ix.nbx
    ix.pos = <NearPos*>mem
    ix.one_pos = ix.pos + ix.cap * 17
    ix.next = <int32_t*>(ix.one_pos + ix.cap)
    ix.head = NULL

cdef inline void near_free(NearIndex* ix) noexcept nogil:
    free(ix.head)
    ix.head = NULL

# The bucket of a position (cells) among one keypoint's nby x nbx.
cdef inline Py_ssize_t near_bucket(const NearIndex* ix, double y, double x) noexcept nogil:
    return bucket(y, ix.inv_size, ix.nby) * ix.nbx + bucket(x, ix.inv_size, ix.nbx)

cdef inline void near_link(NearIndex* ix, Py_ssize_t j) noexcept nogil:
    cdef Py_ssize_t k, b, at
    for k in range(17):
        at = k * ix.cap + j
        b = k * ix.nb + near_bucket(ix, ix.pos[at].y, ix.pos[at].x)
        ix.next[at] = ix.head[b]
        ix.head[b] = <int32_t>j

# Starts over empty (a new frame, or the rescoring pass).
cdef inline void near_reset(NearIndex* ix) noexcept nogil:
    ix.n = 0
    ix.filled = False

# The buckets' heads (17 * nb), allocated the first time buckets are used; False when
# there is no memory for them (the plain scan then gives the same answers).
cdef inline bint near_heads(NearIndex* ix) noexcept nogil:
    if ix.head == NULL:
        ix.head = <int32_t*>malloc(ix.nb * 17 * sizeof(int32_t))
    return ix.head != NULL

# Adds the 17 keypoints of a pose (17 (y, x, score) triples, cells); at most cap poses.
cdef inline void near_add(NearIndex* ix, const double* pose) noexcept nogil:
    cdef Py_ssize_t k, b, j = ix.n
    for k in range(17):
        ix.pos[k * ix.cap + j].y = pose[3 * k]
        ix.pos[k * ix.cap + j].x = pose[3 * k + 1]
    ix.n += 1
    if ix.filled:
        near_link(ix, j)
    elif ix.n > LINEAR_POSES and ix.cap < INT32_MAX and near_heads(ix):
        for b in range(ix.nb * 17):
            ix.head[b] = -1
        for j in range(ix.n):
            near_link(ix, j)
        ix.filled = True

# Whether one of the n positions pos (with their links next, buckets head, as
# near_link / near_one_ask_add fill them once filled) is within the radius of (y, x) (cells).
cdef inline bint near_any_of(const NearIndex* ix, const NearPos* pos, const int32_t* next,
                             const int32_t* head, double y, double x) noexcept nogil:
    cdef Py_ssize_t j
    if not ix.filled:
        for j in range(ix.n):
            if within(y, x, pos[j].y, pos[j].x, ix.stride, ix.r2):
                return True
        return False
    return near_any_filled(ix, pos, next, head, y, x, bucket(y, ix.inv_size, ix.nby),
                           bucket(x, ix.inv_size, ix.nbx))

# near_any_of once the buckets are in use, (y, x) being in bucket (cy, cx).
cdef inline bint near_any_filled(const NearIndex* ix, const NearPos* pos, const int32_t* next,
                                 const int32_t* head, double y, double x, Py_ssize_t cy,
                                 Py_ssize_t cx) noexcept nogil:
    cdef Py_ssize_t j, by, bx, by_hi, bx_lo, bx_hi
    # the position's own bucket first: most questions that find a pose find it there
    # (at 1000 poses, 3.4 buckets and 1.1 positions looked at per question instead of
    # 5.0 and 1.7)
    j = head[cy * ix.nbx + cx]
    while j >= 0:
        if within(y, x, pos[j].y, pos[j].x, ix.stride, ix.r2):
            return True
        j = next[j]
    # then every other bucket that [y - reach, y + reach] x [x - reach, x + reach]
    # meets: rounding is monotonic, so a position inside that square lands in one of them
    by = bucket(y - ix.reach, ix.inv_size, ix.nby)
    by_hi = bucket(y + ix.reach, ix.inv_size, ix.nby)
    bx_lo = bucket(x - ix.reach, ix.inv_size, ix.nbx)
    bx_hi = bucket(x + ix.reach, ix.inv_size, ix.nbx)
    while by <= by_hi:
        for bx in range(bx_lo, bx_hi + 1):
            if by == cy and bx == cx:
                continue
            j = head[by * ix.nbx + bx]
            while j >= 0:
                if within(y, x, pos[j].y, pos[j].x, ix.stride, ix.r2):
                    return True
                j = next[j]
        by += 1
    return False

# Whether keypoint k of some pose added so far is within the radius of (y, x) (cells).
cdef inline bint near_any(const NearIndex* ix, Py_ssize_t k, double y, double x) noexcept nogil:
    return near_any_of(ix, ix.pos + k * ix.cap, ix.next + k * ix.cap, ix.head + k * ix.nb,
                       y, x)

# Keypoint by keypoint: for a pass that asks about one keypoint of every pose in turn
# (rescore; near_reset before each), the index holds that keypoint's positions alone,
# in one_pos and keypoint 0's links and buckets. The pass reads and writes 30-50 KB for
# 1000 poses, where asking about the 17 keypoints of each pose in turn roams over 17
# times as much. The poses' own positions (pos) stay as they are; the links of the
# poses' index do not (near_reset starts it over).

# Puts the positions added so far into the buckets (more than LINEAR_POSES of them).
cdef inline void near_one_fill(NearIndex* ix) noexcept nogil:
    cdef Py_ssize_t b, j
    if not near_heads(ix):
        return
    for b in range(ix.nb):
        ix.head[b] = -1
    for j in range(ix.n):
        b = near_bucket(ix, ix.one_pos[j].y, ix.one_pos[j].x)
        ix.next[j] = ix.head[b]
        ix.head[b] = <int32_t>j
    ix.filled = True

# Whether a position added since near_reset is within the radius of (y, x) (cells);
# then (y, x) is added as the next slot (at most cap), its bucket worked out once for
# both (rescore asks this of every keypoint of every pose).
cdef inline bint near_one_ask_add(NearIndex* ix, double y, double x) noexcept nogil:
    cdef Py_ssize_t cy, cx, b, j = ix.n
    cdef bint found
    # (two paths, each storing the position: one test of `filled` per call on the
    # path nearly every call takes; merged, the call took 0.65% more instructions)
    if not ix.filled:
        found = near_any_of(ix, ix.one_pos, ix.next, ix.head, y, x)
        ix.one_pos[j].y = y
        ix.one_pos[j].x = x
        ix.n += 1
        if ix.n > LINEAR_POSES and ix.cap < INT32_MAX:
            near_one_fill(ix)
        return found
    cy = bucket(y, ix.inv_size, ix.nby)
    cx = bucket(x, ix.inv_size, ix.nbx)
    found = near_any_filled(ix, ix.one_pos, ix.next, ix.head, y, x, cy, cx)
    ix.one_pos[j].y = y
    ix.one_pos[j].x = x
    ix.n += 1
    b = cy * ix.nbx + cx
    ix.next[j] = ix.head[b]
    ix.head[b] = <int32_t>j
    return found
