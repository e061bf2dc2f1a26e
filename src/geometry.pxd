# Positions in grid cells (y, x), always kept inside [0, H-1] x [0, W-1], and
# bilinear sampling at such positions.
from libc.math cimport exp
from libc.stdint cimport uint8_t, int8_t
from tensor cimport Tensor, raw_t, load, dequantize

# NaN and everything below 0 go to 0, everything above hi to hi, so a position is
# always finite and on the grid whatever the tensors hold.
# (Written as selects, which compile to maxsd / minsd without branches.)
cdef inline double clamp(double v, double hi) noexcept nogil:
    v = v if v > 0.0 else 0.0
    return v if v < hi else hi

# The bilinear footprint of a clamped position (y in [0, H-1], x in [0, W-1]) in one
# tensor: the byte offset of its top-left cell, the steps to the right and lower
# neighbours (0 on the last column / row) and the weights.
ctypedef struct Spot:
    Py_ssize_t base, dx, dy
    double wx, wy

cdef inline void locate(const Tensor* t, double y, double x, Py_ssize_t height,
                        Py_ssize_t width, Spot* s) noexcept nogil:
    cdef Py_ssize_t y0 = <Py_ssize_t>y
    cdef Py_ssize_t x0 = <Py_ssize_t>x
    s.base = y0 * t.sy + x0 * t.sx
    s.dy = t.sy if y0 + 1 < height else 0
    s.dx = t.sx if x0 + 1 < width else 0
    s.wy = y - y0
    s.wx = x - x0

# The bilinear mix of the keys of channel c (weights sum to 1, so it dequantises as a key).
cdef inline double mix_keys(const Tensor* t, raw_t* tag, const Spot* s, Py_ssize_t c) noexcept nogil:
    cdef const char* p = t.data + s.base + c * t.sc
    cdef double top = (1.0 - s.wx) * load(p, tag) + s.wx * load(p + s.dx, tag)
    cdef double bottom = (1.0 - s.wx) * load(p + s.dy, tag) + s.wx * load(p + s.dy + s.dx, tag)
    return (1.0 - s.wy) * top + s.wy * bottom

cdef inline double mix(const Tensor* t, raw_t* tag, const Spot* s, Py_ssize_t c) noexcept nogil:
    return dequantize(t, mix_keys(t, tag, s, c), tag)

# A move in cells from a vector tensor (offsets or displacements, in pixels) at a
# clamped position: the bilinear weights come pre-multiplied by scale / stride, so
# that key -> cells is one weighted sum, and the zero point's share is subtracted from
# the position beforehand (shift). This sits on the decoder's longest dependency chain
# (see pose_walk), where each removed operation counts.
ctypedef struct Move:
    Py_ssize_t base, dx, dy
    double w00, w01, w10, w11

ctypedef struct Cells:
    double factor           # scale / stride: key units -> cells
    double shift            # zero_point * factor, subtracted from the position

cdef inline void cells_of(const Tensor* t, raw_t* tag, double stride, Cells* c) noexcept nogil:
    if raw_t is uint8_t or raw_t is int8_t:
        c.factor = t.scale / stride
        c.shift = t.zero_point * c.factor
    else:
        c.factor = 1.0 / stride
        c.shift = 0.0

cdef inline void locate_move(const Tensor* t, double y, double x, Py_ssize_t height,
                             Py_ssize_t width, const Cells* c, Move* m) noexcept nogil:
    cdef Py_ssize_t y0 = <Py_ssize_t>y
    cdef Py_ssize_t x0 = <Py_ssize_t>x
    cdef double wy = y - y0, wx = x - x0
    cdef double top = (1.0 - wy) * c.factor, bottom = wy * c.factor
    m.base = y0 * t.sy + x0 * t.sx
    m.dy = t.sy if y0 + 1 < height else 0
    m.dx = t.sx if x0 + 1 < width else 0
    m.w00 = top * (1.0 - wx)
    m.w01 = top * wx
    m.w10 = bottom * (1.0 - wx)
    m.w11 = bottom * wx

# The move of channel c in cells, plus the zero point's share (see Cells.shift).
cdef inline double move_keys(const Tensor* t, raw_t* tag, const Move* m, Py_ssize_t c) noexcept nogil:
    cdef const char* p = t.data + m.base + c * t.sc
    return ((m.w00 * load(p, tag) + m.w01 * load(p + m.dx, tag))
            + (m.w10 * load(p + m.dy, tag) + m.w11 * load(p + m.dy + m.dx, tag)))

# Bilinear sample of channel c at a clamped position.
cdef inline double sample(const Tensor* t, raw_t* tag, double y, double x, Py_ssize_t c,
                          Py_ssize_t height, Py_ssize_t width) noexcept nogil:
    cdef Spot s
    locate(t, y, x, height, width, &s)
    return mix(t, tag, &s, c)

cdef inline double sigmoid(double v) noexcept nogil:
    return 1.0 / (1.0 + exp(-v))

# True if two positions (cells) are within radius (pixels; r2 = radius squared).
cdef inline bint within(double ay, double ax, double by, double bx,
                        double stride, double r2) noexcept nogil:
    cdef double dy = (ay - by) * stride
    cdef double dx = (ax - bx) * stride
    return dy * dy + dx * dx <= r2
