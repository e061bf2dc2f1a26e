"""The ``tflite`` backend: TF Lite on the CPU (XNNPACK), through ai-edge-litert's Interpreter.

Falls back to ``tflite_runtime`` or ``tensorflow.lite`` only when ai-edge-litert is not
installed. Quantised outputs go to the decoder as ``Quantized``, never dequantised.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from posefast.backend import Availability, InputSpec, ModelOutputs
from posefast.model_outputs import TensorInfo, find_posenet_outputs

from ._common import (RunnerBackend, check_batch, check_input_size, check_model_path,
                      check_options, check_threads, find_module, pixel_input_spec)

#: Where an Interpreter can come from, best first: (module, what to install).
RUNTIMES = (
    ("ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow", "tensorflow"),
)
INSTALL_HINT = 'pip install "posefast[tflite]" (ai-edge-litert)'


def runtime_module() -> Any:
    """The module providing ``Interpreter`` and ``load_delegate`` (ImportError if none)."""
    name = find_module(*(module for module, _ in RUNTIMES))
    if name is None:
        raise ImportError(f"no TF Lite runtime is installed: {INSTALL_HINT}")
    module = importlib.import_module(name)
    return module.lite if name == "tensorflow" else module


def runtime_availability() -> Availability:
    name = find_module(*(module for module, _ in RUNTIMES))
    if name is None:
        return Availability(False, f"module ai_edge_litert is not installed: {INSTALL_HINT}")
    return Availability(True, f"using {name}")


def quantization(detail: dict) -> tuple[float, int] | None:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return (float(scale), int(zero_point)) if scale else None


class InterpreterRunner:
    """A TF Lite Interpreter with its PoseNet input resized and its outputs recognised.

    Shared by ``tflite`` and the delegate / CPU-fallback paths of ``tflite-gpu``.
    """

    def __init__(self, model_path: Path, input_size: tuple[int, int] | None,
                 num_threads: int | None, delegates: Sequence[Any] = ()) -> None:
        runtime = runtime_module()
        kwargs: dict[str, Any] = {"model_path": str(model_path)}
        if num_threads is not None:
            kwargs["num_threads"] = num_threads
        if delegates:
            kwargs["experimental_delegates"] = list(delegates)
        try:
            # ai-edge-litert applies XNNPACK by default (OpResolverType.AUTO).
            self.interpreter = runtime.Interpreter(**kwargs)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"cannot load {str(model_path)!r} as a TF Lite model: {exc}") from None
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4 or inputs[0]["shape"][3] != 3:
            raise ValueError(f"{model_path} is not a PoseNet: expected one (1, H, W, 3) image "
                             f"input, got {[(d['name'], tuple(d['shape'])) for d in inputs]}")
        detail = inputs[0]
        self.input_index = detail["index"]
        model_hw = (int(detail["shape"][1]), int(detail["shape"][2]))
        height, width = input_size or model_hw
        # Read before resizing, while the output shapes are those of the model's own size.
        outputs = self.interpreter.get_output_details()
        self.outputs = find_posenet_outputs(
            [TensorInfo(d["name"], tuple(int(v) for v in d["shape"]), quantization(d))
             for d in outputs], layout="hwc", model=str(model_path), input_hw=model_hw)
        self.output_indices = [d["index"] for d in outputs]
        if (height, width) != model_hw:
            try:
                self.interpreter.resize_tensor_input(self.input_index, [1, height, width, 3])
            except (ValueError, RuntimeError) as exc:
                raise ValueError(f"this TF Lite runtime cannot resize the input of {model_path} "
                                 f"from {model_hw[0]}x{model_hw[1]} to {height}x{width}: {exc}") \
                    from None
        try:
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"cannot prepare {model_path} for input {height}x{width}: {exc}") \
                from None
        self.batch_size = 1
        # Output shapes may be stale until the first invoke; build() checks the real ones.
        self.input_spec: InputSpec = pixel_input_spec(height, width, detail["dtype"],
                                                      quantization(detail))

    def run(self, batch: np.ndarray) -> ModelOutputs:
        """Run ``batch`` (N, H, W, 3) in one invoke, the input tensor resized to N
        images when N changes (kept for the next call of the same N); the outputs are
        arrays this object no longer touches (``get_tensor`` copies out of the
        interpreter's reused buffers)."""
        batch = check_batch(batch, self.input_spec)
        interpreter = self.interpreter
        if batch.shape[0] != self.batch_size:
            self._resize_batch(batch.shape[0])
        interpreter.set_tensor(self.input_index, np.ascontiguousarray(batch))
        interpreter.invoke()
        arrays = [interpreter.get_tensor(i) for i in self.output_indices]
        return self.outputs.build(arrays, (self.input_spec.height, self.input_spec.width))

    def _resize_batch(self, n: int) -> None:
        shape = [n, self.input_spec.height, self.input_spec.width, 3]
        try:
            self.interpreter.resize_tensor_input(self.input_index, shape)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"this TF Lite runtime cannot run a batch of {n} images: {exc}") \
                from None
        self.batch_size = n

    def close(self) -> None:
        self.interpreter = None


class TFLiteBackend(RunnerBackend):
    """TF Lite on the CPU with XNNPACK.

    Options: ``num_threads`` (int >= 1; default: the runtime's choice).
    ``input_size`` (height, width) resizes the input tensor (PoseNet is fully
    convolutional); outputs are HWC, quantised ones as ``Quantized``.
    """

    name = "tflite"
    model_suffixes = (".tflite",)
    #: The option that sets the thread count (the batch runner divides cores by it).
    threads_option = "num_threads"
    options = ("num_threads",)

    @classmethod
    def availability(cls) -> Availability:
        return runtime_availability()

    def __init__(self, model_path: str, *, input_size: tuple[int, int] | None = None,
                 **options: Any) -> None:
        check_options(self.name, options, self.options)
        path = check_model_path(model_path, (".tflite",))
        self._runner = InterpreterRunner(
            path, check_input_size(input_size), check_threads(options.get("num_threads")))
