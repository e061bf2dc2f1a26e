"""The compiled decoding core: argument checks, then kernels that run without the GIL.

Tensors are read in place (see tensor.pxd): any strides, HWC or CHW, float16/32/64,
or ``Quantized`` uint8/int8 read as integers. Positions inside the kernels are grid
cells; results are pixels of the network input, x before y.
"""
from libc.math cimport log, isfinite, ceil, floor, INFINITY
from cpython.long cimport PyLong_Check
from cpython.float cimport PyFloat_Check
from cpython.bool cimport PyBool_Check
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF, Py_DECREF
from libc.stdlib cimport malloc, free
cimport numpy as cnp
import numpy as np
from types import MemberDescriptorType

from libc.stdint cimport uint8_t, int8_t, uint16_t
from tensor cimport Tensor, Frame, DT_U8, DT_I8, DT_F16, DT_F32, DT_F64
from multi cimport MultiParams, MultiWork, work_alloc, work_free, decode_multi_frame
from single cimport decode_single_frame

from posefast.pose import Pose
from posefast.quantized import Quantized

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    # (raw pointers: the descriptor and the base are references the calls steal)
    ctypedef struct _Descr "PyArray_Descr"
    ctypedef struct _ArrayObject "PyArrayObject"
    PyObject* _array_new "PyArray_NewFromDescr"(PyTypeObject* subtype, _Descr* descr,
                                                int nd, cnp.npy_intp* dims,
                                                cnp.npy_intp* strides, void* data,
                                                int flags, PyObject* obj)
    int _array_set_base "PyArray_SetBaseObject"(_ArrayObject* arr, PyObject* base)

cdef extern from "Python.h":
    # (3.10+) Creating a thousand poses allocates three thousand tracked objects, which
    # starts the cyclic collector several times over objects that cannot form cycles
    # yet; it is paused while they are built (and left as the caller had it).
    int PyGC_Disable()
    int PyGC_Enable()

cdef extern from "simd.h":
    const char* POSEFAST_SIMD_NAME
    int posefast_cpu_has_avx2() noexcept nogil

cdef extern from "Python.h":
    ctypedef struct _MemberDef "PyMemberDef":
        Py_ssize_t offset
    ctypedef struct _MemberDescr "PyMemberDescrObject":
        _MemberDef* d_member
    # (a raw pointer: a new reference, or NULL)
    PyObject* _generic_alloc "PyType_GenericAlloc"(PyTypeObject* t, Py_ssize_t n)


cdef enum:
    HEATMAP_C = 17
    OFFSET_C = 34
    DISPLACEMENT_C = 32

# Pixels per cell at most: PoseNets use 8, 16 or 32; far beyond, keypoint coordinates
# (float32 pixels) would lose their precision and then overflow to infinity.
cdef enum:
    MAX_OUTPUT_STRIDE = 65536
# Rows and columns at most for multi-pose decoding, whose walk keeps cell indices in
# 32 bits (the float -> int conversion of pairs.h); single-pose has no such limit.
cdef Py_ssize_t MAX_MULTI_SIDE = 2147483647

# Dimensions of a parsed tensor: batch size, grid height and width, channels.
ctypedef struct Dims:
    Py_ssize_t n, h, w, c
    Py_ssize_t sn           # byte stride between frames

# One call's tensors: the first frame, the byte step to each next frame (heatmaps,
# offsets, fwd, bwd) and the grid.
ctypedef struct Call:
    Frame first
    Py_ssize_t sn[4]
    Py_ssize_t n

cdef cnp.dtype _float32 = np.dtype(np.float32)
# looked up once: `np.ndarray` at each pose is a module attribute lookup (about 260
# instructions, 1.3% of a call that returns a thousand poses)
cdef PyTypeObject* _ndarray_type = <PyTypeObject*>np.ndarray
cdef object _integer = (int, np.integer)
cdef object _real = (int, float, np.integer, np.floating)


