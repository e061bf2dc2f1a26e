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

from ..config import MAX_INPUT_SIDE, Config, resolve_config
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
    if h > MAX_INPUT_SIDE or w > MAX_INPUT_SIDE:
        raise argparse.ArgumentTypeError(
            f"input size at most {MAX_INPUT_SIDE}x{MAX_INPUT_SIDE} pixels, got {text!r}")
    return h, w


def unit_float(text: str) -> float:
    """A number in [0, 1] (a score)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def backend_option(text: str) -> tuple[str, Any]:
    """Parse ``KEY=VALUE``; VALUE is read as JSON when it is (numbers, true/false), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed: Any = json.loads(value)
    except (ValueError, RecursionError):
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


def int_up_to(most: int):
    """An argparse type: a whole number from 1 to ``most``."""
    def parse(text: str) -> int:
        value = positive_int(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"expected a number from 1 to {most}, got {value}")
        return value
    return parse


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """Add the model, backend, pre-processing and decoder options to ``parser``.

    The defaults shown are the built-in ones; the environment and the TOML file change
    them (``posefast config`` shows what applies here, and why)."""
    default = Config()
    dec = default.decoder
    g = parser.add_argument_group("model and backend")
    g.add_argument("--config", metavar="FILE",
                   help="TOML configuration file (default: $POSEFAST_CONFIG, else "
                        "./posefast.toml if there is one)")
    g.add_argument("--backend", metavar="NAME",
                   help=f"inference backend (see `posefast backends`), e.g. tflite, onnx "
                        f"(default: {default.backend})")
    g.add_argument("--backend-option", metavar="KEY=VALUE", type=backend_option,
                   action="append", dest="backend_options",
                   help="backend-specific option, repeatable (e.g. num_threads=2; default: "
                        "none, the backend's own choices)")
    g.add_argument("--model", metavar="NAME|PATH",
                   help=f"model registry name or model file (default: {default.model})")
    g.add_argument("--input-size", metavar="HxW", type=input_size,
                   help="network input size in pixels, e.g. 353x481 (default: the model's)")
    g.add_argument("--output-stride", type=int, choices=(8, 16, 32), metavar="{8,16,32}",
                   help="input pixels per output cell: 8 finest and slowest, 16 the usual, "
                        "32 fastest and coarsest (default: the model's own; the model is "
                        "rewritten once and cached). At 32 the default score threshold is 0.15")
    g.add_argument("--resize", choices=RESIZE_MODES,
                   help=f"fit images to the input by stretching or by letterboxing "
                        f"(keeping the aspect ratio) (default: {default.resize})")
    g.add_argument("-v", "--verbose", action="store_true",
                   help="let the inference runtime's own log lines (INFO, WARNING), and "
                        "with --engine ray Ray's, through to stderr")
    d = parser.add_argument_group("decoder")
    d.add_argument("--mode", choices=("multi", "single"),
                   help=f"multi-pose or single-pose (default: {dec.mode})")
    d.add_argument("--max-detections", type=positive_int, metavar="N",
                   help=f"at most N poses per image (default: {dec.max_detections})")
    d.add_argument("--score-threshold", type=float, metavar="S",
                   help=f"keep poses (and candidate keypoints) scoring at least S (0..1) "
                        f"(default: {dec.score_threshold})")
    d.add_argument("--nms-radius", type=float, metavar="PX",
                   help=f"poses whose keypoints lie within PX network-input pixels are one "
                        f"person (default: {dec.nms_radius})")
    d.add_argument("--refine-steps", type=int, metavar="N",
                   help=f"offset refinement steps per keypoint (default: {dec.refine_steps})")


def config_from_args(args: argparse.Namespace) -> Config:
    """The Config the options, environment, TOML file and defaults give; UsageError if invalid."""
    return resolve_from_args(args)[0]


def resolve_from_args(args: argparse.Namespace) -> tuple[Config, dict[str, str]]:
    """The Config, and where each value came from (see ``posefast.config.resolve_config``);
    UsageError if invalid."""
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
        return resolve_config(cli=cli, config_file=args.config)
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise UsageError(f"configuration: {exc}") from None


def _from(origins: dict[str, str] | None, key: str) -> str:
    where = (origins or {}).get(key)
    if where is None:
        return ""
    return " (the default)" if where == "default" else f" (from {where})"


def check_usable(config: Config, origins: dict[str, str] | None = None) -> None:
    """Fail early, with the reason and where the value came from, when the backend, its
    options or the model cannot be used here."""
    from ..models import missing_model_path_dirs, resolve_model
    from ..models.derived import model_for_backend
    from ..backend_registry import get_backend_class

    try:
        cls = get_backend_class(config.backend)
    except (LookupError, TypeError, ImportError) as exc:
        raise UsageError(f"{exc}{_from(origins, 'backend')}") from None
    known = getattr(cls, "options", None)  # the built-in backends list the options they take
    if isinstance(known, (tuple, list, frozenset, set)):
        for name in config.backend_options:
            if name not in known:
                raise UsageError(
                    f"backend {config.backend!r} has no option {name!r}"
                    f"{_from(origins, 'backend_options.' + name)}; its options: "
                    f"{', '.join(sorted(known)) or 'none'}")
    from ..runtime_logs import quiet_runtime_logs

    with quiet_runtime_logs():  # probing a runtime makes it log what it loads
        availability = cls.availability_for(config.backend_options)
    if not availability:
        raise UsageError(f"backend {config.backend!r}{_from(origins, 'backend')} cannot be used "
                         f"here: {availability.reason}")
    for folder in missing_model_path_dirs():
        warn(f"POSEFAST_MODEL_PATH names {str(folder)!r}, which is not a folder; it is skipped")
    try:
        # converting for the backend here, once, means workers find it made
        model_for_backend(resolve_model(config.model), config.backend, config.output_stride)
    except Exception as exc:  # missing file, unknown name, failed download or checksum
        raise UsageError(f"model {config.model!r}{_from(origins, 'model')}: {exc}") from None


def open_estimator(config: Config, origins: dict[str, str] | None = None, **kwargs: Any):
    """A PoseEstimator for ``config``; UsageError naming the setting and where it came from
    when the backend refuses an option, the model file or the input size."""
    import warnings

    from ..estimator import PoseEstimator

    try:
        # a backend's warnings (tflite-gpu's CPU fallback) as the command's own lines,
        # not Python's "file.py:97: RuntimeWarning" with a line of source
        with warnings.catch_warnings(record=True) as caught:
            estimator = PoseEstimator(config=config, **kwargs)
        for seen in caught:
            warn(str(seen.message))
        return estimator
    except (ValueError, TypeError, FileNotFoundError, ImportError, RuntimeError) as exc:
        message = str(exc)
        hints = [f"backend option {name}{_from(origins, 'backend_options.' + name)}"
                 for name in config.backend_options if name in message]
        if not hints and (str(config.model) in message or "model" in message.lower()):
            hints.append(f"model {config.model}{_from(origins, 'model')}")
        if not hints and config.input_size and "input" in message:
            hints.append(f"input size {config.input_size[0]}x{config.input_size[1]}"
                         f"{_from(origins, 'input_size')}")
        where = f"{'; '.join(hints)}: " if hints else ""
        raise UsageError(f"{where}{message}") from None


def warn(message: str) -> None:
    """Print ``posefast: warning: message`` to stderr."""
    print(f"posefast: warning: {message}", file=sys.stderr)


def fail(message: str, status: int = 2) -> int:
    """Print ``posefast: error: message`` to stderr and return ``status``."""
    print(f"posefast: error: {message}", file=sys.stderr)
    return status
