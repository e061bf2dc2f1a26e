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


def check_render_dir(option: str, folder: str) -> None:
    """UsageError unless drawings can be written into ``folder``: it is a folder, or
    can be made one, and a file can be created in it (tried: a read-only mount or
    folder would otherwise fail every drawing, found only once the job runs)."""
    import tempfile

    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError(f"{option} {folder}: is not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {folder}: cannot write there "
                         f"({exc.strerror or exc})") from None


def parquet_folder_parts(option: str, folder: str, inputs: Iterable[str]) -> list[str]:
    """The Parquet parts an earlier job wrote into ``folder`` (its files whose schema
    metadata is posefast's, see ``posefast.job.parquet``): what ``--overwrite``
    replaces. UsageError when the folder is one of the inputs' folders or holds an
    input, or holds anything else posefast did not write (files and folders whose
    names start with "." or "_" excepted, as Parquet readers skip them): nothing of
    the user's is ever deleted, nor read back as rows."""
    from ..job.parquet import is_posefast_part

    real = os.path.realpath(folder)
    for path in inputs:
        where = os.path.realpath(path)
        if where == real or where.startswith(real.rstrip(os.sep) + os.sep):
            raise UsageError(f"{option} {folder}: holds the input {path}; the rows go into "
                             f"a folder of their own: give a new or empty folder")
    if not os.path.isdir(folder):
        return []
    parts, others = [], []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file(follow_symlinks=False) and is_posefast_part(entry.path):
            parts.append(entry.path)
        else:
            others.append(entry.name)
    if others:
        raise UsageError(f"{option} {folder}: holds {len(others)} file(s) posefast did not "
                         f"write (first: {others[0]}), which would be read as rows with "
                         f"its own; give a new or empty folder")
    return parts