cdef str _layout_shape(bint chw, object h, object w, object c):
    if chw:
        return f"({c}, {h}, {w})"
    return f"({h}, {w}, {c})"


cdef double _quantization_scale(object scale, str name) except? -1.0:
    cdef double v = 0.0
    if PyFloat_Check(scale) or (isinstance(scale, _real) and not isinstance(scale, bool)):
        try:
            v = scale
        except OverflowError:
            v = INFINITY
    if not (isfinite(v) and v > 0):
        raise ValueError(f"{name}: Quantized.scale must be a finite number > 0, got {scale!r}")
    return v


cdef double _zero_point(object zp, str name) except? -1.0:
    """An integer zero point as a double: ints and NumPy integers, or floats of any
    precision holding an integer (2.0, np.float32(2.0)); 2.5 is refused, never truncated."""
    cdef double v
    # (the common case, a Python int, takes the first branch without any Python call)
    if (PyLong_Check(zp) and not PyBool_Check(zp)) or isinstance(zp, np.integer):
        try:
            v = zp
        except OverflowError:
            v = INFINITY
    elif PyFloat_Check(zp) or isinstance(zp, np.floating):
        v = zp
        if not (isfinite(v) and v == floor(v)):
            raise ValueError(f"{name}: Quantized.zero_point must be an integer, got {zp!r}")
    else:
        raise ValueError(f"{name}: Quantized.zero_point must be an integer, got {zp!r}")
    if not -2147483648.0 <= v <= 2147483647.0:
        raise ValueError(f"{name}: Quantized.zero_point must be a 32-bit integer, got {zp!r}")
    return v


cdef int _parse(object obj, str name, bint chw, bint batch, Tensor* t, Dims* d) except -1:
    """Fill t and d from an ndarray or Quantized without copying its data."""
    cdef cnp.ndarray arr
    cdef int typenum, nd, off
    cdef cnp.npy_intp* shape
    cdef cnp.npy_intp* strides
    if isinstance(obj, cnp.ndarray):
        arr = obj
        typenum = cnp.PyArray_TYPE(arr)
        if typenum == cnp.NPY_FLOAT32:
            t.dtype = DT_F32
        elif typenum == cnp.NPY_FLOAT64:
            t.dtype = DT_F64
        elif typenum == cnp.NPY_FLOAT16:
            t.dtype = DT_F16
        else:
            raise ValueError(
                f"{name} must be float16, float32 or float64 (or a Quantized uint8/int8 "
                f"tensor), got {arr.dtype}")
        t.scale = 1.0
        t.zero_point = 0.0
    elif isinstance(obj, Quantized):
        arr_obj, scale, zp = obj
        if not isinstance(arr_obj, cnp.ndarray):
            raise ValueError(f"{name}: Quantized.array must be a numpy array, got {type(arr_obj).__name__}")
        arr = arr_obj
        typenum = cnp.PyArray_TYPE(arr)
        if typenum == cnp.NPY_UINT8:
            t.dtype = DT_U8
        elif typenum == cnp.NPY_INT8:
            t.dtype = DT_I8
        else:
            raise ValueError(f"{name}: Quantized.array must be uint8 or int8, got {arr.dtype}")
        t.scale = _quantization_scale(scale, name)
        t.zero_point = _zero_point(zp, name)
    else:
        raise ValueError(f"{name} must be a numpy array or a posefast.Quantized, got {type(obj).__name__}")
    if not cnp.PyArray_ISNOTSWAPPED(arr) or not cnp.PyArray_ISALIGNED(arr):
        raise ValueError(f"{name} must be aligned and in native byte order")
    nd = cnp.PyArray_NDIM(arr)
    shape = cnp.PyArray_DIMS(arr)
    strides = cnp.PyArray_STRIDES(arr)
    if nd == 4 and (batch or shape[0] == 1):
        d.n = shape[0]
        d.sn = strides[0]
        off = 1
    elif nd == 3:
        d.n = 1
        d.sn = 0
        off = 0
    else:
        what = "(N, C, H, W) or (C, H, W)" if chw else "(N, H, W, C) or (H, W, C)"
        if not batch:
            what = "(C, H, W) or (1, C, H, W)" if chw else "(H, W, C) or (1, H, W, C)"
        raise ValueError(f"{name} must have shape {what}, got {tuple((<object>arr).shape)}")
    if chw:
        d.c = shape[off]
        d.h = shape[off + 1]
        d.w = shape[off + 2]
        t.sc = strides[off]
        t.sy = strides[off + 1]
        t.sx = strides[off + 2]
    else:
        d.h = shape[off]
        d.w = shape[off + 1]
        d.c = shape[off + 2]
        t.sy = strides[off]
        t.sx = strides[off + 1]
        t.sc = strides[off + 2]
    t.data = <const char*>cnp.PyArray_DATA(arr)
    return 0


