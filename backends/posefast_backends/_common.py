"""Argument checks every built-in backend shares (model path, input size, options, batch)."""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from posefast.backend import Backend, InputSpec, ModelOutputs


def find_module(*names: str) -> str | None:
    """The first of ``names`` that is importable here, without importing it."""
    for name in names:
        try:
            if importlib.util.find_spec(name) is not None:
                return name
        except (ImportError, ValueError):  # a missing parent package
            continue
    return None


def check_model_path(model_path: Any, suffixes: Iterable[str]) -> Path:
    """``model_path`` as a Path to an existing file; FileNotFoundError naming it otherwise."""
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {str(path)!r} "
                                f"(expected a {' or '.join(suffixes)} file)")
    return path


def check_input_size(input_size: Any) -> tuple[int, int] | None:
    """``input_size`` as (height, width) positive ints, or None for the model's own."""
    if input_size is None:
        return None
    try:
        height, width = (int(v) for v in input_size)
        ok = (height, width) == tuple(input_size) and height > 0 and width > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"input_size must be (height, width) in pixels, two positive "
                         f"integers, got {input_size!r}")
    return height, width


def check_options(backend: str, options: Mapping[str, Any], known: Iterable[str]) -> None:
    """ValueError naming an option ``backend`` does not take, and the ones it does."""
    known = sorted(known)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"backend {backend!r} has no option {unknown[0]!r} "
                         f"(its options: {', '.join(known) or 'none'})")


#: The most threads a backend is asked for: XNNPACK's thread pool crashed the
#: process (SIGSEGV) at 100,000, and far fewer already only cost memory and time.
MAX_THREADS = 1024


def check_threads(value: Any, option: str = "num_threads") -> int | None:
    """A thread count: an int from 1 to MAX_THREADS, or None for the runtime's default."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() \
            or not 1 <= int(value) <= MAX_THREADS:
        raise ValueError(f"{option} must be a whole number from 1 to {MAX_THREADS}, "
                         f"got {value!r}")
    return int(value)


def check_batch(batch: Any, spec: InputSpec) -> np.ndarray:
    """The batch as an (N, height, width, 3) array of ``spec.dtype``; ValueError otherwise."""
    if not isinstance(batch, np.ndarray):
        raise ValueError(f"batch must be a numpy array, got {type(batch).__name__}")
    expected = (spec.height, spec.width, 3)
    if batch.ndim != 4 or batch.shape[1:] != expected or batch.shape[0] < 1:
        raise ValueError(f"batch must have shape (N, {spec.height}, {spec.width}, 3) with N >= 1, "
                         f"got {batch.shape}")
    if batch.dtype != spec.dtype:
        raise ValueError(f"batch must have dtype {np.dtype(spec.dtype).name}, got {batch.dtype}")
    return batch


def pixel_input_spec(height: int, width: int, dtype: Any,
                     quantization: tuple[float, int] | None) -> InputSpec:
    """How to feed RGB pixels 0..255 to a PoseNet input of ``dtype``.

    PoseNet normalises pixels to [-1, 1]. A quantised input (scale 1/128, zero point
    128 in the shared models) maps raw uint8 pixels to exactly that, so pixels go in as
    they are (int8: shifted by -128); a float input takes ``p / 127.5 - 1``.
    """
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return InputSpec(height, width, dtype, 1.0, 0.0)
    if dtype == np.int8:
        zero_point = quantization[1] if quantization else 0
        return InputSpec(height, width, dtype, 1.0, float(zero_point - 128))
    if dtype.kind == "f":
        return InputSpec(height, width, dtype, 1.0 / 127.5, -1.0)
    raise ValueError(f"unsupported model input dtype {dtype} (expected uint8, int8 or float)")


class RunnerBackend(Backend):
    """A backend whose work is done by ``self._runner`` (an object with ``input_spec``,
    ``run(batch)`` and ``close()``), which it drops when closed."""

    _runner: Any = None

    @property
    def input_spec(self) -> InputSpec:
        return self._live().input_spec

    def run(self, batch: np.ndarray) -> ModelOutputs:
        return self._live().run(batch)

    def _live(self) -> Any:
        if self._runner is None:
            raise RuntimeError(f"the {self.name} backend is closed")
        return self._runner

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None
