"""One configuration for backend, model, input size and decoder.

Layers, highest first: explicit API arguments, CLI flags, environment variables
(``POSEFAST_BACKEND``, ...), a TOML file (``--config``, ``POSEFAST_CONFIG`` or
``posefast.toml`` in the working directory), then the model's own decoder settings
(a Coral ``*_decoder.tflite`` model's ``PosenetDecoderOp`` options: ``max_detections``,
``score_threshold``, ``nms_radius``), then the defaults below.

The TOML file::

    backend = "tflite"
    model = "posenet_mobilenet_v1_075_481_641_quant"   # registry name or path
    input_size = [353, 481]                            # or "353x481" (height x width)
    output_stride = 8                                  # 8, 16 or 32; default: the model's
    resize = "letterbox"                               # or "stretch"

    [decoder]
    mode = "multi"                                     # or "single"
    max_detections = 10
    score_threshold = 0.5
    nms_radius = 20.0                                  # pixels of the network input
    refine_steps = 5

    [backend_options]                                  # passed to the backend as they are
    num_threads = 2

Environment variables: ``POSEFAST_BACKEND``, ``POSEFAST_MODEL``,
``POSEFAST_INPUT_SIZE`` ("353x481"), ``POSEFAST_OUTPUT_STRIDE``, ``POSEFAST_RESIZE``, ``POSEFAST_MODE``,
``POSEFAST_MAX_DETECTIONS``, ``POSEFAST_SCORE_THRESHOLD``, ``POSEFAST_NMS_RADIUS``,
``POSEFAST_REFINE_STEPS`` and ``POSEFAST_BACKEND_OPTIONS`` (a JSON object). Backend
options merge key by key across the layers, the higher layer winning per key.
"""
from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_MODEL = "posenet_mobilenet_v1_075_481_641_quant"
DEFAULT_CONFIG_FILE = "posefast.toml"
#: The output strides PoseNet offers (posefast.models.stride reaches them from any of them).
OUTPUT_STRIDES = (8, 16, 32)
#: The default score threshold where the output stride asks for another: stride 32's
#: scores run lower (issue 13: at 0.5 it misses 2 of the 7 people of the shared images,
#: at 0.15 it finds each one stride 16 finds at 0.5). An explicit threshold wins.
STRIDE_SCORE_THRESHOLD = {32: 0.15}
#: The backend a model file's suffix selects when no layer names one (``--model x.onnx``).
BACKEND_FOR_SUFFIX = {".onnx": "onnx"}
#: The largest network input side in pixels (8192x8192x3 is 200 MB per image; the
#: runtimes fail far below memory limits with larger ones).
MAX_INPUT_SIDE = 8192


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
    output_stride: int | None = None  # 8, 16 or 32 pixels per output cell; None: the model's own
    resize: Literal["stretch", "letterbox"] = "stretch"
    decoder: DecoderConfig = field(default_factory=DecoderConfig)


class SettingTypeError(TypeError, ValueError):
    """A setting of the wrong type (``score_threshold="0.5"``): a TypeError, and a
    ValueError as every other bad setting is, so that ``except ValueError`` catches
    any bad setting. The message names the key and where the value came from."""


DECODER_KEYS = tuple(f.name for f in fields(DecoderConfig))
TOP_KEYS = tuple(f.name for f in fields(Config) if f.name != "decoder")
KEYS = TOP_KEYS + DECODER_KEYS


# --- checking one value -------------------------------------------------------------
# Each checker takes the value (already parsed from text where it came as text) and
# returns it normalised, or raises ValueError / TypeError with a message that the
# caller prefixes with the key and where the value came from.

def _name(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected a string, got {type(v).__name__} {v!r}")
    if not v.strip():
        raise ValueError("expected a non-empty string")
    return v.strip()


def _path_or_name(v: Any) -> str:
    if isinstance(v, os.PathLike):
        v = os.fspath(v)
    return _name(v)


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        v = _name(v)
        if v not in allowed:
            raise ValueError(f"expected one of {', '.join(map(repr, allowed))}, got {v!r}")
        return v
    return check


def _int(lo: int, hi: int | None = None) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"expected a whole number, got {type(v).__name__} {v!r}")
        if v < lo or (hi is not None and v > hi):
            raise ValueError(f"expected a whole number in [{lo}, {hi if hi is not None else 'inf'}], got {v}")
        return int(v)
    return check


def _float(lo: float, hi: float) -> Callable[[Any], float]:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"expected a number, got {type(v).__name__} {v!r}")
        v = float(v)
        if not (lo <= v <= hi) or not math.isfinite(v):
            if math.isfinite(hi):
                raise ValueError(f"expected a number in [{lo:g}, {hi:g}], got {v!r}")
            raise ValueError(f"expected a finite number >= {lo:g}, got {v!r}")
        return v
    return check


