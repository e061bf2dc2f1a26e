# Reading one frame of a PoseNet output tensor in place: a base pointer plus byte
# strides for (y, x, channel), so HWC, CHW and non-contiguous views all read without
# a copy, and quantised tensors are dequantised one element at a time.
from libc.stdint cimport uint8_t, int8_t, uint16_t

cdef extern from "half.h":
    float posefast_half_to_float(uint16_t h) noexcept nogil

cdef enum:
    DT_U8 = 0
    DT_I8 = 1
    DT_F16 = 2
    DT_F32 = 3
    DT_F64 = 4

ctypedef struct Tensor:
    const char* data        # element (0, 0, 0) of this frame
    Py_ssize_t sy, sx, sc   # byte strides of y, x, channel
    int dtype               # DT_*
    double zero_point       # 0 for float tensors
    double scale            # 1 for float tensors

# The raw stored value as a double ("key"): integers stay integers, halves are widened.
# For scale > 0 keys order exactly as the real values do, so comparisons can skip
# the dequantisation.
cdef inline double raw_at(const Tensor* t, Py_ssize_t y, Py_ssize_t x, Py_ssize_t c) noexcept nogil:
    cdef const char* p = t.data + y * t.sy + x * t.sx + c * t.sc
    if t.dtype == DT_U8:
        return (<const uint8_t*>p)[0]
    elif t.dtype == DT_F32:
        return (<const float*>p)[0]
    elif t.dtype == DT_I8:
        return (<const int8_t*>p)[0]
    elif t.dtype == DT_F16:
        return posefast_half_to_float((<const uint16_t*>p)[0])
    else:
        return (<const double*>p)[0]

cdef inline double dequantize(const Tensor* t, double raw) noexcept nogil:
    return (raw - t.zero_point) * t.scale

cdef inline double value_at(const Tensor* t, Py_ssize_t y, Py_ssize_t x, Py_ssize_t c) noexcept nogil:
    return (raw_at(t, y, x, c) - t.zero_point) * t.scale

ctypedef struct Frame:
    Tensor heatmaps         # 17 channels, logits
    Tensor offsets          # 34 channels, pixels [dy x17, dx x17]
    Tensor fwd              # 32 channels, pixels [dy x16, dx x16]
    Tensor bwd              # 32 channels, pixels [dy x16, dx x16]
    Py_ssize_t height, width
    double stride
