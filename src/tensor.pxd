# Reading one frame of a PoseNet output tensor in place: a base pointer plus byte
# strides for (y, x, channel), so HWC, CHW and non-contiguous views all read without
# a copy, and quantised tensors are dequantised one element at a time.
#
# The kernels are compiled once per element type (the fused raw_t, selected by a typed
# NULL "tag" pointer) so that no read branches on the dtype; the four tensors of a call
# share one element type (posefast._core converts mixed inputs first).
from libc.stdint cimport uint8_t, int8_t, uint16_t

cdef extern from "half.h":
    float posefast_half_to_float(uint16_t h) noexcept nogil

cdef enum:
    DT_U8 = 0
    DT_I8 = 1
    DT_F16 = 2
    DT_F32 = 3
    DT_F64 = 4

ctypedef fused raw_t:
    uint8_t
    int8_t
    uint16_t                # float16 bits
    float
    double

ctypedef struct Tensor:
    const char* data        # element (0, 0, 0) of this frame
    Py_ssize_t sy, sx, sc   # byte strides of y, x, channel
    int dtype               # DT_*
    double zero_point       # 0 for float tensors
    double scale            # 1 for float tensors

ctypedef struct Frame:
    Tensor heatmaps         # 17 channels, logits
    Tensor offsets          # 34 channels, pixels [dy x17, dx x17]
    Tensor fwd              # 32 channels, pixels [dy x16, dx x16]
    Tensor bwd              # 32 channels, pixels [dy x16, dx x16]
    Py_ssize_t height, width
    double stride

# The stored value at p as a double ("key"): integers stay integers, halves are
# widened. For scale > 0 keys order exactly as the real values do, so comparisons can
# skip the dequantisation.
cdef inline double load(const char* p, raw_t* tag) noexcept nogil:
    if raw_t is uint16_t:
        return posefast_half_to_float((<const uint16_t*>p)[0])
    else:
        return (<const raw_t*>p)[0]

# A key (or a bilinear mix of keys, whose weights sum to 1) as a real value.
cdef inline double dequantize(const Tensor* t, double key, raw_t* tag) noexcept nogil:
    if raw_t is uint8_t or raw_t is int8_t:
        return (key - t.zero_point) * t.scale
    else:
        return key

cdef inline double value_at(const Tensor* t, raw_t* tag, Py_ssize_t y, Py_ssize_t x,
                            Py_ssize_t c) noexcept nogil:
    return dequantize(t, load(t.data + y * t.sy + x * t.sx + c * t.sc, tag), tag)
