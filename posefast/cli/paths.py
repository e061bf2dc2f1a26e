"""Where a command may write: checked before any work, so that a job never runs for
nothing (an output it cannot write) and never writes over one of its own inputs."""
from __future__ import annotations

import os
from typing import Iterable

from .options import UsageError

FileId = tuple[int, int]


def file_ids(paths: Iterable[str]) -> set[FileId]:
    """(device, inode) of each path that is an existing file: the same file under
    another name (a hard link, a symlink, ``./a/../a.png``) has the same id."""
    ids = set()
    for path in paths:
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            continue
        ids.add((st.st_dev, st.st_ino))
    return ids


class InputFiles:
    """The inputs of a command, asked whether a path is one of them under any name.
    The inputs are looked at (a stat each) only the first time the path asked about
    exists: a new output file, the usual case, costs a job of a million inputs
    nothing."""

    def __init__(self, paths: Iterable[str]) -> None:
        self._paths: Iterable[str] | None = paths
        self._ids: set[FileId] = set()

    def holds(self, path: str) -> bool:
        asked = file_ids([path])
        if not asked:
            return False
        if self._paths is not None:
            self._ids, self._paths = file_ids(self._paths), None
        return bool(asked & self._ids)


def check_output(option: str, path: str, inputs: InputFiles, *,
                 folder: bool = False) -> None:
    """UsageError unless ``path`` can be written: its folder exists and is writable,
    it is not a folder (``folder``: it is one, or will be: Parquet written by Ray),
    and it is not one of the inputs (writing it would destroy what is being read)."""
    where = os.path.dirname(os.path.abspath(path))
    if inputs.holds(path):
        raise UsageError(f"{option} {path}: that is one of the inputs; writing it would "
                         f"destroy the input: give another file name")
    if os.path.isdir(path) and not folder:
        raise UsageError(f"{option} {path}: is a folder; give a file name")
    if not folder and os.path.exists(path) and not os.path.isfile(path):
        return  # a FIFO, a device, /dev/stdout: written as a stream
    if not os.path.isdir(where):
        raise UsageError(f"{option} {path}: no folder {where}")
    if not os.access(where, os.W_OK | os.X_OK) and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path}: the folder {where} is not writable")
