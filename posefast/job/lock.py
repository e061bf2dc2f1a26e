"""One job per output file: an advisory lock that a second job sees and names.

Two jobs appending to the same JSON Lines file interleave their lines (and two
``--resume`` runs pose the same inputs twice), so the job holds an exclusive
``flock`` on ``<output>.lock`` (beside the output's real file, symlinks followed),
which holds the job's process id, for as long as it writes. The kernel drops the
lock when the process dies however it dies, so a stale lock file never blocks the
next job; it is removed when the job ends normally.
"""
from __future__ import annotations

import errno
import fcntl
import os

from .output import OutputError


class OutputLock:
    """An exclusive lock on ``path`` for this process; :class:`OutputError` naming the
    other job's process id when another job holds it. Not for stdout (``-``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock_path = os.path.realpath(path) + ".lock"
        self._fd: int | None = None
        self._owns_file = True
        self._acquire()

    def _acquire(self) -> None:
        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
                    # A writable file in a folder we cannot write to: lock the file itself
                    # (the other job's id is then unknown).
                    self._lock_output_itself()
                    return
                raise OutputError(f"cannot lock --output {self.path}: cannot create "
                                  f"{self.lock_path} ({exc.strerror or exc})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = _read_pid(fd)
                os.close(fd)
                who = f"process {other}" if other else "another process"
                raise OutputError(
                    f"--output {self.path} is being written by another posefast job "
                    f"({who}, lock file {self.lock_path}); wait for it to end, or write to "
                    f"another file") from None
            # The previous holder may have removed the file between our open and our lock:
            # then we locked a file nobody else will see; start again with the new one.
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _lock_output_itself(self) -> None:
        self._owns_file = False
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise OutputError(f"cannot write --output {self.path}: its folder "
                              f"{os.path.dirname(self.lock_path) or '.'} is not writable") from None
        except OSError as exc:
            raise OutputError(f"cannot write --output {self.path}: "
                              f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(f"--output {self.path} is being written by another posefast "
                              f"job; wait for it to end, or write to another file") from None
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        if self._owns_file:
            try:
                os.unlink(self.lock_path)  # while still locked: no one else holds it now
            except OSError:
                pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "OutputLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
