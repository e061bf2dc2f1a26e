"""The ``tflite-gpu`` backend: TF Lite on the GPU.

Two ways onto a GPU:

- default: ai-edge-litert's ``CompiledModel`` with the GPU hardware accelerator (its
  wheel ships a WebGPU accelerator, which drives the GPU through Vulkan on Linux);
- option ``delegate="/path/libdelegate.so"`` (with ``delegate_options``): an external
  TF Lite delegate loaded by path into the Interpreter -- GPU delegates built for a
  board, or vendor accelerators, ship this way.

Where no GPU can be used, creation fails with ``GpuUnavailableError`` naming the cause
and the remedy; ``fallback="cpu"`` runs on the CPU instead (with a warning).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from posefast.backend import Availability, InputSpec, ModelOutputs
from posefast.model_outputs import PoseNetOutputs, TensorInfo, find_posenet_outputs

from ._common import (RunnerBackend, check_batch, check_input_size, check_model_path,
                      check_options, check_threads, find_module, pixel_input_spec)
from .tflite import INSTALL_HINT, InterpreterRunner, TFLiteBackend, quantization, runtime_module

REMEDY = ('install the GPU driver with its Vulkan support and the Vulkan loader (on Debian/Ubuntu '
          '`apt install libvulkan1 mesa-vulkan-drivers`, or the NVIDIA driver with its Vulkan ICD), '
          'or pass the option fallback="cpu" to run on the CPU, or use the "tflite" backend')
# Where Vulkan drivers (ICDs) register themselves on Linux.
ICD_DIRS = ("/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d",
            "/usr/local/etc/vulkan/icd.d")


class GpuUnavailableError(RuntimeError):
    """No GPU can run the model here; the message names the cause and the remedy,
    ``cause`` the cause alone."""

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause or message


class GpuFallbackWarning(RuntimeWarning):
    """``fallback="cpu"`` was used: no GPU here, the model runs on the CPU."""


def _user_stacklevel() -> int:
    """The ``stacklevel`` for a warning raised by this module's caller that names the
    first line outside posefast (the user's call), not the library's own frames."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in (
            "posefast", "posefast_backends"):
        frame, level = frame.f_back, level + 1
    return level


def _vulkan_loader() -> str | None:
    """The Vulkan loader library that can be opened, or None."""
    names = {"win32": ("vulkan-1.dll",), "darwin": ("libvulkan.1.dylib", "libMoltenVK.dylib")}
    for name in names.get(sys.platform, ("libvulkan.so.1", "libvulkan.so")):
        try:
            ctypes.CDLL(name)
            return name
        except OSError:
            continue
    return ctypes.util.find_library("vulkan")


def _vulkan_drivers() -> list[str]:
    """Vulkan driver manifests (ICDs) the loader will find on Linux."""
    for variable in ("VK_DRIVER_FILES", "VK_ICD_FILENAMES"):
        if os.environ.get(variable):
            return [p for p in os.environ[variable].split(os.pathsep) if os.path.exists(p)]
    data_dirs = os.environ.get("XDG_DATA_DIRS", "").split(os.pathsep)
    dirs = list(ICD_DIRS) + [os.path.join(d, "vulkan", "icd.d") for d in data_dirs if d]
    return sorted({f for d in dirs for f in glob.glob(os.path.join(d, "*.json"))})


def _gpu_devices() -> list[str]:
    """GPU device nodes on Linux (DRM render nodes, NVIDIA devices)."""
    return glob.glob("/dev/dri/renderD*") + glob.glob("/dev/nvidia[0-9]*")


def gpu_problem() -> str | None:
    """Why the GPU accelerator cannot work here, or None when it seems usable.

    Checks what can be checked without creating a model: ai-edge-litert, and on
    Linux a Vulkan loader, a Vulkan driver and a GPU device node.
    """
    if find_module("ai_edge_litert.compiled_model") is None:
        return f"module ai_edge_litert is not installed ({INSTALL_HINT})"
    if sys.platform == "darwin":
        return None  # WebGPU runs on Metal there
    if _vulkan_loader() is None:
        return "no Vulkan driver found: the Vulkan loader (libvulkan.so.1) is not installed"
    if sys.platform.startswith("linux"):
        if not _vulkan_drivers():
            return ("no Vulkan driver found: the Vulkan loader is installed but no driver "
                    f"(ICD manifest in {', '.join(ICD_DIRS[:2])} or VK_DRIVER_FILES)")
        if not _gpu_devices():
            return "no GPU adapter: no GPU device (/dev/dri/renderD*, /dev/nvidia*) is present"
    return None


class CompiledModelRunner:
    """ai-edge-litert's CompiledModel on the chosen hardware accelerator."""

    def __init__(self, model_path: Path, input_size: tuple[int, int] | None,
                 num_threads: int | None, gpu: bool, precision: str = "fp32") -> None:
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.cpu_options import CpuOptions
        from ai_edge_litert.gpu_options import GpuOptions
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
        from ai_edge_litert.options import Options

        # The CompiledModel API does not report quantisation: read it from the Interpreter.
        described = runtime_module().Interpreter(model_path=str(model_path))
        in_detail = described.get_input_details()[0]
        out_details = {d["name"]: d for d in described.get_output_details()}
        del described
        accelerators = HardwareAccelerator.CPU
        if gpu:  # the CPU takes any operator the GPU cannot run
            accelerators = HardwareAccelerator.GPU | HardwareAccelerator.CPU
        # fp16 on the GPU moves keypoints by up to 16 px (481x641) against the CPU; fp32
        # keeps them within 2.2 px in the same time (issue 8's measurements on an H200).
        options = Options(hardware_accelerators=accelerators,
                          cpu_options=CpuOptions(num_threads=num_threads or 1),
                          gpu_options=GpuOptions(enforce_f32=precision == "fp32"))
        try:
            self.model = CompiledModel.from_file(str(model_path), options=options)
        except RuntimeError as exc:
            if gpu:
                cause = (f"the GPU accelerator could not compile {model_path} (no usable GPU "
                         f"adapter?): {' '.join(str(exc).split())}")
                raise GpuUnavailableError(f"tflite-gpu: {cause}. Remedy: {REMEDY}",
                                          cause) from None
            raise ValueError(f"cannot load {str(model_path)!r} as a TF Lite model: {exc}") from None
        self.signature = next(iter(self.model.get_signature_list()))
        names = self.model.get_signature_list()[self.signature]
        model_hw = tuple(int(v) for v in in_detail["shape"][1:3])
        height, width = input_size or model_hw
        if (height, width) != model_hw:
            try:
                self.model.resize_input_tensor(0, [1, height, width, 3], strict=False)
            except RuntimeError as exc:
                raise ValueError(f"the LiteRT CompiledModel cannot resize the input of "
                                 f"{model_path} to {height}x{width}: {exc}") from None
        self.output_names = list(names["outputs"])
        # shapes at the model's own input size, which fix its output stride
        self.outputs: PoseNetOutputs = find_posenet_outputs(
            [TensorInfo(n, tuple(int(v) for v in out_details[n]["shape"]),
                        quantization(out_details[n])) for n in self.output_names],
            layout="hwc", model=str(model_path), input_hw=model_hw)
        self.input_spec: InputSpec = pixel_input_spec(height, width, in_detail["dtype"],
                                                      quantization(in_detail))
        self.inputs = self.model.create_input_buffers(0)
        self.buffers = self.model.create_output_buffers(0)
        self.batch_size = 1

    def run(self, batch: np.ndarray) -> ModelOutputs:
        """Run ``batch`` (N, H, W, 3) in one call, the input resized to N images when N
        changes (kept for the next call of the same N)."""
        batch = check_batch(batch, self.input_spec)
        if batch.shape[0] != self.batch_size:
            self._resize_batch(batch.shape[0])
        details = self.model.get_output_tensor_details(self.signature)
        shapes = [tuple(details[n]["shape"]) for n in self.output_names]
        dtypes = [np.dtype(details[n]["dtype"]) for n in self.output_names]
        self.inputs[0].write(np.ascontiguousarray(batch))
        self.model.run_by_index(0, self.inputs, self.buffers)
        # read() copies into a new array: the buffers are reused by the next run
        arrays = [buffer.read(int(np.prod(s)), d).reshape((batch.shape[0],) + tuple(s[1:]))
                  for buffer, s, d in zip(self.buffers, shapes, dtypes)]
        return self.outputs.build(arrays, (self.input_spec.height, self.input_spec.width))

    def _resize_batch(self, n: int) -> None:
        spec = self.input_spec
        try:
            self.model.resize_input_tensor(0, [n, spec.height, spec.width, 3], strict=False)
        except RuntimeError as exc:
            raise ValueError(f"the LiteRT CompiledModel cannot run a batch of {n} images: "
                             f"{exc}") from None
        self.inputs = self.model.create_input_buffers(0)
        self.buffers = self.model.create_output_buffers(0)
        self.batch_size = n

    def close(self) -> None:
        self.inputs = self.buffers = []
        self.model = None