cdef int _parse_other(object obj, str name, Py_ssize_t channels, bint chw, bint batch,
                      object heatmaps, const Dims* dims, Tensor* t, Py_ssize_t* sn) except -1:
    cdef Dims d
    _parse(obj, name, chw, batch, t, &d)
    if d.c != channels or d.h != dims.h or d.w != dims.w or d.n != dims.n:
        raise ValueError(
            f"{name} must have {channels} channels "
            f"{_layout_shape(chw, 'H', 'W', channels)} matching heatmaps "
            f"{_shape_of(heatmaps)}, got {_shape_of(obj)}")
    sn[0] = d.sn
    return 0


cdef int _parse_call(object heatmaps, object offsets, object fwd, object bwd,
                     object output_stride, object layout, bint batch, Call* call) except -1:
    """Parse and cross-check the tensors of one call (fwd/bwd None for single-pose)."""
    cdef bint chw
    cdef Dims dims
    cdef Frame* f = &call.first
    if layout == "hwc":
        chw = False
    elif layout == "chw":
        chw = True
    else:
        raise ValueError(f"layout must be 'hwc' or 'chw', got {layout!r}")
    if isinstance(output_stride, bool) or not isinstance(output_stride, _integer) \
            or not 0 < output_stride <= MAX_OUTPUT_STRIDE:
        raise ValueError(f"output_stride must be an integer in [1, {MAX_OUTPUT_STRIDE}] "
                         f"(input pixels per grid cell), got {output_stride!r}")
    f.stride = <double>output_stride
    _parse(heatmaps, "heatmaps", chw, batch, &f.heatmaps, &dims)
    if dims.c != HEATMAP_C:
        raise ValueError(
            f"heatmaps must have {HEATMAP_C} channels "
            f"{_layout_shape(chw, 'H', 'W', HEATMAP_C)}, got {_shape_of(heatmaps)}")
    if dims.h < 1 or dims.w < 1:
        raise ValueError(f"heatmaps must have a grid of at least 1x1 cells, got {_shape_of(heatmaps)}")
    f.height = dims.h
    f.width = dims.w
    call.n = dims.n
    call.sn[0] = dims.sn
    _parse_other(offsets, "offsets", OFFSET_C, chw, batch, heatmaps, &dims, &f.offsets, &call.sn[1])
    if fwd is None:
        f.fwd = f.offsets  # unused by single-pose decoding; keeps the frame well-formed
        f.bwd = f.offsets
        call.sn[2] = call.sn[3] = call.sn[1]
    else:
        _parse_other(fwd, "displacements_fwd", DISPLACEMENT_C, chw, batch, heatmaps, &dims,
                     &f.fwd, &call.sn[2])
        _parse_other(bwd, "displacements_bwd", DISPLACEMENT_C, chw, batch, heatmaps, &dims,
                     &f.bwd, &call.sn[3])
    return 0


cdef bint _mixed(const Frame* f):
    cdef int d = f.heatmaps.dtype
    return f.offsets.dtype != d or f.fwd.dtype != d or f.bwd.dtype != d


