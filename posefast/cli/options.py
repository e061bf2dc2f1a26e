"""Command-line options shared by the commands that run a model (predict, run).

They map one-to-one onto the keys of ``posefast.config.load_config``'s CLI layer;
an option not given is None, so lower layers (environment, TOML file, defaults)
decide it.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..config import Config, load_config
from ..preprocess import RESIZE_MODES

#: The epilog lines every model-running command shares.
CONFIG_HELP = (
    "configuration: options here override environment variables (POSEFAST_BACKEND, ...),\n"
    "which override the TOML file (--config, POSEFAST_CONFIG or ./posefast.toml),\n"
    "which overrides the defaults. Models are registry names or paths; POSEFAST_MODEL_PATH\n"
    "lists folders holding model files."
)


class UsageError(Exception):
    """A bad argument or configuration: the command exits with status 2."""


def input_size(text: str) -> tuple[int, int]:
    """Parse ``HEIGHTxWIDTH`` (pixels), e.g. ``481x641``."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected HEIGHTxWIDTH in pixels, e.g. 481x641, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"input size must be positive, got {text!r}")
    return h, w


def backend_option(text: str) -> tuple[str, Any]:
    """Parse ``KEY=VALUE``; VALUE is read as JSON when it is (numbers, true/false), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed: Any = json.loads(value)
    except ValueError:
        parsed = value
    return key.strip(), parsed


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """Add the model, backend, pre-processing and decoder options to ``parser``."""
    g = parser.add_argument_group("model and backend")
    g.add_argument("--config", metavar="FILE", help="TOML configuration file")
    g.add_argument("--backend", metavar="NAME",
                   help="inference backend (see `posefast backends`), e.g. tflite, onnx")
    g.add_argument("--backend-option", metavar="KEY=VALUE", type=backend_option,
                   action="append", dest="backend_options",
                   help="backend-specific option, repeatable (e.g. num_threads=2)")
    g.add_argument("--model", metavar="NAME|PATH", help="model registry name or model file")
    g.add_argument("--input-size", metavar="HxW", type=input_size,
                   help="network input size in pixels, e.g. 353x481 (default: the model's)")
    g.add_argument("--output-stride", type=int, choices=(8, 16, 32), metavar="{8,16,32}",
                   help="input pixels per output cell: 8 finest and slowest, 16 the usual, "
                        "32 fastest and coarsest (default: the model's own; the model is "
                        "rewritten once and cached). At 32 the default score threshold is 0.15")
    g.add_argument("--resize", choices=RESIZE_MODES,
                   help="fit images to the input by stretching or by letterboxing "
                        "(keeping the aspect ratio)")
    d = parser.add_argument_group("decoder")
    d.add_argument("--mode", choices=("multi", "single"), help="multi-pose or single-pose")
    d.add_argument("--max-detections", type=positive_int, metavar="N",
                   help="at most N poses per image")
    d.add_argument("--score-threshold", type=float, metavar="S",
                   help="keep poses (and candidate keypoints) scoring at least S (0..1)")
    d.add_argument("--nms-radius", type=float, metavar="PX",
                   help="poses whose keypoints lie within PX network-input pixels are one person")
    d.add_argument("--refine-steps", type=int, metavar="N",
                   help="offset refinement steps per keypoint")


def config_from_args(args: argparse.Namespace) -> Config:
    """The Config the options, environment, TOML file and defaults give; UsageError if invalid."""
    cli = {
        "backend": args.backend,
        "backend_options": dict(args.backend_options) if args.backend_options else None,
        "model": args.model,
        "input_size": args.input_size,
        "output_stride": args.output_stride,
        "resize": args.resize,
        "mode": args.mode,
        "max_detections": args.max_detections,
        "score_threshold": args.score_threshold,
        "nms_radius": args.nms_radius,
        "refine_steps": args.refine_steps,
    }
    try:
        return load_config(cli=cli, config_file=args.config)
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise UsageError(f"configuration: {exc}") from None


def check_usable(config: Config) -> None:
    """Fail early, with the reason, when the backend or the model cannot be used here."""
    from ..models import missing_model_path_dirs, resolve_model
    from ..models.derived import model_for_backend
    from ..registry import get_backend_class

    try:
        cls = get_backend_class(config.backend)
    except (LookupError, TypeError, ImportError) as exc:
        raise UsageError(str(exc)) from None
    availability = cls.availability_for(config.backend_options)
    if not availability:
        raise UsageError(f"backend {config.backend!r} cannot be used here: {availability.reason}")
    for folder in missing_model_path_dirs():
        warn(f"POSEFAST_MODEL_PATH names {str(folder)!r}, which is not a folder; it is skipped")
    try:
        # converting for the backend here, once, means workers find it made
        model_for_backend(resolve_model(config.model), config.backend, config.output_stride)
    except Exception as exc:  # missing file, unknown name, failed download or checksum
        raise UsageError(f"model {config.model!r}: {exc}") from None


def warn(message: str) -> None:
    """Print ``posefast: warning: message`` to stderr."""
    print(f"posefast: warning: {message}", file=sys.stderr)


def fail(message: str, status: int = 2) -> int:
    """Print ``posefast: error: message`` to stderr and return ``status``."""
    print(f"posefast: error: {message}", file=sys.stderr)
    return status
