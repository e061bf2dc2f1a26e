"""Resolving a model name or path to a verified local file.

A registry name resolves to the copy shipped inside the package when there is one
(the default model), then through ``POSEFAST_MODEL_PATH`` (folders separated by
os.pathsep, for air-gapped machines and CI), then the user cache
(``POSEFAST_CACHE_DIR``, else ``$XDG_CACHE_HOME/posefast`` or ``~/.cache/posefast``),
and otherwise is downloaded into the cache and verified. A file whose sha256 does not
match the registry's is never used: a download that fails the check is deleted, a
local file that fails it is an error naming the file and both hashes.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from .registry import DATA_DIR, REGISTRY, ModelInfo, registry_name


class ChecksumError(ValueError):
    """A model file's sha256 (or git blob id) is not the registry's."""


class ModelNotAvailableError(FileNotFoundError):
    """A registry model is in none of the folders searched and could not be downloaded."""


def model_path_dirs() -> list[Path]:
    """The folders of ``POSEFAST_MODEL_PATH``, in order (missing ones included)."""
    return [Path(p) for p in os.environ.get("POSEFAST_MODEL_PATH", "").split(os.pathsep) if p]


def missing_model_path_dirs() -> list[Path]:
    """The folders ``POSEFAST_MODEL_PATH`` names that do not exist (a typo, an unmounted
    disk): they are searched in vain, so the command line warns about them."""
    return [d for d in model_path_dirs() if not d.is_dir()]


def cache_dir() -> Path:
    """Where downloaded models go."""
    if os.environ.get("POSEFAST_CACHE_DIR"):
        return Path(os.environ["POSEFAST_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "posefast"


def search_dirs() -> list[Path]:
    """Where registry names are looked for, in order: POSEFAST_MODEL_PATH, then the cache."""
    return [*model_path_dirs(), cache_dir()]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_blob_of(path: Path) -> str:
    """The git blob id of ``path``'s content: SHA-1 of ``b"blob <size>\\0"`` and the content."""
    h = hashlib.sha1()
    h.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verified(info: ModelInfo) -> bool:
    """Whether the registry holds a checksum to verify ``info``'s file with."""
    return info.sha256 is not None or info.git_blob is not None


def verify(path: Path, info: ModelInfo) -> Path:
    """``path`` if its sha256 and git blob id are the registry's (those it has); else
    ChecksumError naming the file and both hashes.

    The content is hashed every time: a memo keyed on size and mtime let a same-size
    edit with the mtime restored through, and hashing a PoseNet (1.3 MB) takes about
    a millisecond, next to the hundreds the runtime takes to load it.
    """
    for kind, expected, digest_of in (("sha256", info.sha256, sha256_of),
                                      ("git blob id", info.git_blob, git_blob_of)):
        if expected is None:
            continue
        digest = digest_of(path)
        if digest != expected:
            raise ChecksumError(f"{path}: {kind} {digest} is not the expected {expected} "
                                f"for model {info.name!r}; the file is corrupt or another "
                                f"model")
    return path


def searched_text(info: ModelInfo) -> str:
    """The places a registry name was looked for, for error messages."""
    places = []
    if info.embedded:
        places.append(f"the package ({DATA_DIR})")
    for d in model_path_dirs():
        places.append(f"POSEFAST_MODEL_PATH folder {d}"
                      + ("" if d.is_dir() else " (which does not exist)"))
    if not model_path_dirs():
        places.append("POSEFAST_MODEL_PATH (not set)")
    places.append(f"the cache {cache_dir()}")
    return ", ".join(places)


def locate(name: str) -> Path | None:
    """The verified local file of registry model ``name``, or None if there is none."""
    info = REGISTRY[name]
    if info.embedded and (DATA_DIR / info.filename).is_file():
        return verify(DATA_DIR / info.filename, info)
    for folder in search_dirs():
        candidate = folder / info.filename
        if candidate.is_file():
            return verify(candidate, info)
    return None