class TFLiteGpuBackend(RunnerBackend):
    """TF Lite on the GPU (LiteRT's GPU accelerator, or an external delegate by path).

    Options: ``fallback`` (None or "cpu": run on the CPU, with a warning, where no GPU
    can be used), ``delegate`` (path of an external TF Lite delegate library),
    ``delegate_options`` (dict of strings for it), ``num_threads`` (CPU threads for
    operators left to the CPU, and for the fallback), ``precision`` ("fp32", the
    default, or "fp16": the GPU's arithmetic; fp16 moves keypoints by up to 16 px at
    481x641 against the CPU, fp32 by 2.2 px at the same speed).
    """

    name = "tflite-gpu"
    model_suffixes = (".tflite",)
    threads_option = "num_threads"
    options = ("fallback", "delegate", "delegate_options", "num_threads", "precision")

    @classmethod
    def job_defaults(cls, options: Mapping[str, Any]) -> tuple[int, int]:
        # Measured on an H200 with 16 cores over 4200 images (docs/benchmarks.md): one
        # process waits on its own host work (the WebGPU path uploads, encodes and reads
        # back on the CPU; then decoding): 145 images/s at batch 1, 212 at batch 4. More
        # processes overlap that work: 338 (2), 408 (3), 388 (4) at batch 4; 16 contend
        # (69, the figure). plan_job gives fewer where the cores are few.
        if (options.get("fallback") == "cpu" and options.get("delegate") is None
                and gpu_problem() is not None):
            # it will run on the CPU (see __init__): planned as the CPU backend is, a
            # process per core, not as one device shared by a few
            return TFLiteBackend.job_defaults(options)
        return 3, 4

    @classmethod
    def availability(cls) -> Availability:
        problem = gpu_problem()
        if problem:
            return Availability(False, f"{problem}; remedy: {REMEDY}")
        return Availability(True, "a GPU seems usable (Vulkan loader, driver and device found); "
                                  "creating the backend confirms it")

    @classmethod
    def availability_for(cls, options: Mapping[str, Any]) -> Availability:
        """With ``fallback="cpu"`` or a ``delegate``, usable wherever ai-edge-litert is;
        creation says whether the GPU or the delegate is actually used."""
        gpu_availability = cls.availability()
        if gpu_availability or find_module("ai_edge_litert.compiled_model") is None:
            return gpu_availability
        if options.get("delegate") is not None:
            return Availability(True, f"the delegate {options['delegate']} is loaded at creation")
        if options.get("fallback") == "cpu":
            return Availability(True, f"no GPU ({gpu_availability.reason.split(';')[0]}): "
                                      f"runs on the CPU (fallback='cpu')")
        return gpu_availability

    def __init__(self, model_path: str, *, input_size: tuple[int, int] | None = None,
                 **options: Any) -> None:
        check_options(self.name, options, self.options)
        fallback = options.get("fallback")
        if fallback not in (None, "cpu"):
            raise ValueError(f"fallback must be 'cpu' or None, got {fallback!r}")
        precision = options.get("precision", "fp32")
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"precision must be 'fp32' or 'fp16', got {precision!r}")
        path = check_model_path(model_path, (".tflite",))
        size = check_input_size(input_size)
        threads = check_threads(options.get("num_threads"))
        delegate = options.get("delegate")
        self.device = "gpu"
        try:
            if delegate is not None:
                self._runner = InterpreterRunner(
                    path, size, threads, [self._load_delegate(delegate, options)])
                self.device = f"delegate {delegate}"
            else:
                problem = gpu_problem()
                if problem:
                    raise GpuUnavailableError(f"tflite-gpu cannot use a GPU here: {problem}. "
                                              f"Remedy: {REMEDY}", problem)
                self._runner = CompiledModelRunner(path, size, threads, gpu=True,
                                                   precision=precision)
        except GpuUnavailableError as exc:
            if fallback != "cpu":
                raise
            # what was asked for happened: no remedy to give, and one line, at the
            # user's call rather than a line of posefast's
            warnings.warn(f"tflite-gpu: no GPU can be used here ({exc.cause}); running on "
                          f"the CPU instead, as fallback=\"cpu\" asks",
                          GpuFallbackWarning, stacklevel=_user_stacklevel())
            self._runner = CompiledModelRunner(path, size, threads, gpu=False)
            self.device = "cpu (fallback)"

    @staticmethod
    def _load_delegate(library: Any, options: dict) -> Any:
        delegate_options = options.get("delegate_options") or {}
        if not isinstance(delegate_options, dict):
            raise ValueError(f"delegate_options must be a table of strings, got {delegate_options!r}")
        try:
            # open it first: a library that fails to open inside load_delegate leaves a
            # half-made Delegate whose __del__ raises
            ctypes.CDLL(str(library))
            runtime = runtime_module()
            # tensorflow.lite keeps it under experimental; the others at the top level
            load = getattr(runtime, "load_delegate", None) or runtime.experimental.load_delegate
            return load(str(library), delegate_options)
        except (OSError, ValueError, RuntimeError, AttributeError) as exc:
            cause = f"cannot load the delegate library {str(library)!r}: {exc}"
            raise GpuUnavailableError(
                f"tflite-gpu {cause}. Remedy: check the path and that the library was built "
                f"for this TF Lite runtime, or pass fallback=\"cpu\"", cause) from None