cdef object _as_float64(object t):
    """A tensor of another element type than its companions, as float64 (a copy: the
    kernels are compiled per element type, and mixed inputs are rare)."""
    if isinstance(t, Quantized):
        arr, scale, zp = t
        return (arr.astype(np.float64) - float(zp)) * float(scale)
    return t.astype(np.float64)


cdef object _shape_of(object obj):
    if isinstance(obj, Quantized):
        obj = obj[0]
    return tuple(obj.shape)


cdef double _key_threshold(const Tensor* hm, double logit_thr):
    """The smallest raw heatmap value whose logit reaches logit_thr (see
    candidates.scan_candidates)."""
    cdef double lo, hi, q
    if hm.dtype != DT_U8 and hm.dtype != DT_I8:
        return logit_thr
    lo, hi = (0.0, 255.0) if hm.dtype == DT_U8 else (-128.0, 127.0)
    if logit_thr == -INFINITY:
        return lo
    if logit_thr == INFINITY:
        return hi + 1.0
    q = ceil(logit_thr / hm.scale + hm.zero_point)
    if q < lo:
        q = lo
    if q > hi + 1.0:
        q = hi + 1.0
    # settle rounding so that exactly the q with (q - zp) * scale >= logit_thr pass
    while q > lo and (q - 1.0 - hm.zero_point) * hm.scale >= logit_thr:
        q -= 1.0
    while q <= hi and (q - hm.zero_point) * hm.scale < logit_thr:
        q += 1.0
    return q


cdef inline void _advance(Frame* f, const Call* call, Py_ssize_t i) noexcept nogil:
    f.heatmaps.data = call.first.heatmaps.data + i * call.sn[0]
    f.offsets.data = call.first.offsets.data + i * call.sn[1]
    f.fwd.data = call.first.fwd.data + i * call.sn[2]
    f.bwd.data = call.first.bwd.data + i * call.sn[3]


cdef Py_ssize_t _multi_frame(const Frame* f, const MultiParams* p, MultiWork* w,
                             float* kp, double* sc) noexcept nogil:
    """decode_multi_frame compiled for the frame's element type."""
    cdef int dt = f.heatmaps.dtype
    if dt == DT_U8:
        return decode_multi_frame(f, <uint8_t*>NULL, p, w, kp, sc)
    elif dt == DT_F32:
        return decode_multi_frame(f, <float*>NULL, p, w, kp, sc)
    elif dt == DT_I8:
        return decode_multi_frame(f, <int8_t*>NULL, p, w, kp, sc)
    elif dt == DT_F16:
        return decode_multi_frame(f, <uint16_t*>NULL, p, w, kp, sc)
    else:
        return decode_multi_frame(f, <double*>NULL, p, w, kp, sc)


cdef double _single_frame(const Frame* f, float* kp) noexcept nogil:
    """decode_single_frame compiled for the frame's element type."""
    cdef int dt = f.heatmaps.dtype
    if dt == DT_U8:
        return decode_single_frame(f, <uint8_t*>NULL, kp)
    elif dt == DT_F32:
        return decode_single_frame(f, <float*>NULL, kp)
    elif dt == DT_I8:
        return decode_single_frame(f, <int8_t*>NULL, kp)
    elif dt == DT_F16:
        return decode_single_frame(f, <uint16_t*>NULL, kp)
    else:
        return decode_single_frame(f, <double*>NULL, kp)


# Pose is a slotted dataclass: its two fields live at fixed offsets in the object, read
# here once from the class's member descriptors.
cdef Py_ssize_t _score_offset = _slot_offset("score")
cdef Py_ssize_t _keypoints_offset = _slot_offset("keypoints")


cdef Py_ssize_t _slot_offset(str name) except -1:
    descriptor = Pose.__dict__.get(name)
    if type(descriptor) is not MemberDescriptorType or descriptor.__objclass__ is not Pose:
        raise ImportError(f"posefast.Pose.{name} is not a slot: the decoders cannot build poses")
    return (<_MemberDescr*>descriptor).d_member.offset


