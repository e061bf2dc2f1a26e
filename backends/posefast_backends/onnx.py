"""The ``onnx`` backend: ONNX Runtime with a choice of execution providers.

NCHW outputs are handed to the decoder as they are (layout "chw"), never transposed.
Models made by ``posefast convert`` take any input size; other fixed-shape models run
only at their own size.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np

from posefast.backend import Availability, Backend, InputSpec, ModelOutputs
from posefast.models.convert import META_OFFSET, META_SCALE, META_SIZE, META_STRIDE
from posefast.model_outputs import TensorInfo, detect_layout, find_posenet_outputs

from ._common import (check_batch, check_input_size, check_model_path, check_options,
                      check_threads, find_module, pixel_input_spec)

INSTALL_HINT = 'pip install "posefast[onnx]" (onnxruntime)'

#: Short provider names users may write; full names ("...ExecutionProvider") pass through.
PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "qnn": "QNNExecutionProvider",
    "xnnpack": "XnnpackExecutionProvider",
}


def provider_names(providers: Any) -> list[str]:
    """Execution provider names from a list or a comma-separated string (short names allowed)."""
    if providers is None:
        return ["CPUExecutionProvider"]
    if isinstance(providers, str):
        providers = providers.split(",")
    if not isinstance(providers, (list, tuple)) or not all(isinstance(p, str) for p in providers):
        raise ValueError(f"providers must be a list of names or a comma-separated string, "
                         f"got {providers!r}")
    names = [PROVIDER_ALIASES.get(p.strip().lower(), p.strip()) for p in providers if p.strip()]
    if not names:
        raise ValueError("providers must name at least one execution provider")
    return names


#: The output types the decoder reads (ONNX Runtime gives no quantisation parameters
#: for integer outputs, so their values would mean nothing).
_FLOAT_TYPES = ("tensor(float)", "tensor(float16)", "tensor(double)")


def _dim(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None  # symbolic -> None


class OnnxBackend(Backend):
    """ONNX Runtime.

    Options: ``providers`` (list or comma-separated string, default CPU; short names
    cpu, cuda, tensorrt, openvino, coreml, directml map to ONNX Runtime's; others pass
    through), ``num_threads`` (intra-op threads; default: ONNX Runtime's choice).
    """

    name = "onnx"
    #: posefast converts a TF Lite model for it (``posefast.models.derived``).
    model_suffixes = (".onnx",)
    threads_option = "num_threads"
    options = ("num_threads", "providers")

    @classmethod
    def job_defaults(cls, options: Mapping[str, Any]) -> tuple[int, int]:
        # A device provider (CUDA, TensorRT, ...) first: three processes share the device
        # (as tflite-gpu measured: one's host work overlaps the others' network calls),
        # and the batch dimension of `posefast convert` models is dynamic. Not measured
        # on such a device (no CUDA onnxruntime there); on the CPU one image per call.
        first = provider_names(options.get("providers"))[0]
        if first in ("CPUExecutionProvider", "XnnpackExecutionProvider"):
            return 0, 1
        return 3, 8

    @classmethod
    def availability(cls) -> Availability:
        if find_module("onnxruntime") is None:
            return Availability(False, f"module onnxruntime is not installed: {INSTALL_HINT}")
        import onnxruntime

        return Availability(True, "providers: " + ", ".join(onnxruntime.get_available_providers()))

    def __init__(self, model_path: str, *, input_size: tuple[int, int] | None = None,
                 **options: Any) -> None:
        check_options(self.name, options, self.options)
        path = check_model_path(model_path, (".onnx",))
        size = check_input_size(input_size)
        threads = check_threads(options.get("num_threads"))
        providers = provider_names(options.get("providers"))
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ImportError(f"the onnx backend needs onnxruntime: {INSTALL_HINT}") from exc
        available = ort.get_available_providers()
        # A list is an order of preference: "cuda,cpu" runs on CUDA where it is, else on
        # the CPU. Only when none of those listed is here is it an error.
        usable = [p for p in providers if p in available]
        if not usable:
            raise ValueError(f"execution provider {' / '.join(providers)} is not available in "
                             f"this onnxruntime (available: {', '.join(available)}); install "
                             f"the onnxruntime build that has it, or choose another")
        self.skipped_providers = [p for p in providers if p not in available]
        providers = usable
        session_options = ort.SessionOptions()
        if threads is not None:
            session_options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(str(path), sess_options=session_options,
                                                 providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ValueError(f"cannot load {str(path)!r} as an ONNX model: {exc}") from None
        self._spec, self._chw_input, self._dynamic_batch = self._input(path, size)
        outputs = self._session.get_outputs()
        for o in outputs:
            if o.type not in _FLOAT_TYPES:
                raise ValueError(f"{path}: output {o.name!r} is {o.type}, but PoseNet's outputs "
                                 f"are float tensors (float16, float or double); is this model "
                                 f"a PoseNet?")
        self._output_names = [o.name for o in outputs]
        infos = [TensorInfo(o.name, tuple(_dim(d) for d in o.shape)) for o in outputs]
        # outputs usually share the input's layout, but recognition goes by channel counts
        layout = detect_layout(infos, prefer="chw" if self._chw_input else "hwc")
        self._outputs = find_posenet_outputs(infos, layout=layout, model=str(path),
                                             input_hw=self._fixed_hw)
        meta = self._session.get_modelmeta().custom_metadata_map
        if self._outputs.stride is None and META_STRIDE in meta:  # from `posefast convert`
            self._outputs = replace(self._outputs, stride=int(meta[META_STRIDE]))

    def _input(self, path: Any, size: tuple[int, int] | None) -> tuple[InputSpec, bool, bool]:
        inputs = self._session.get_inputs()
        shape = list(inputs[0].shape) if len(inputs) == 1 else []
        if len(shape) != 4 or 3 not in (shape[1], shape[3]):
            raise ValueError(f"{path} is not a PoseNet: expected one image input (N, 3, H, W) or "
                             f"(N, H, W, 3), got {[(i.name, i.shape) for i in inputs]}")
        chw = shape[1] == 3
        model_h, model_w = (shape[2], shape[3]) if chw else (shape[1], shape[2])
        fixed = _dim(model_h), _dim(model_w)
        self._fixed_hw = None if None in fixed else fixed
        meta = self._session.get_modelmeta().custom_metadata_map
        if size is None and None in fixed and META_SIZE in meta:
            size = tuple(int(v) for v in meta[META_SIZE].split("x"))  # from `posefast convert`
        if size is None:
            if None in fixed:
                raise ValueError(f"{path} takes any input size: give input_size (height, width)")
            size = fixed  # type: ignore[assignment]
        elif any(f is not None and s != f for s, f in zip(size, fixed)):
            raise ValueError(
                f"{path} has a fixed input size {model_h}x{model_w} and ONNX Runtime cannot "
                f"resize it at run time, so {size[0]}x{size[1]} is not possible; convert the "
                f"TF Lite model with `posefast convert`, which makes the size dynamic")
        self._input_name = inputs[0].name
        dtype = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8,
                 "tensor(int8)": np.int8, "tensor(float16)": np.float16}.get(inputs[0].type)
        if dtype is None:
            raise ValueError(f"{path}: unsupported input type {inputs[0].type}")
        spec = pixel_input_spec(size[0], size[1], dtype, None)
        if META_SCALE in meta and np.dtype(dtype).kind == "f":
            # written by `posefast convert`: exactly what the quantised TF Lite input saw
            spec = InputSpec(size[0], size[1], np.dtype(dtype), float(meta[META_SCALE]),
                             float(meta[META_OFFSET]))
        return spec, chw, _dim(shape[0]) is None

    @property
    def input_spec(self) -> InputSpec:
        return self._spec

    def run(self, batch: np.ndarray) -> ModelOutputs:
        """Run ``batch`` (N, H, W, 3); outputs are the arrays ONNX Runtime allocated (ours)."""
        if self._session is None:
            raise RuntimeError(f"the {self.name} backend is closed")
        batch = check_batch(batch, self._spec)
        feed = np.ascontiguousarray(batch.transpose(0, 3, 1, 2) if self._chw_input else batch)
        if self._dynamic_batch or feed.shape[0] == 1:
            arrays = self._session.run(self._output_names, {self._input_name: feed})
        else:  # a fixed batch of one: run the images one by one
            runs = [self._session.run(self._output_names, {self._input_name: feed[n:n + 1]})
                    for n in range(feed.shape[0])]
            arrays = [np.concatenate(parts) for parts in zip(*runs)]
        return self._outputs.build(arrays, (self._spec.height, self._spec.width))

    def close(self) -> None:
        self._session = None

    def providers(self) -> Sequence[str]:
        """The execution providers the session uses, in priority order."""
        return self._session.get_providers()
