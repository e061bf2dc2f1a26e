"""What a model itself sets: its input size and its output stride, which a
configuration leaves to it with ``input_size = None`` and ``output_stride = None``.

``posefast config`` shows them; ``--resume`` compares an option left to the model with
the same value given outright (``--output-stride 16`` on a stride-16 model makes the
same records as no option).
"""
from __future__ import annotations

import warnings
from typing import Any, Iterable

#: The settings a model sets for itself when a configuration leaves them (None).
OWN_SETTINGS = ("input_size", "output_stride")


def model_own_settings(config: Any, wanted: Iterable[str] = OWN_SETTINGS, *,
                       download: bool = False) -> tuple[dict[str, Any], str | None]:
    """The model's own settings among ``wanted``: ``input_size`` ([height, width] in
    pixels, as the input tensor of the file the backend runs says) and
    ``output_stride`` (pixels per heatmap cell, read from the model's layers), for
    ``config.model`` on ``config.backend`` with its ``backend_options``, whatever
    ``config`` itself sets them to.

    Returns what was found and, if anything could not be, why (None when all was):
    a model not on this machine (``download``: fetch a registry model that is not),
    a backend not usable here, a model the stride reading does not know. Each is
    tried apart, so that one failing does not hide the other.
    """
    from .resolve import resolve_model

    wanted = [name for name in OWN_SETTINGS if name in set(wanted)]
    own: dict[str, Any] = {}
    problems: list[str] = []
    if not wanted:
        return own, None
    try:
        path = resolve_model(config.model, download=download)
    except Exception as exc:  # a missing model: nothing to read
        return own, f"{type(exc).__name__}: {exc}"
    for name in wanted:
        try:
            own[name] = _READERS[name](path, config)
        except Exception as exc:  # an unusable backend, an unknown model's stride
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return own, "; ".join(problems) or None


def _input_size(path: str, config: Any) -> list[int]:
    from ..backend_registry import create_backend
    from ..runtime_logs import quiet_runtime_logs
    from .derived import model_for_backend

    # the backend reads the input shape of whatever format it runs
    with quiet_runtime_logs(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a CPU fallback: not the caller's news)
        with create_backend(config.backend, str(model_for_backend(path, config.backend, None)),
                            **dict(config.backend_options)) as backend:
            return [int(backend.input_spec.height), int(backend.input_spec.width)]


def _output_stride(path: str, config: Any) -> int:
    from .stride import model_stride

    return model_stride(path)


_READERS = {"input_size": _input_size, "output_stride": _output_stride}

__all__ = ["OWN_SETTINGS", "model_own_settings"]