cdef inline object _pose(double score, object keypoints):
    # Pose's own constructor validates and converts its arguments (about 3 us); the
    # kernels' results are already a float32 (17, 3) array and a float. The object is
    # allocated and its two slots filled directly, as object.__new__ and a member
    # descriptor's set would do (about 470 instructions less a pose, of which a call
    # makes up to thousands; the decoders' tests check that the result is an ordinary
    # frozen Pose).
    cdef PyObject* raw = _generic_alloc(<PyTypeObject*>Pose, 0)
    if raw == NULL:
        raise MemoryError("posefast: out of memory while decoding")
    cdef object pose = <object>raw
    Py_DECREF(pose)  # <object> took a reference of its own
    cdef object value = score
    Py_INCREF(value)
    (<PyObject**>(<char*>raw + _score_offset))[0] = <PyObject*>value
    Py_INCREF(keypoints)
    (<PyObject**>(<char*>raw + _keypoints_offset))[0] = <PyObject*>keypoints
    return pose


cdef object _keypoints_view(cnp.ndarray base, float* data):
    """A C-contiguous float32 (17, 3) view of base at data, as base[i][j] gives (the
    view's base is base), without indexing's parsing."""
    cdef cnp.npy_intp dims[2]
    cdef PyObject* view
    dims[0] = 17
    dims[1] = 3
    Py_INCREF(_float32)  # stolen by the call
    view = _array_new(_ndarray_type, <_Descr*>_float32, 2, dims, NULL, data,
                      cnp.NPY_ARRAY_CARRAY, NULL)
    if view == NULL:
        raise MemoryError("posefast: out of memory while decoding")
    result = <object>view
    Py_DECREF(result)  # <object> took a reference of its own
    Py_INCREF(base)    # stolen by the call
    if _array_set_base(<_ArrayObject*>view, <PyObject*>base) < 0:
        raise MemoryError("posefast: out of memory while decoding")
    return result


