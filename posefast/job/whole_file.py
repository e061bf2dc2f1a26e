"""An output written whole when the job ends (COCO results, a Parquet file).

The content is staged while the job runs, then put in place:

- a regular file, or a new one: staged in a temporary file beside it, then renamed
  over it, so the output is never half-written and an interrupted job writes
  nothing. A symlink stays a symlink (its target is written); an existing file keeps
  its mode, a new one gets the mode ``open()`` would give it (0666 less the umask);
- a FIFO, a character device (``/dev/null``) or stdout (``-``): staged in an unnamed
  temporary file (gone however the job ends) and written into it, in place, at the
  end; the node itself is never replaced by a regular file;
- a writable file in a folder that is not writable (no temporary file can go beside
  it): staged as above and written into the file, in place, at the end;
- a block device or a socket is refused.

The temporary file beside the output is named after it (see :func:`temporary_prefix`)
so that the next job on the same output, holding its lock, removes those a killed
job left (:func:`remove_stale_temporaries`).
"""
from __future__ import annotations

import errno
import hashlib
import os
import stat
import sys
import tempfile
from typing import IO

from .errors import OutputError, reason

#: The end of the temporary files' names.
SUFFIX = ".posefast.tmp"
#: Bytes of the output's name kept in its temporary files' names: a name of up to
#: 255 bytes (the most a file system allows) must still leave room for the rest.
_NAME_BYTES = 80


def temporary_prefix(target: str) -> str:
    """The start of the names of ``target``'s temporary files: hidden, the start of its
    name, and a hash of the whole name (two outputs sharing their first bytes differ)."""
    name = os.path.basename(target)
    short = name.encode("utf-8", "surrogateescape")[:_NAME_BYTES].decode("utf-8", "ignore")
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f".{short}.{digest}."


def remove_stale_temporaries(path: str) -> list[str]:
    """Remove the temporary files a killed job left beside ``path`` (regular files of
    this user, named by :func:`temporary_prefix`). Call it only while holding the
    output's lock: then no running job is writing one of them. Returns their paths."""
    if path == "-":
        return []
    target = os.path.realpath(path)
    folder, prefix = os.path.dirname(target), temporary_prefix(target)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(SUFFIX)):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
                os.unlink(entry.path)
                removed.append(entry.path)
        except OSError:
            pass
    return removed


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def check_whole_file_output(path: str, option: str = "--output") -> None:
    """OutputError unless ``path`` can take an output written whole: not a folder, a
    block device or a socket."""
    if path == "-":
        return
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot write {option} {path}: {reason(exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{option} {path} is a folder; give a file name, e.g. "
                          f"{os.path.join(path, 'results')}")
    if stat.S_ISBLK(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        kind = "a block device" if stat.S_ISBLK(st.st_mode) else "a socket"
        raise OutputError(f"{option} {path} is {kind}; give a file, a FIFO or -")


class WholeFile:
    """Where an output written whole at the end is staged: :attr:`file` (binary,
    buffered), then :meth:`commit` puts it in place, or :meth:`discard` drops it.
    ``path``: the output, ``-`` for stdout. Errors are OutputError naming ``option``."""

    def __init__(self, path: str, option: str = "--output") -> None:
        self.path = path
        self.option = option
        self._tmp: str | None = None   # the named temporary file beside the output
        self._in_place: str | None = None  # the node written in place at the end
        check_whole_file_output(path, option)
        if path == "-":
            if sys.stdout is None:
                raise OutputError("stdout is closed: give --output FILE")
            self._in_place = path
            self.file = self._unnamed()
            return
        target = os.path.realpath(path)  # a symlink stays a symlink: its target is written
        self._target = target
        try:
            st: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise self._error(exc) from None
        if st is not None and not stat.S_ISREG(st.st_mode):  # a FIFO, a character device
            if not os.access(target, os.W_OK):
                raise OutputError(f"cannot write {option} {path}: permission denied")
            self._in_place = target
            self.file = self._unnamed()
            return
        folder = os.path.dirname(target)
        try:
            fd, self._tmp = tempfile.mkstemp(dir=folder, prefix=temporary_prefix(target),
                                             suffix=SUFFIX)
        except FileNotFoundError:
            raise OutputError(f"cannot write {option} {path}: no folder {folder}") from None
        except OSError as exc:
            if (st is not None and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
                    and os.access(target, os.W_OK)):
                self._in_place = target  # a writable file in a folder that is not
                self.file = self._unnamed()
                return
            raise OutputError(f"cannot write {option} {path}: cannot create a file in "
                              f"{folder} ({reason(exc)})") from None
        try:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) if st is not None else _new_file_mode())
        except OSError:
            pass  # a file system without modes (FAT): the file is still written
        self.file: IO[bytes] = open(fd, "wb")

    def _unnamed(self) -> IO[bytes]:
        try:
            return tempfile.TemporaryFile()
        except OSError as exc:
            raise OutputError(f"cannot write {self.option} {self.path}: cannot create a "
                              f"temporary file in {tempfile.gettempdir()} ({reason(exc)}); "
                              f"set TMPDIR to a folder with room") from None

    def _error(self, exc: OSError) -> OutputError:
        where = "stdout" if self.path == "-" else f"{self.option} {self.path}"
        return OutputError(f"cannot write {where}: {reason(exc)}")

    def commit(self) -> None:
        """Put the content in place (idempotent after success)."""
        if self.file is None:
            return
        try:
            self.file.flush()
            if self._in_place is None:
                os.fsync(self.file.fileno())
                self.file.close()
                os.replace(self._tmp, self._target)
                self._tmp = None
            else:
                self._copy_in_place()
                self.file.close()
        except OSError as exc:
            self.discard()
            raise self._error(exc) from None
        self.file = None

    def _copy_in_place(self) -> None:
        self.file.seek(0)
        if self._in_place == "-":
            out = sys.stdout.buffer
            while chunk := self.file.read(1 << 20):
                out.write(chunk)
            out.flush()
            return
        flags = os.O_WRONLY | os.O_CLOEXEC
        if stat.S_ISREG(os.stat(self._in_place).st_mode):
            flags |= os.O_TRUNC
        fd = os.open(self._in_place, flags)
        try:
            while chunk := self.file.read(1 << 20):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
        finally:
            os.close(fd)

    def discard(self) -> None:
        """Drop what was staged (idempotent)."""
        if self.file is not None:
            try:
                self.file.close()
            except OSError:
                pass  # its buffer could not be written (a full disk): it is dropped anyway
            self.file = None
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None
