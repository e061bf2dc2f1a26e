"""Turning the command line's INPUT arguments into the list of things to pose.

An INPUT is an image file, a video file, a folder (searched recursively for image
and video files, in sorted path order), a glob pattern (``photos/**/*.jpg``), or ``@list.txt``:
a text file with one INPUT per line (blank lines and lines starting with ``#`` are
skipped). Order is kept: the order of the arguments, then sorted order inside each.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from .images import is_image_path
from .video import is_video_path


class InputError(ValueError):
    """A command-line INPUT that names nothing (a usage error)."""


@dataclass(frozen=True)
class Source:
    """One input file: an image, or a video whose frames are posed."""

    path: str
    kind: Literal["image", "video"]


def expand_inputs(inputs: Sequence[str]) -> list[Source]:
    """Every image and video the INPUT arguments name, in order.

    A file named explicitly is kept whatever its extension (if it is not an image
    it yields an error record later); folders contribute only files with an image
    or video extension. Raises InputError for an argument that names nothing.
    """
    sources: list[Source] = []
    for arg in inputs:
        if arg.startswith("@"):
            sources.extend(_expand_list(arg[1:]))
        else:
            found = _expand_one(arg)
            if found is None:
                raise InputError(f"input {arg!r}: no such file or folder, and no file matches it")
            sources.extend(found)
    return sources


def _expand_list(list_path: str) -> list[Source]:
    try:
        text = Path(list_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"input list {list_path!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"input list {list_path!r}: not a UTF-8 text file") from None
    sources: list[Source] = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        # An entry of a list that names nothing becomes an error record, not a
        # usage error: lists are often made elsewhere and may be stale.
        sources.extend(_expand_one(entry) or [_file(entry)])
    return sources


def _expand_one(arg: str) -> list[Source] | None:
    path = Path(arg)
    if path.is_dir():
        return _expand_folder(path)
    if path.exists():
        return [_file(arg)]
    if glob.has_magic(arg):
        matches = sorted(glob.glob(arg, recursive=True))
        if not matches:
            return None
        found: list[Source] = []
        for m in matches:
            found.extend(_expand_folder(Path(m)) if os.path.isdir(m) else [_file(m)])
        return found
    return None


def _expand_folder(folder: Path) -> list[Source]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        files.extend(os.path.join(root, n) for n in names
                     if is_image_path(n) or is_video_path(n))
    return [_file(f) for f in sorted(files)]


def _file(path: str) -> Source:
    return Source(path, "video" if is_video_path(path) else "image")
