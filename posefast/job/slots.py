"""A bounded pool of shared-memory slots, each holding one prepared network input.

The preparation processes write an image, already resized and normalised to the
network input (H, W, 3) in the backend's dtype, straight into a slot; the
inference process reads it from there. Only the slot's number travels over the
pipes, so no image is pickled, and the memory of a job is the pool's, bounded by
the number of images in flight whatever the number of inputs.

The main process creates the pool and alone decides which slot is free (the
processes never allocate): a slot goes to one preparation task, then to one
inference batch, then back to the free list when that batch's results are in.

Also here: what each process of a job does first (``begin_process``), as it attaches
to the pool.
"""
from __future__ import annotations

import errno
import signal
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

from ..runtime_logs import set_verbose
from .heap import keep_heap


@dataclass(frozen=True)
class SlotLayout:
    """What a pool looks like, picklable for the processes that attach to it:
    ``count`` slots of ``shape`` (height, width, 3) pixels of ``dtype``."""

    name: str
    count: int
    shape: tuple[int, int, int]
    dtype: str

    @property
    def slot_bytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize


class SlotPool:
    """The slots of one job, in one shared-memory block.

    ``SlotPool.create(count, shape, dtype)`` in the main process;
    ``SlotPool.attach(layout)`` in a worker process. ``view(i)`` is slot ``i`` as an
    ndarray over the shared memory (no copy).
    """

    def __init__(self, layout: SlotLayout, memory: shared_memory.SharedMemory, owner: bool) -> None:
        self.layout = layout
        self._memory = memory
        self._owner = owner
        self._array = np.ndarray((layout.count,) + layout.shape, dtype=np.dtype(layout.dtype),
                                 buffer=memory.buf)

    @classmethod
    def create(cls, count: int, shape: tuple[int, int, int], dtype: np.dtype | str) -> "SlotPool":
        if count < 1:
            raise ValueError(f"a slot pool needs at least one slot, got {count}")
        size = count * int(np.prod(shape)) * np.dtype(dtype).itemsize
        memory = shared_memory.SharedMemory(create=True, size=max(1, size))
        try:
            _reserve(memory, max(1, size))
        except OSError:
            memory.close()
            memory.unlink()
            raise
        layout = SlotLayout(memory.name, count, tuple(int(v) for v in shape), np.dtype(dtype).str)
        return cls(layout, memory, owner=True)

    @classmethod
    def attach(cls, layout: SlotLayout) -> "SlotPool":
        return cls(layout, shared_memory.SharedMemory(name=layout.name), owner=False)

    def view(self, slot: int) -> np.ndarray:
        """Slot ``slot`` as a writable (H, W, 3) array over the shared memory."""
        if not 0 <= slot < self.layout.count:
            raise IndexError(f"slot {slot} is not in a pool of {self.layout.count}")
        return self._array[slot]

    def close(self) -> None:
        """Detach; the creator also frees the memory."""
        self._array = None  # the buffer cannot be released while a view exists
        try:
            self._memory.close()
        except BufferError:  # a caller still holds a view: the OS frees it at exit
            pass
        if self._owner:
            try:
                self._memory.unlink()
            except FileNotFoundError:
                pass


#: Where POSIX shared memory lives (Linux): a tmpfs, 64 MB in a Docker container.
SHM_FOLDER = "/dev/shm"


def shm_free_bytes(folder: str = SHM_FOLDER) -> int | None:
    """Bytes free for shared memory in ``folder`` (None where there is no such folder:
    not Linux, where the system gives shared memory its own way)."""
    import os

    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return None
    return st.f_bavail * st.f_frsize


def _reserve(memory: shared_memory.SharedMemory, size: int) -> None:
    """Take the block's pages from the file system now. A tmpfs gives them only when
    first written: a pool larger than what is free there was created all the same,
    and the process writing into a page that did not fit died on SIGBUS, part-way
    through the job. Now the creation fails instead (OSError ENOSPC)."""
    import os

    fd = getattr(memory, "_fd", -1)  # (POSIX only; Windows commits at creation)
    if fd >= 0 and hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise


def begin_process(name: str, verbose: bool) -> None:
    """What each process of a job does first: leaves Ctrl-C to the main process, which
    decides on it; lets the runtime's log lines through with ``verbose`` (given as an
    argument: a fork server started before ``--verbose`` was read does not carry it
    in its environment); takes its name; keeps freed memory for the next image."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_verbose(verbose)
    name_process(name)
    keep_heap()


def name_process(name: str) -> None:
    """Name this process as ``ps`` and ``top`` show it (Linux; elsewhere nothing), so that
    the job's stages can be told apart (and found by tests)."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass
