"""Models derived from the one the user named, made once and kept in the cache.

A TF Lite model ending in Coral's ``PosenetDecoderOp`` gets it cut off first
(``posefast.models.decoder_op``: posefast decodes the outputs itself); a backend that
takes another format (``--backend onnx`` with a TF Lite model) gets the model
converted; a requested output stride gets it rewritten (``posefast.models.stride``),
after the conversion, in the format the backend runs.
Each derived file is named by the sha256 of the source model's content plus what was
done to it (``<sha256>.onnx``, ``<sha256>-stride8.tflite``, ``<sha256>-cut.tflite``,
``<sha256>-cut.onnx``), so a changed source never
reuses a stale result, and lives in ``<cache>/derived`` beside the registry's
downloads. A sidecar ``.sha256`` records the derived file's own hash: a cached file
that no longer matches it (truncated, edited) is made again, never used.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from .decoder_op import DECODER_OP
from .resolve import cache_dir, sha256_of

#: The formats a model can be converted from, per format a backend takes.
CONVERTIBLE = {".onnx": (".tflite",)}
#: Suffixes known to be model formats; a file named otherwise goes to the backend as it is.
MODEL_SUFFIXES = (".tflite", ".onnx")


class ModelFormatError(ValueError):
    """The model is in a format the backend cannot take and posefast cannot convert."""


def derived_dir() -> Path:
    """Where derived models are kept: ``derived`` in the model cache."""
    return cache_dir() / "derived"


def cached(name: str, build: Callable[[Path], object]) -> Path:
    """``derived_dir()/name``, made by ``build(tmp_path)`` unless a verified copy exists.

    The file is built under a temporary name in the same folder and renamed into place,
    so workers starting together never read a half-written model (at worst they build
    it twice)."""
    folder = derived_dir()
    target = folder / name
    stamp = folder / (name + ".sha256")
    if target.is_file() and stamp.is_file():
        try:
            if stamp.read_text().strip() == sha256_of(target):
                return target
        except OSError:
            pass
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".build-", suffix=Path(name).suffix, dir=folder)
    except OSError as exc:
        raise OSError(f"cannot write a derived model into {folder} ({exc}); set "
                      f"POSEFAST_CACHE_DIR to a writable folder") from None
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # the name is ours; converters complain about an existing file
    try:
        build(tmp)
        digest = sha256_of(tmp)
        os.replace(tmp, target)
        stamp.write_text(digest + "\n")
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def converted_to_onnx(path: Path, source_sha: str) -> Path:
    """The ONNX model converted from the TF Lite model ``path`` (made once, cached;
    ``source_sha`` names what ``path`` holds)."""
    from .convert import convert_tflite_to_onnx

    return cached(f"{source_sha}.onnx", lambda tmp: convert_tflite_to_onnx(path, tmp))


def without_decoder_op(path: Path, source_sha: str) -> tuple[Path, str]:
    """``path`` with Coral's decoder operator cut off (made once, cached) and the key of
    what it holds, or ``path`` and ``source_sha`` as they are when it has none. Raises
    CustomOpError (a ValueError) for an Edge TPU model or another custom operator."""
    from .decoder_op import cut_decoder_op, find_decoder_op

    if find_decoder_op(path) is None:
        return path, source_sha
    key = f"{source_sha}-cut"
    return cached(f"{key}.tflite", lambda tmp: cut_decoder_op(path, tmp)), key


def backend_suffixes(backend: str) -> tuple[str, ...] | None:
    """The model file suffixes the registered backend ``backend`` takes (None: any)."""
    from ..backend_registry import get_backend_class

    suffixes = getattr(get_backend_class(backend), "model_suffixes", None)
    return tuple(s.lower() for s in suffixes) if suffixes else None


def with_stride(path: Path, source_sha: str, stride: int | None) -> Path:
    """``path`` rewritten for output ``stride`` (made once, cached), or ``path`` itself
    when ``stride`` is None or already the model's own: the rewrite is exact there."""
    from .stride import model_stride, rewrite_stride

    if stride is None or model_stride(path) == stride:
        return path
    return cached(f"{source_sha}-stride{stride}{path.suffix.lower()}",
                  lambda tmp: rewrite_stride(path, tmp, stride))


def model_for_backend(path: str | os.PathLike, backend: str,
                      output_stride: int | None = None) -> Path:
    """The model file the backend ``backend`` runs for the resolved model ``path`` at
    ``output_stride`` (None: the model's own): ``path`` itself, or a cached cut of
    Coral's decoder operator, conversion and/or stride rewrite, keyed by the sha256 of
    ``path``'s content. Raises ModelFormatError when the backend cannot take the model,
    ImportError naming the extra (and the command to run instead) when converting needs
    packages that are not installed, CustomOpError (a ValueError) for a custom operator
    posefast cannot run (an Edge TPU model), and ValueError for a model or stride the
    rewrite does not handle."""
    source = Path(path)
    path, key = without_decoder_op(source, sha256_of(source))
    try:
        return with_stride(_in_backend_format(path, key, backend), key, output_stride)
    except ValueError as exc:
        if path == source:
            raise
        # name the user's model, not the cached cut the step worked on
        raise type(exc)(str(exc).replace(str(path), f"{source} (without {DECODER_OP})")) \
            from None


def _in_backend_format(path: Path, source_sha: str, backend: str) -> Path:
    suffixes = backend_suffixes(backend)
    suffix = path.suffix.lower()
    if suffixes is None or suffix in suffixes or suffix not in MODEL_SUFFIXES:
        return path
    for target in suffixes:
        if suffix in CONVERTIBLE.get(target, ()):
            try:
                return converted_to_onnx(path, source_sha)
            except ImportError as exc:
                raise ImportError(
                    f"backend {backend!r} runs {' or '.join(suffixes)} models and {path} is "
                    f"TF Lite, so it is converted once and cached, which needs the convert "
                    f"extra: {exc}. Or convert it yourself: posefast convert {path} "
                    f"model.onnx, then --model model.onnx") from None
    raise ModelFormatError(
        f"backend {backend!r} runs {' or '.join(suffixes)} models, not {path} "
        f"({suffix or 'no suffix'}); choose the backend for this model (--backend), or "
        f"a model of that format (--model)")


__all__ = ["ModelFormatError", "backend_suffixes", "cached", "converted_to_onnx",
           "derived_dir", "model_for_backend", "with_stride", "without_decoder_op"]
