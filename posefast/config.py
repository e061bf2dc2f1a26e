"""One configuration for backend, model, input size and decoder.

Layers, highest first: explicit API arguments, CLI flags, environment variables
(``POSEFAST_BACKEND``, ...), a TOML file (``--config``, ``POSEFAST_CONFIG`` or
``posefast.toml`` in the working directory), then the defaults below.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

DEFAULT_MODEL = "posenet_mobilenet_v1_075_481_641_quant"


@dataclass
class DecoderConfig:
    """Decoder parameters (see ``posefast.decode_multiple_poses``)."""

    mode: Literal["multi", "single"] = "multi"
    max_detections: int = 10
    score_threshold: float = 0.5
    nms_radius: float = 20.0  # pixels of the network input
    refine_steps: int = 5


@dataclass
class Config:
    """Everything needed to build a ``PoseEstimator``."""

    backend: str = "tflite"
    backend_options: dict[str, Any] = field(default_factory=dict)
    model: str = DEFAULT_MODEL  # a registry name or a path to a model file
    input_size: tuple[int, int] | None = None  # (height, width) pixels; None: the model's own
    resize: Literal["stretch", "letterbox"] = "stretch"
    decoder: DecoderConfig = field(default_factory=DecoderConfig)


def load_config(api: Mapping[str, Any] | None = None, cli: Mapping[str, Any] | None = None,
                config_file: str | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Resolve the layers into one validated Config.

    ``api`` and ``cli`` are flat mappings with the keys of Config and DecoderConfig
    (``backend``, ``backend_options``, ``model``, ``input_size``, ``resize``, ``mode``,
    ``max_detections``, ``score_threshold``, ``nms_radius``, ``refine_steps``); None
    values mean "not given". ``env`` defaults to ``os.environ``.
    """
    raise NotImplementedError("config layers: issue 3")
