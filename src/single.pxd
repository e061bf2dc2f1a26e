# Single-pose decoding of one frame, per keypoint the cell with the highest logit.
from libc.stdint cimport uint8_t, int8_t, uint16_t
from libc.math cimport INFINITY
from tensor cimport Frame, Tensor, value_at, DT_U8, DT_I8, DT_F16, DT_F32
from geometry cimport clamp, sigmoid
from candidates cimport raw_t, key_of

# best_cell[k] = y * W + x of the first cell (scan order) holding keypoint k's highest
# key; NaN never wins, so an all-NaN channel picks cell 0.
cdef inline void argmax_typed(const raw_t* data, const Tensor* hm, Py_ssize_t height,
                              Py_ssize_t width, Py_ssize_t* best_cell) noexcept nogil:
    cdef const char* base = <const char*>data
    cdef const char* cell
    cdef Py_ssize_t sy = hm.sy, sx = hm.sx, sc = hm.sc, y, x, k
    cdef double best[17]
    cdef double v
    for k in range(17):
        best[k] = -INFINITY
        best_cell[k] = 0
    for y in range(height):
        for x in range(width):
            cell = base + y * sy + x * sx
            for k in range(17):
                v = key_of((<const raw_t*>(cell + k * sc))[0])
                if v > best[k]:
                    best[k] = v
                    best_cell[k] = y * width + x

# Writes 17 x (x, y, score) into out_kp (pixels, clamped to the input) and returns
# the pose score (mean keypoint score).
cdef inline double decode_single_frame(const Frame* f, float* out_kp) noexcept nogil:
    cdef Py_ssize_t best_cell[17]
    cdef const Tensor* hm = &f.heatmaps
    cdef Py_ssize_t k, y, x
    cdef double stride = f.stride, s, total = 0.0
    if hm.dtype == DT_U8:
        argmax_typed(<const uint8_t*>hm.data, hm, f.height, f.width, best_cell)
    elif hm.dtype == DT_I8:
        argmax_typed(<const int8_t*>hm.data, hm, f.height, f.width, best_cell)
    elif hm.dtype == DT_F16:
        argmax_typed(<const uint16_t*>hm.data, hm, f.height, f.width, best_cell)
    elif hm.dtype == DT_F32:
        argmax_typed(<const float*>hm.data, hm, f.height, f.width, best_cell)
    else:
        argmax_typed(<const double*>hm.data, hm, f.height, f.width, best_cell)
    for k in range(17):
        y = best_cell[k] // f.width
        x = best_cell[k] % f.width
        out_kp[3 * k] = <float>clamp(x * stride + value_at(&f.offsets, y, x, 17 + k),
                                     (f.width - 1) * stride)
        out_kp[3 * k + 1] = <float>clamp(y * stride + value_at(&f.offsets, y, x, k),
                                         (f.height - 1) * stride)
        s = sigmoid(value_at(hm, y, x, k))
        if s != s:
            s = 0.0
        out_kp[3 * k + 2] = <float>s
        total += s
    return total / 17.0
