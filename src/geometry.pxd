# Positions in grid cells (y, x), always kept inside [0, H-1] x [0, W-1], and
# bilinear sampling at such positions.
from libc.math cimport exp
from libc.stdint cimport uint8_t, int8_t
from tensor cimport Tensor, raw_t, load

# NaN and everything below 0 go to 0, everything above hi to hi, so a position is
# always finite and on the grid whatever the tensors hold.
# (Written as selects, which compile to maxsd / minsd without branches.)
cdef inline double clamp(double v, double hi) noexcept nogil:
    v = v if v > 0.0 else 0.0
    return v if v < hi else hi

# How a tensor's stored keys become the units a caller wants: value = key * factor -
# shift. For quantised tensors factor = scale / divisor and shift = zero_point * factor
# (dequantising, and for vectors in pixels with divisor = stride, turning pixels into
# cells, in one multiplication); for float tensors factor = 1 / divisor, shift = 0.
ctypedef struct Scale:
    double factor, shift

cdef inline void scale_of(const Tensor* t, raw_t* tag, double divisor, Scale* s) noexcept nogil:
    if raw_t is uint8_t or raw_t is int8_t:
        s.factor = t.scale / divisor
        s.shift = t.zero_point * s.factor
    else:
        s.factor = 1.0 / divisor
        s.shift = 0.0

# The bilinear footprint of a clamped position (y in [0, H-1], x in [0, W-1]) in one
# tensor: the byte offset of its top-left cell, the steps to the right and lower
# neighbours (0 on the last column / row), and the four weights pre-multiplied by the
# Scale's factor, so that a sample is one weighted sum of keys minus the shift. Each
# operation saved counts: the pose walk's refinement steps chain these (see pose_walk).
ctypedef struct Footprint:
    Py_ssize_t base, dx, dy
    double w00, w01, w10, w11

cdef inline void locate(const Tensor* t, double y, double x, Py_ssize_t height,
                        Py_ssize_t width, const Scale* s, Footprint* m) noexcept nogil:
    cdef Py_ssize_t y0 = <Py_ssize_t>y
    cdef Py_ssize_t x0 = <Py_ssize_t>x
    cdef double wy = y - y0, wx = x - x0
    cdef double top = (1.0 - wy) * s.factor, bottom = wy * s.factor
    m.base = y0 * t.sy + x0 * t.sx
    m.dy = t.sy if y0 + 1 < height else 0
    m.dx = t.sx if x0 + 1 < width else 0
    m.w00 = top * (1.0 - wx)
    m.w01 = top * wx
    m.w10 = bottom * (1.0 - wx)
    m.w11 = bottom * wx

# The weighted sum of channel c's keys over a footprint: the sample plus the Scale's shift.
cdef inline double weighted(const Tensor* t, raw_t* tag, const Footprint* m, Py_ssize_t c) noexcept nogil:
    cdef const char* p = t.data + m.base + c * t.sc
    return ((m.w00 * load(p, tag) + m.w01 * load(p + m.dx, tag))
            + (m.w10 * load(p + m.dy, tag) + m.w11 * load(p + m.dy + m.dx, tag)))

# Bilinear sample of channel c at a clamped position, in the Scale's units.
cdef inline double sample(const Tensor* t, raw_t* tag, double y, double x, Py_ssize_t c,
                          Py_ssize_t height, Py_ssize_t width, const Scale* s) noexcept nogil:
    cdef Footprint m
    locate(t, y, x, height, width, s, &m)
    return weighted(t, tag, &m, c) - s.shift

cdef inline double sigmoid(double v) noexcept nogil:
    return 1.0 / (1.0 + exp(-v))

# True if two positions (cells) are within radius (pixels; r2 = radius squared).
cdef inline bint within(double ay, double ax, double by, double bx,
                        double stride, double r2) noexcept nogil:
    cdef double dy = (ay - by) * stride
    cdef double dx = (ax - bx) * stride
    return dy * dy + dx * dx <= r2