def resolve_model(name_or_path: str | os.PathLike, *, download: bool = True,
                  allow_unverified: bool | None = None) -> Path:
    """A local, verified model file for a registry name or a path.

    A registry name (a bare name, with or without ``.tflite``) resolves only through
    the registry's places: the package's own copy, ``POSEFAST_MODEL_PATH``, the cache,
    and else a download into the cache (``download=False`` makes that an error); a
    same-named file in the working directory is not used (write ``./NAME.tflite`` to
    mean it). Anything else is a path, returned as it is when it is a file. Raises
    FileNotFoundError for a missing path, LookupError for an unknown name,
    ModelNotAvailableError (a FileNotFoundError) when a registry model is nowhere here
    and cannot be downloaded, and ChecksumError for a file that is not what the
    registry says.
    """
    text = os.fspath(name_or_path)
    name = registry_name(text)
    if name is None:
        path = Path(text)
        if path.is_file():
            return path
        if path.exists():
            raise FileNotFoundError(f"model {text!r} is not a file")
        if os.sep in text or "/" in text or path.suffix:
            raise FileNotFoundError(f"model file {text!r} not found")
        raise LookupError(f"unknown model {text!r}: not a file, and not a registry name "
                          f"(known: {', '.join(REGISTRY)})")
    found = locate(name)
    if found is not None:
        return found
    info = REGISTRY[name]
    if not download:
        raise ModelNotAvailableError(
            f"model {name!r} is not in {searched_text(info)}; download {info.url} "
            f"into one of these folders")
    return fetch(info, allow_unverified=allow_unverified)


def unverified_allowed() -> bool:
    """Whether POSEFAST_ALLOW_UNVERIFIED lets a model without a known sha256 be downloaded."""
    return os.environ.get("POSEFAST_ALLOW_UNVERIFIED", "") not in ("", "0")


def fetch(info: ModelInfo, *, allow_unverified: bool | None = None,
          opener: Callable[[str], Any] | None = None) -> Path:
    """Download ``info`` into the cache (``opener``: urllib's urlopen unless given),
    verify it and return its path."""
    if opener is None:
        # imported here: urllib.request and http.client cost every process that
        # imports posefast about 20 ms, for the rare model that is downloaded
        import urllib.request

        opener = urllib.request.urlopen
    if allow_unverified is None:
        allow_unverified = unverified_allowed()
    if not verified(info) and not allow_unverified:
        raise ChecksumError(
            f"model {info.name!r} has no known sha256, so it is not downloaded unverified; "
            f"download {info.url} yourself into a POSEFAST_MODEL_PATH folder, or set "
            f"POSEFAST_ALLOW_UNVERIFIED=1")
    target_dir = cache_dir()
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelNotAvailableError(
            f"model {info.name!r} is not in {searched_text(info)}, and the cache folder "
            f"{target_dir} cannot be made to download it into ({exc}); set "
            f"POSEFAST_CACHE_DIR to a writable folder") from None
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=target_dir)
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out, opener(info.url) as response:
                _copy_with_progress(response, out, info.filename)
        except OSError as exc:  # URLError, refused, timed out, reset: all offline to a user
            reason = getattr(exc, "reason", None) or exc
            raise ModelNotAvailableError(
                f"model {info.name!r} is not in {searched_text(info)}, and downloading "
                f"{info.url} failed ({reason}); on a machine with network, download that "
                f"URL and put the file in a folder of POSEFAST_MODEL_PATH (or in "
                f"{target_dir}), or use a model file with --model PATH") from None
        try:
            verify(tmp, info)
        except ChecksumError as exc:
            raise ChecksumError(f"downloaded {info.url}: {exc}; deleted it") from None
        target = target_dir / info.filename
        os.replace(tmp, target)
        return target
    finally:
        if tmp.exists():
            tmp.unlink()


def _copy_with_progress(response, out, label: str) -> None:
    total = int(getattr(response, "headers", {}).get("Content-Length") or 0)
    show = sys.stderr.isatty()
    done = 0
    while True:
        block = response.read(1 << 16)
        if not block:
            break
        out.write(block)
        done += len(block)
        if show:
            pct = f"{100 * done / total:5.1f}%" if total else ""
            sys.stderr.write(f"\rdownloading {label} {done / 2**20:6.1f} MB {pct}")
    if show:
        sys.stderr.write("\n")


def list_models() -> list[tuple[ModelInfo, Path | None]]:
    """Every registry model and its verified local file (None: not found locally)."""
    out = []
    for name, info in REGISTRY.items():
        try:
            out.append((info, locate(name)))
        except ChecksumError:
            out.append((info, None))
    return out


__all__ = ["ChecksumError", "ModelNotAvailableError", "missing_model_path_dirs", "searched_text", "resolve_model", "list_models", "locate", "fetch", "verify",
           "unverified_allowed",
           "cache_dir", "model_path_dirs", "search_dirs", "sha256_of", "git_blob_of", "verified"]