def _input_size(v: Any) -> tuple[int, int] | None:
    if v is None:
        return None
    if isinstance(v, str):
        parts = v.lower().split("x")
        try:
            v = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"expected HEIGHTxWIDTH in pixels, e.g. '481x641', got {v!r}") from None
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise TypeError(f"expected [height, width] or 'HEIGHTxWIDTH', got {v!r}")
    h, w = (_int(1, MAX_INPUT_SIDE)(x) for x in v)
    return (h, w)


def _output_stride(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v not in OUTPUT_STRIDES:
        raise ValueError(f"expected one of {', '.join(map(str, OUTPUT_STRIDES))}, got {v!r}")
    return int(v)


def _options(v: Any) -> dict[str, Any]:
    if not isinstance(v, Mapping):
        raise TypeError(f"expected a table / mapping of option names to values, got {type(v).__name__}")
    for k in v:
        if not isinstance(k, str):
            raise TypeError(f"option names must be strings, got {k!r}")
    return dict(v)


CHECKS: dict[str, Callable[[Any], Any]] = {
    "backend": _name,
    "backend_options": _options,
    "model": _path_or_name,
    "input_size": _input_size,
    "output_stride": _output_stride,
    "resize": _choice("stretch", "letterbox"),
    "mode": _choice("multi", "single"),
    "max_detections": _int(1),
    "score_threshold": _float(0.0, 1.0),
    "nms_radius": _float(0.0, math.inf),
    "refine_steps": _int(0, 1000),
}


def _from_text(key: str, text: str) -> Any:
    """An environment variable's text as the key's type."""
    if key in ("max_detections", "refine_steps", "output_stride"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected a whole number, got {text!r}") from None
    if key in ("score_threshold", "nms_radius"):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    if key == "backend_options":
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise ValueError(f"expected a JSON object, e.g. '{{\"num_threads\": 2}}', "
                             f"got {shown!r}") from None
    return text


def _checked(values: Mapping[str, Any], where: Callable[[str], str]) -> dict[str, Any]:
    """Validate one layer's values; errors name the key and ``where(key)``."""
    out = {}
    for key, value in values.items():
        if key not in CHECKS:
            raise ValueError(f"{where(key)}: unknown configuration key {key!r}{_did_you_mean(key)} "
                             f"(known: {', '.join(KEYS)}, and the table [decoder])")
        try:
            out[key] = CHECKS[key](value)
        except (TypeError, ValueError) as exc:
            error = SettingTypeError if isinstance(exc, TypeError) else ValueError
            raise error(f"{where(key)}: {key}: {exc}") from None
    return out


def _did_you_mean(key: str) -> str:
    import difflib

    names = list(KEYS) + ["decoder"]
    close = [k for k in names if k == key.lower().replace("-", "_")] or \
        difflib.get_close_matches(key, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- the layers -----------------------------------------------------------------------

def _mapping_layer(values: Mapping[str, Any] | None,
                   where: Callable[[str], str]) -> dict[str, Any]:
    if not values:
        return {}
    return _checked({k: v for k, v in values.items() if v is not None}, where)


def _cli_flag(key: str) -> str:
    flag = "backend-option" if key == "backend_options" else key.replace("_", "-")
    return f"command-line option --{flag}"


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    raw = {}
    for key in KEYS:
        var = "POSEFAST_" + key.upper()
        text = env.get(var)
        if text is None or text == "":
            continue
        try:
            raw[key] = _from_text(key, text)
        except ValueError as exc:
            raise ValueError(f"environment variable {var}: {exc}") from None
    return _checked(raw, lambda key: f"environment variable POSEFAST_{key.upper()}")


def config_file_path(config_file: str | os.PathLike | None,
                     env: Mapping[str, str]) -> Path | None:
    """The TOML file that applies: the argument, else $POSEFAST_CONFIG, else
    ./posefast.toml if there is one. A file named explicitly must exist."""
    named = ""  # who named the file, for the error: the user may not know the variable is set
    if config_file is not None:
        path = Path(config_file)
    elif env.get("POSEFAST_CONFIG"):
        path = Path(env["POSEFAST_CONFIG"])
        named = " (named by the environment variable POSEFAST_CONFIG)"
    else:
        path = Path(DEFAULT_CONFIG_FILE)
        return path if path.is_file() else None
    if path.is_dir():
        raise FileNotFoundError(f"configuration file {str(path)!r}{named} is a folder; give a "
                                f"TOML file")
    if not path.is_file():
        raise FileNotFoundError(f"configuration file {str(path)!r}{named} not found")
    return path


def _file_layer(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not valid TOML: not UTF-8 text") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except RecursionError:
        raise ValueError(f"{path}: not valid TOML: nested too deeply") from None
    flat = {}
    for key, value in data.items():
        if key == "decoder":
            if not isinstance(value, dict):
                raise SettingTypeError(f"{path}: decoder: expected a [decoder] table, "
                                       f"got {value!r}")
            for sub, v in value.items():
                if sub not in DECODER_KEYS:
                    raise ValueError(f"{path}: unknown key {sub!r} in [decoder]"
                                     f"{_did_you_mean(sub)} (known: {', '.join(DECODER_KEYS)})")
                flat[sub] = v
        elif key in DECODER_KEYS and isinstance(data.get("decoder"), dict) \
                and key in data["decoder"]:
            raise ValueError(f"{path}: {key} is given both at the top level and in [decoder]")
        else:
            flat[key] = value
    checked = _checked(flat, lambda key: str(path))
    if "model" in checked:
        checked["model"] = _model_relative_to(checked["model"], path)
    return checked


def _model_relative_to(model: str, config_file: Path) -> str:
    """A relative model path in a TOML file is relative to that file's folder, as the
    file's author meant it wherever the command runs; registry names stay names."""
    from .models.registry import registry_name

    if registry_name(model) is not None or Path(model).is_absolute():
        return model
    return str(config_file.parent / model)


def load_config(api: Mapping[str, Any] | None = None, cli: Mapping[str, Any] | None = None,
                config_file: str | os.PathLike | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Resolve the layers into one validated Config.

    ``api`` and ``cli`` are flat mappings with the keys of Config and DecoderConfig
    (``backend``, ``backend_options``, ``model``, ``input_size``, ``resize``, ``mode``,
    ``max_detections``, ``score_threshold``, ``nms_radius``, ``refine_steps``); None
    values mean "not given". ``env`` defaults to ``os.environ``. Unknown keys and
    wrong values raise ValueError, wrong types ``SettingTypeError`` (a ValueError and
    a TypeError), naming the key and where it
    came from (the file, the environment variable or the argument).
    """
    return resolve_config(api, cli, config_file, env)[0]


def resolve_config(api: Mapping[str, Any] | None = None, cli: Mapping[str, Any] | None = None,
                   config_file: str | os.PathLike | None = None,
                   env: Mapping[str, str] | None = None) -> tuple[Config, dict[str, str]]:
    """Like :func:`load_config`, with where each value came from: a mapping of each key
    (and ``backend_options.NAME`` for each backend option) to "default", "file F",
    "environment variable V", "command-line option --O" or "argument 'K'"."""
    env = os.environ if env is None else env
    layers = []  # lowest first: (values, where)
    path = config_file_path(config_file, env)
    if path is not None:
        layers.append((_file_layer(path), lambda key: f"file {path}"))
    layers.append((_env_layer(env), _env_var))
    layers.append((_mapping_layer(cli, _cli_flag), _cli_flag))
    layers.append((_mapping_layer(api, lambda key: f"argument {key!r}"),
                   lambda key: f"argument {key!r}"))

    config = Config()
    origins = {key: "default" for key in KEYS if key != "backend_options"}
    options: dict[str, Any] = {}
    if not any("backend" in layer for layer, _ in layers):
        model = next((layer["model"] for layer, _ in reversed(layers) if "model" in layer), "")
        suffix = Path(model).suffix.lower()
        if suffix in BACKEND_FOR_SUFFIX:
            config.backend = BACKEND_FOR_SUFFIX[suffix]
            origins["backend"] = f"the model's suffix {suffix} ({origins.get('model', 'default')})"
    for layer, where in layers:
        for key, value in layer.items():
            if key == "backend_options":
                options.update(value)
                origins.update({f"backend_options.{k}": where(key) for k in value})
            elif key in DECODER_KEYS:
                setattr(config.decoder, key, value)
                origins[key] = where(key)
            else:
                setattr(config, key, value)
                origins[key] = where(key)
    config.backend_options = options
    _model_defaults(config, origins)
    if (config.output_stride in STRIDE_SCORE_THRESHOLD
            and not any("score_threshold" in layer for layer, _ in layers)):
        config.decoder.score_threshold = STRIDE_SCORE_THRESHOLD[config.output_stride]
        origins["score_threshold"] = f"the default for output stride {config.output_stride}"
    return config, origins


def _model_defaults(config: Config, origins: dict[str, str]) -> None:
    """The decoder settings the model carries (Coral's ``PosenetDecoderOp``'s options)
    replace the built-in defaults, not a value any layer set. A model that cannot be
    read here is left to the command that loads it, which says why."""
    from .models.decoder_op import DECODER_OP, DECODER_SETTINGS, decoder_settings
    from .models.registry import REGISTRY, registry_name
    from .models.resolve import locate, resolve_model

    try:
        name = registry_name(config.model)
        if name is None:
            path = Path(config.model)
        else:  # a registry model known to carry the op is fetched to read them
            path = locate(name) or (resolve_model(name) if REGISTRY[name].decoder_op else None)
        settings = decoder_settings(path) if path is not None and path.is_file() else None
    except Exception:  # noqa: BLE001 - reported where the model is loaded
        return
    for key, value in (settings or {}).items():
        if key in DECODER_SETTINGS and origins.get(key) == "default":
            try:
                value = CHECKS[key](value)
            except (TypeError, ValueError):  # a hand-edited ONNX entry: not the model's
                continue
            setattr(config.decoder, key, value)
            origins[key] = f"the model's {DECODER_OP} ({path.name})"


def _env_var(key: str) -> str:
    return f"environment variable POSEFAST_{key.upper()}"