cdef object _multi(object heatmaps, object offsets, object displacements_fwd,
                   object displacements_bwd, object output_stride, object max_detections,
                   object score_threshold, object nms_radius, object refine_steps,
                   object layout, bint batch):
    cdef Call call
    cdef Frame f
    cdef MultiParams p
    cdef MultiWork w
    cdef Py_ssize_t i, j, n, m
    cdef double thr, radius
    cdef cnp.ndarray kp_arr
    cdef float* kp
    cdef double* sc = NULL
    cdef Py_ssize_t* counts = NULL
    cdef bint failed = False
    cdef cnp.npy_intp dims[4]
    _parse_call(heatmaps, offsets, displacements_fwd, displacements_bwd, output_stride,
                layout, batch, &call)
    if call.first.height > MAX_MULTI_SIDE or call.first.width > MAX_MULTI_SIDE:
        raise ValueError(
            f"heatmaps: a grid of {call.first.height}x{call.first.width} cells is too large for "
            f"multi-pose decoding (at most {MAX_MULTI_SIDE} rows and columns); "
            f"decode_single_pose has no such limit")
    if isinstance(max_detections, bool) or not isinstance(max_detections, _integer) \
            or max_detections < 0:
        raise ValueError(f"max_detections must be an integer >= 0, got {max_detections!r}")
    if isinstance(refine_steps, bool) or not isinstance(refine_steps, _integer) \
            or not 0 <= refine_steps <= 1000:
        raise ValueError(f"refine_steps must be an integer in [0, 1000], got {refine_steps!r}")
    if isinstance(score_threshold, bool) or not isinstance(score_threshold, _real) \
            or not 0.0 <= score_threshold <= 1.0:
        raise ValueError(f"score_threshold must be in [0, 1] (a number), got {score_threshold!r}")
    thr = score_threshold
    if isinstance(nms_radius, bool) or not isinstance(nms_radius, _real):
        raise ValueError(f"nms_radius must be a finite number >= 0 (pixels), got {nms_radius!r}")
    try:
        radius = nms_radius
    except OverflowError:  # an int beyond a double's range
        radius = INFINITY
    if not (radius >= 0.0 and isfinite(radius)):
        raise ValueError(f"nms_radius must be a finite number >= 0 (pixels), got {nms_radius!r}")
    if _mixed(&call.first):
        return _multi(_as_float64(heatmaps), _as_float64(offsets),
                      _as_float64(displacements_fwd), _as_float64(displacements_bwd),
                      output_stride, max_detections, score_threshold, nms_radius,
                      refine_steps, layout, batch)
    p.refine_steps = refine_steps
    p.score_threshold = thr
    p.nms_r2 = radius * radius
    if thr <= 0.0:
        p.key_threshold = _key_threshold(&call.first.heatmaps, -INFINITY)
    elif thr >= 1.0:
        p.key_threshold = _key_threshold(&call.first.heatmaps, INFINITY)
    else:
        p.key_threshold = _key_threshold(&call.first.heatmaps, log(thr / (1.0 - thr)))
    n = call.n
    # every pose has its own root, one of the grid's keys: no more poses than that
    p.max_detections = min(max_detections, call.first.height * call.first.width * 17)
    m = p.max_detections if p.max_detections > 0 else 1
    dims[0] = n
    dims[1] = m
    dims[2] = 17
    dims[3] = 3
    kp_arr = cnp.PyArray_EMPTY(4, dims, cnp.NPY_FLOAT32, 0)
    kp = <float*>cnp.PyArray_DATA(kp_arr)
    with nogil:
        failed = work_alloc(&w, m, call.first.height, call.first.width, call.first.stride,
                            p.nms_r2) < 0  # frees cleanly even when it fails
        sc = <double*>malloc(n * m * sizeof(double) + n * sizeof(Py_ssize_t))
        if sc != NULL:
            counts = <Py_ssize_t*>(sc + n * m)
        if failed or sc == NULL:
            failed = True
        else:
            f = call.first
            for i in range(n):
                _advance(&f, &call, i)
                counts[i] = _multi_frame(&f, &p, &w, kp + i * m * 51, sc + i * m)
                if counts[i] < 0:
                    failed = True
                    break
        work_free(&w)
    cdef int gc_was_on = 0
    try:
        if failed:
            raise MemoryError("posefast: out of memory while decoding")
        out = []
        gc_was_on = PyGC_Disable()
        for i in range(n):
            out.append([_pose(sc[i * m + j], _keypoints_view(kp_arr, kp + (i * m + j) * 51))
                        for j in range(counts[i])])
    finally:
        if gc_was_on:
            PyGC_Enable()
        free(sc)  # counts too
    return out if batch else out[0]


cdef object _single(object heatmaps, object offsets, object output_stride, object layout,
                    bint batch):
    cdef Call call
    cdef Frame f
    cdef Py_ssize_t i, n
    cdef cnp.ndarray kp_arr
    cdef float* kp
    cdef double one
    cdef double* sc
    cdef cnp.npy_intp dims[3]
    _parse_call(heatmaps, offsets, None, None, output_stride, layout, batch, &call)
    if call.first.offsets.dtype != call.first.heatmaps.dtype:
        return _single(_as_float64(heatmaps), _as_float64(offsets), output_stride, layout, batch)
    n = call.n
    dims[0] = n
    dims[1] = 17
    dims[2] = 3
    if not batch:
        kp_arr = cnp.PyArray_EMPTY(2, &dims[1], cnp.NPY_FLOAT32, 0)
        kp = <float*>cnp.PyArray_DATA(kp_arr)
        with nogil:
            one = _single_frame(&call.first, kp)
        return _pose(one, kp_arr)
    kp_arr = cnp.PyArray_EMPTY(3, dims, cnp.NPY_FLOAT32, 0)
    kp = <float*>cnp.PyArray_DATA(kp_arr)
    sc = <double*>malloc(n * sizeof(double))
    if sc == NULL:
        raise MemoryError("posefast: out of memory while decoding")
    try:
        with nogil:
            f = call.first
            for i in range(n):
                _advance(&f, &call, i)
                sc[i] = _single_frame(&f, kp + i * 51)
        return [_pose(sc[i], kp_arr[i]) for i in range(n)]
    finally:
        free(sc)


#: The vector instructions this build of the kernels uses: "avx2", "sse2", "neon" or
#: "none" (plain C).
SIMD = POSEFAST_SIMD_NAME.decode("ascii")


def cpu_has_avx2():
    """Whether this CPU and its operating system can run the AVX2 build of the kernels,
    which needs AVX2 and F16C (False off x86-64, and with compilers that cannot ask)."""
    return posefast_cpu_has_avx2() != 0


def decode_single_pose(heatmaps, offsets, output_stride, *, layout="hwc"):
    """Decode the single best pose: per keypoint the cell with the highest logit.

    heatmaps: (H, W, 17) logits; offsets: (H, W, 34) pixels, channels [dy x17, dx x17];
    (C, H, W) with ``layout="chw"``; a leading batch dimension of 1 is accepted. Each
    tensor is a float16/32/64 ndarray (any strides) or a ``Quantized`` uint8/int8.
    Keypoint k is at cell * output_stride + offset (pixels of the network input,
    clamped to it), with score sigmoid(logit); the pose score is the mean keypoint
    score. Equal logits: the first cell in row-major order wins.
    """
    return _single(heatmaps, offsets, output_stride, layout, False)


def decode_single_pose_batch(heatmaps, offsets, output_stride, *, layout="hwc"):
    """``decode_single_pose`` for every frame of (N, H, W, C) / (N, C, H, W) tensors in
    one call, without the GIL; returns one Pose per frame."""
    return _single(heatmaps, offsets, output_stride, layout, True)


def decode_multiple_poses(heatmaps, offsets, displacements_fwd, displacements_bwd,
                          output_stride, max_detections=10, score_threshold=0.5,
                          nms_radius=20.0, refine_steps=5, *, layout="hwc"):
    """Decode up to ``max_detections`` people, best first.

    heatmaps: (H, W, 17) logits; offsets: (H, W, 34) pixels, channels [dy x17, dx x17];
    displacements_fwd / displacements_bwd: (H, W, 32) pixels, channels [dy x16, dx x16]
    along ``posefast.SKELETON`` (forward parent -> child, backward child -> parent);
    (C, H, W) with ``layout="chw"``; a leading batch dimension of 1 is accepted. Each
    tensor is a float16/32/64 ndarray with any strides (views such as ``mid[..., :32]``
    are read in place) or a ``Quantized`` uint8/int8 tensor, read without dequantising.
    ``output_stride``: input pixels per grid cell; ``score_threshold`` in [0, 1];
    ``nms_radius`` in pixels of the network input.

    Returns a list of ``Pose`` whose keypoints (17, 3) are x, y in pixels of the
    network input and the keypoint score; the algorithm is described in
    ``posefast.decode``. Raises ValueError naming the argument that is wrong.
    """
    return _multi(heatmaps, offsets, displacements_fwd, displacements_bwd, output_stride,
                  max_detections, score_threshold, nms_radius, refine_steps, layout, False)


def decode_multiple_poses_batch(heatmaps, offsets, displacements_fwd, displacements_bwd,
                                output_stride, max_detections=10, score_threshold=0.5,
                                nms_radius=20.0, refine_steps=5, *, layout="hwc"):
    """``decode_multiple_poses`` for every frame of (N, H, W, C) / (N, C, H, W) tensors
    in one call, without the GIL; returns one list of poses per frame."""
    return _multi(heatmaps, offsets, displacements_fwd, displacements_bwd, output_stride,
                  max_detections, score_threshold, nms_radius, refine_steps, layout, True)
