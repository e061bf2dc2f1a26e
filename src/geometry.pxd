# Positions in grid cells (y, x), always kept inside [0, H-1] x [0, W-1]; the bilinear
# sampling at such positions is the pose walk's (pose_walk, pairs.h).
from libc.math cimport exp

# NaN and everything below 0 go to 0, everything above hi to hi, so a position is
# always finite and on the grid whatever the tensors hold.
cdef inline double clamp(double v, double hi) noexcept nogil:
    v = v if v > 0.0 else 0.0
    return v if v < hi else hi

cdef inline double sigmoid(double v) noexcept nogil:
    return 1.0 / (1.0 + exp(-v))

# True if two positions (cells) are within radius (pixels; r2 = radius squared).
cdef inline bint within(double ay, double ax, double by, double bx,
                        double stride, double r2) noexcept nogil:
    cdef double dy = (ay - by) * stride
    cdef double dx = (ax - bx) * stride
    return dy * dy + dx * dx <= r2
