"""Turning the command line's INPUT arguments into the list of things to pose.

An INPUT is an image file, a video file, a folder (searched recursively for image
and video files, in sorted path order), a glob pattern (``photos/**/*.jpg``; ``**``
never enters a folder twice, so symlink loops end), or ``@list.txt``: a UTF-8 text
file with one INPUT per line (lines end at ``\n`` only; blank lines and lines
starting with ``#`` are skipped; relative names are relative to the list's folder).
Order is kept: the order of the arguments, then sorted order inside each. An input
named twice (whatever the spelling: same real path) is posed once.
"""
from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Sequence

from .images import is_image_path
from .video import is_video_path


class InputError(ValueError):
    """A command-line INPUT that names nothing (a usage error)."""


@dataclass(frozen=True)
class Source:
    """One input file: an image, or a video whose frames are posed."""

    path: str
    kind: Literal["image", "video"]


def expand_inputs(inputs: Sequence[str], *, duplicates: list[str] | None = None) -> list[Source]:
    """Every image and video the INPUT arguments name, in order, each once.

    A file named explicitly is kept whatever its extension (if it is not an image
    it yields an error record later); folders contribute only files with an image
    or video extension. A file found again (the same real path) is left out, and its
    path appended to ``duplicates`` when given. Raises InputError for an argument that
    names nothing.
    """
    sources = _all_sources(inputs)
    seen: set[str] = set()
    unique: list[Source] = []
    for s in sources:
        key = os.path.realpath(s.path)
        if key in seen:
            if duplicates is not None:
                duplicates.append(s.path)
            continue
        seen.add(key)
        unique.append(s)
    return unique


def _all_sources(inputs: Sequence[str]) -> list[Source]:
    sources: list[Source] = []
    for arg in inputs:
        if not arg or arg == "@":
            # Path("") is ".": an empty name (an unset shell variable) posed the
            # working folder
            raise InputError(f"input {arg!r}: an empty name")
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
        # utf-8-sig: a byte order mark (Windows editors write one) is not part of the
        # first name
        text = Path(list_path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"input list {list_path!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"input list {list_path!r}: not a UTF-8 text file") from None
    sources: list[Source] = []
    folder = os.path.dirname(list_path)
    # Lines end at "\n" (and a "\r" before it) only: str.splitlines would also split
    # names at \x0c, \x85 or U+2028, which are valid in file names.
    for number, line in enumerate(text.split("\n"), 1):
        entry = line[:-1] if line.endswith("\r") else line
        if not entry.strip() or entry.startswith("#"):
            continue
        if "\0" in entry:  # no file name holds one; the system would refuse it unnamed
            raise InputError(f"input list {list_path!r}, line {number}: a NUL character "
                             f"in {entry[:60]!r}; a list names one file or folder a line "
                             f"(find -print0 output? use find -print)")
        if entry.startswith("@") and not os.path.lexists(os.path.join(folder, entry)):
            raise InputError(f"input list {list_path!r}, line {number}: {entry!r} names a list; "
                             f"a list names files and folders only (give the lists "
                             f"on the command line)")
        if not os.path.isabs(entry):
            entry = os.path.join(folder, entry)
        if not os.path.lexists(entry) and os.path.lexists(entry.strip(" \t")):
            entry = entry.strip(" \t")  # names as written; blanks around them forgiven
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
        matches = sorted(_glob(arg))
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


def _glob(pattern: str) -> Iterator[str]:
    """The paths matching ``pattern`` (``*``, ``?``, ``[...]`` within a name, ``**`` for
    any number of folders), like ``glob.glob(pattern, recursive=True)`` but entering
    each real folder once, so that symlink loops neither repeat files nor hang."""
    parts = pattern.split(os.sep)
    fixed: list[str] = []
    while parts and not glob.has_magic(parts[0]):
        fixed.append(parts.pop(0))
    root = os.sep.join(fixed) if fixed else ""
    if pattern.startswith(os.sep) and not root:
        root = os.sep
    seen: set[tuple[int, int, int]] = set()

    def walk(folder: str, rest: list[str]) -> Iterator[str]:
        try:
            st = os.stat(folder or ".")
        except OSError:
            return
        if not rest:
            yield folder
            return
        part, tail = rest[0], rest[1:]
        if part == "**":
            key = (st.st_dev, st.st_ino, len(rest))
            if key in seen:
                return
            seen.add(key)
            yield from walk(folder, tail)  # "**" as no folder at all
            for name in _names(folder):
                child = os.path.join(folder, name) if folder else name
                if name.startswith("."):
                    continue
                if os.path.isdir(child):
                    yield from walk(child, rest)
                elif not tail:
                    yield child  # a trailing "**" matches files too
            return
        for name in _names(folder):
            if name.startswith(".") and not part.startswith("."):
                continue  # as glob: wildcards do not match hidden names
            if fnmatch.fnmatchcase(name, part):
                child = os.path.join(folder, name) if folder else name
                if tail and not os.path.isdir(child):
                    continue
                yield from walk(child, tail)

    found: list[str] = []
    done: set[str] = set()
    for path in walk(root, parts):
        if path and path not in done:
            done.add(path)
            found.append(path)
    return iter(found)


def _names(folder: str) -> list[str]:
    try:
        return sorted(os.listdir(folder or "."))
    except OSError:
        return []


def _file(path: str) -> Source:
    return Source(path, "video" if is_video_path(path) else "image")
