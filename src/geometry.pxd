# Positions in grid cells (y, x), always kept inside [0, H-1] x [0, W-1], and
# bilinear sampling at such positions.
from libc.math cimport exp
from tensor cimport Tensor, value_at

# NaN and everything below 0 go to 0, everything above hi to hi, so a position is
# always finite and on the grid whatever the tensors hold.
cdef inline double clamp(double v, double hi) noexcept nogil:
    if not (v > 0.0):
        return 0.0
    if v > hi:
        return hi
    return v

# Bilinear sample of channel c at a clamped position (y in [0, H-1], x in [0, W-1]).
cdef inline double sample(const Tensor* t, double y, double x, Py_ssize_t c,
                          Py_ssize_t height, Py_ssize_t width) noexcept nogil:
    cdef Py_ssize_t y0 = <Py_ssize_t>y
    cdef Py_ssize_t x0 = <Py_ssize_t>x
    cdef Py_ssize_t y1 = y0 + 1 if y0 + 1 < height else y0
    cdef Py_ssize_t x1 = x0 + 1 if x0 + 1 < width else x0
    cdef double wy = y - y0
    cdef double wx = x - x0
    cdef double top = (1.0 - wx) * value_at(t, y0, x0, c) + wx * value_at(t, y0, x1, c)
    cdef double bottom = (1.0 - wx) * value_at(t, y1, x0, c) + wx * value_at(t, y1, x1, c)
    return (1.0 - wy) * top + wy * bottom

cdef inline double sigmoid(double v) noexcept nogil:
    return 1.0 / (1.0 + exp(-v))

# True if two positions (cells) are within radius (pixels; r2 = radius squared).
cdef inline bint within(double ay, double ax, double by, double bx,
                        double stride, double r2) noexcept nogil:
    cdef double dy = (ay - by) * stride
    cdef double dx = (ax - bx) * stride
    return dy * dy + dx * dx <= r2
