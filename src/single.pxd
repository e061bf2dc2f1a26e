# Single-pose decoding of one frame, per keypoint the cell with the highest logit.
from libc.stdint cimport uint8_t, int8_t, uint16_t
from libc.math cimport INFINITY, NAN
from tensor cimport Frame, Tensor, raw_t, load, value_at
from geometry cimport clamp, sigmoid

cdef extern from "dense_scan.h":
    void posefast_max17_u8(const uint8_t* p, Py_ssize_t cells, uint8_t* best) noexcept nogil
    void posefast_max17_i8(const int8_t* p, Py_ssize_t cells, int8_t* best) noexcept nogil
    void posefast_max17_f32(const float* p, Py_ssize_t cells, float* best) noexcept nogil
    void posefast_max17_f64(const double* p, Py_ssize_t cells, double* best) noexcept nogil
    void posefast_first17_u8(const uint8_t* p, Py_ssize_t cells, const uint8_t* best, Py_ssize_t* cell) noexcept nogil
    void posefast_first17_i8(const int8_t* p, Py_ssize_t cells, const int8_t* best, Py_ssize_t* cell) noexcept nogil
    void posefast_first17_f32(const float* p, Py_ssize_t cells, const float* best, Py_ssize_t* cell) noexcept nogil
    void posefast_first17_f64(const double* p, Py_ssize_t cells, const double* best, Py_ssize_t* cell) noexcept nogil
    Py_ssize_t posefast_argmax_u8(const uint8_t* p, Py_ssize_t n) noexcept nogil
    Py_ssize_t posefast_argmax_i8(const int8_t* p, Py_ssize_t n) noexcept nogil
    Py_ssize_t posefast_argmax_f32(const float* p, Py_ssize_t n) noexcept nogil
    Py_ssize_t posefast_argmax_f64(const double* p, Py_ssize_t n) noexcept nogil

# best_cell[k] = y * W + x of the first cell (scan order) holding keypoint k's highest
# key, reading a frame whose H * W cells of 17 keys are contiguous; an all-NaN (or all
# -inf) channel picks cell 0.
cdef inline void argmax_dense_hwc(const char* data, raw_t* tag, Py_ssize_t cells,
                                  Py_ssize_t* best_cell) noexcept nogil:
    cdef raw_t best[17]
    cdef Py_ssize_t k
    for k in range(17):
        best_cell[k] = 0
    if raw_t is uint8_t:
        posefast_max17_u8(<const uint8_t*>data, cells, best)
        posefast_first17_u8(<const uint8_t*>data, cells, best, best_cell)
    elif raw_t is int8_t:
        posefast_max17_i8(<const int8_t*>data, cells, best)
        posefast_first17_i8(<const int8_t*>data, cells, best, best_cell)
    elif raw_t is float:
        posefast_max17_f32(<const float*>data, cells, best)
        for k in range(17):
            if best[k] == -INFINITY:  # all NaN or -inf: cell 0 (NaN counts as -inf)
                best[k] = NAN
        posefast_first17_f32(<const float*>data, cells, best, best_cell)
    elif raw_t is double:
        posefast_max17_f64(<const double*>data, cells, best)
        for k in range(17):
            if best[k] == -INFINITY:
                best[k] = NAN
        posefast_first17_f64(<const double*>data, cells, best, best_cell)

# The first index of the maximum of a contiguous run of n keys (NaN ignored; 0 when no
# key is above -inf), for CHW planes.
cdef inline Py_ssize_t argmax_run(const char* data, raw_t* tag, Py_ssize_t n) noexcept nogil:
    if raw_t is uint8_t:
        return posefast_argmax_u8(<const uint8_t*>data, n)
    elif raw_t is int8_t:
        return posefast_argmax_i8(<const int8_t*>data, n)
    elif raw_t is float:
        return posefast_argmax_f32(<const float*>data, n)
    else:
        return posefast_argmax_f64(<const double*>data, n)

# Any strides: cell by cell.
cdef inline void argmax_strided(const Tensor* hm, raw_t* tag, Py_ssize_t height,
                                Py_ssize_t width, Py_ssize_t* best_cell) noexcept nogil:
    cdef const char* cell
    cdef Py_ssize_t y, x, k
    cdef double best[17]
    cdef double v
    for k in range(17):
        best[k] = -INFINITY
        best_cell[k] = 0
    for y in range(height):
        for x in range(width):
            cell = hm.data + y * hm.sy + x * hm.sx
            for k in range(17):
                v = load(cell + k * hm.sc, tag)
                if v > best[k]:
                    best[k] = v
                    best_cell[k] = y * width + x

# Writes 17 x (x, y, score) into out_kp (pixels, clamped to the input) and returns
# the pose score (mean keypoint score).
cdef inline double decode_single_frame(const Frame* f, raw_t* tag, float* out_kp) noexcept nogil:
    cdef Py_ssize_t best_cell[17]
    cdef const Tensor* hm = &f.heatmaps
    cdef Py_ssize_t k, y, x, item = sizeof(raw_t)
    cdef Py_ssize_t height = f.height, width = f.width
    cdef double stride = f.stride, s, total = 0.0
    cdef bint dense_rows = height == 1 or hm.sy == width * hm.sx
    if raw_t is uint16_t:
        argmax_strided(hm, tag, height, width, best_cell)
    elif hm.sc == item and hm.sx == 17 * item and dense_rows:
        argmax_dense_hwc(hm.data, tag, height * width, best_cell)
    elif hm.sx == item and dense_rows:
        for k in range(17):
            best_cell[k] = argmax_run(hm.data + k * hm.sc, tag, height * width)
    else:
        argmax_strided(hm, tag, height, width, best_cell)
    for k in range(17):
        y = best_cell[k] // width
        x = best_cell[k] % width
        out_kp[3 * k] = <float>clamp(x * stride + value_at(&f.offsets, tag, y, x, 17 + k),
                                     (width - 1) * stride)
        out_kp[3 * k + 1] = <float>clamp(y * stride + value_at(&f.offsets, tag, y, x, k),
                                         (height - 1) * stride)
        s = sigmoid(value_at(hm, tag, y, x, k))
        if s != s:
            s = 0.0
        out_kp[3 * k + 2] = <float>s
        total += s
    return total / 17.0
