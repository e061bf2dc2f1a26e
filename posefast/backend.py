"""The contract every inference backend implements (built-in or third-party).

A backend is a class registered in the entry-point group ``posefast.backends``.
The core finds it through ``posefast.backend_registry`` and never imports it by name.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping, Union

import numpy as np

from .quantized import Quantized

Tensor = Union[np.ndarray, Quantized]


@dataclass(frozen=True)
class Availability:
    """Whether a backend can be used on this machine, and if not, why (and what to do)."""

    usable: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.usable


@dataclass(frozen=True)
class InputSpec:
    """What a backend wants as input.

    The network input is a batch (N, height, width, 3) of RGB images in the
    backend's ``dtype``. Pixels p in 0..255 are fed as ``p * scale + offset``:
    (1.0, 0.0) for raw uint8 models, (1/127.5, -1.0) for float models in [-1, 1].
    """

    height: int
    width: int
    dtype: np.dtype
    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class ModelOutputs:
    """The raw PoseNet outputs of one batch, as the runtime produced them.

    Each tensor is batched: (N, H, W, C) for ``layout="hwc"`` or (N, C, H, W) for
    ``layout="chw"``; float tensors as ndarrays, quantised ones as ``Quantized``.
    heatmaps: C=17 logits; offsets: C=34 pixels [dy x17, dx x17];
    displacements_fwd / displacements_bwd: C=32 pixels [dy x16, dx x16]
    (may be views into one 64-channel tensor).
    """

    heatmaps: Tensor
    offsets: Tensor
    displacements_fwd: Tensor
    displacements_bwd: Tensor
    output_stride: int
    layout: Literal["hwc", "chw"] = "hwc"
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(abc.ABC):
    """An inference runtime running a PoseNet model.

    Subclasses set ``name`` and implement everything abstract. They are created
    from a model file and keyword options (backend-specific, e.g. ``num_threads``).
    """

    #: The name users select it by (``backend = "tflite"``).
    name: ClassVar[str]

    @classmethod
    @abc.abstractmethod
    def availability(cls) -> Availability:
        """Whether this backend can run here, checked without creating it."""

    @classmethod
    def availability_for(cls, options: Mapping[str, Any]) -> Availability:
        """Whether this backend can run here with these ``options`` (a backend whose
        options change that, e.g. a CPU fallback, overrides this); ``availability()``
        by default."""
        return cls.availability()

    @classmethod
    def job_defaults(cls, options: Mapping[str, Any]) -> tuple[int, int]:
        """How ``posefast run`` should use this backend with these ``options``:
        (the number of inference processes that share the device, as for a GPU, 0 for
        a CPU runtime that gets a process per core; the default batch size, images per
        ``run`` call). (0, 1) by default. (A bool first is read as 0 or 1 process.)"""
        return 0, 1

    @abc.abstractmethod
    def __init__(self, model_path: str, *, input_size: tuple[int, int] | None = None,
                 **options: Any) -> None:
        """Load ``model_path``; ``input_size`` is (height, width) in pixels, or the model's own."""

    @property
    @abc.abstractmethod
    def input_spec(self) -> InputSpec:
        """The input size, dtype and normalisation."""

    @abc.abstractmethod
    def run(self, batch: np.ndarray) -> ModelOutputs:
        """Run a batch (N, height, width, 3) already in ``input_spec.dtype`` and normalised."""

    def close(self) -> None:
        """Release the runtime's resources."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
