"""One job per output: an advisory lock on the output itself, which a second job sees.

Two jobs appending to the same JSON Lines file interleave their lines (and two
``--resume`` runs pose the same inputs twice), so the job holds an exclusive
``flock`` on the output file itself (a new output is created empty to be locked),
for as long as it writes. The lock belongs to the file (its device and inode), not
to a name: a job reaching the file through a hard link, a symlink, another mount of
its folder or a relative path is refused all the same. The other job's process id
is looked up in ``/proc/locks``. The kernel drops the lock when the process dies
however it dies, so nothing left behind blocks the next job; no file is created
beside the output. A Parquet folder written by Ray is locked the same way (the
folder itself).
"""
from __future__ import annotations

import errno
import fcntl
import os
import stat

from .errors import OutputError, reason


class OutputLock:
    """An exclusive lock on the file (or, with ``folder``, the folder) ``path``,
    created if missing; :class:`OutputError` naming the other job's process id when
    another job holds it. Not for stdout (``-``), FIFOs or devices."""

    def __init__(self, path: str, *, folder: bool = False) -> None:
        self.path = path
        self.folder = folder
        self._fd: int | None = None
        self._created = False  # made here: removed at release if still empty
        self._acquire()

    def _open(self) -> int:
        if self.folder:
            try:
                os.mkdir(self.path)
                self._created = True
            except FileExistsError:
                pass
            return os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        target = os.path.realpath(self.path)  # (O_EXCL refuses a symlink, even dangling)
        try:
            fd = os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            self._created = True
            return fd
        except FileExistsError:
            pass
        try:
            return os.open(target, os.O_RDONLY | os.O_CLOEXEC)
        except PermissionError:  # a file this user may write but not read
            return os.open(target, os.O_WRONLY | os.O_CLOEXEC)

    def _acquire(self) -> None:
        while True:
            try:
                fd = self._open()
            except OSError as exc:
                where = os.path.dirname(os.path.abspath(self.path))
                hint = (f": the folder {where} is not writable"
                        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else
                        f" ({reason(exc)})")
                raise OutputError(f"cannot write --output {self.path}{hint}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = holder_of(os.fstat(fd))
                os.close(fd)
                who = f"process {other}" if other else "another process"
                raise OutputError(
                    f"--output {self.path} is being written by another posefast job "
                    f"({who}); wait for it to end, or write to another file") from None
            except OSError as exc:  # a file system without locks
                os.close(fd)
                raise OutputError(f"cannot lock --output {self.path}: {reason(exc)}") from None
            # Another job may have put a new file in place (renamed over the name) between
            # our open and our lock: then we locked a file nobody else will see; again.
            if self._still_there(fd):
                break
            os.close(fd)
        self._fd = fd

    def _still_there(self, fd: int) -> bool:
        try:
            st, held = os.stat(self.path), os.fstat(fd)
        except FileNotFoundError:
            return False
        return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)

    def follow(self) -> None:
        """Lock the file now at ``path`` when it was replaced (renamed over) since it
        was locked, e.g. by ``--resume`` rewriting it; OutputError if another job took
        the new file first."""
        if self._fd is None or self._still_there(self._fd):
            return
        old, self._fd = self._fd, None
        self._created = False
        try:
            self._acquire()
        finally:
            os.close(old)

    def keep(self) -> None:
        """The output is the job's now (a JSON Lines file opened to write): kept at
        release even if empty."""
        self._created = False

    def release(self) -> None:
        """Drop the lock (idempotent); an output made here and left empty (the job
        wrote nothing: it failed or was interrupted before) is removed."""
        if self._fd is None:
            return
        if self._created and self._still_there(self._fd):
            try:
                if self.folder:
                    os.rmdir(self.path)  # only if empty
                elif os.fstat(self._fd).st_size == 0:
                    os.unlink(os.path.realpath(self.path))  # while still locked
            except OSError:
                pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "OutputLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder_of(st: os.stat_result) -> int | None:
    """The process id holding an ``flock`` on the file ``st`` describes, from the
    kernel's ``/proc/locks`` (lines "1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF");
    None when unknown."""
    want = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK":
            continue  # "->": a process waiting for the lock, not holding it
        try:
            major, minor, inode = fields[5].split(":")
            if (int(major, 16), int(minor, 16), int(inode)) == want:
                return int(fields[4])
        except ValueError:
            continue
    return None


def lockable(path: str) -> bool:
    """Whether ``path`` is an output to lock: a regular file, a folder (a Parquet
    folder) or a new name; not stdout, a FIFO or a device (written as streams)."""
    if path == "-" or "://" in path:
        return False
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)
