"""A pipe (standard input) as a file-like object FFmpeg reads through PyAV, whose
reads never block past a timeout and end when asked to stop.

FFmpeg's own ``pipe:`` protocol blocks in ``read()``, deaf to PyAV's timeout and to
a stop request; reading the descriptor here, with ``select`` in short slices, keeps
both in our hands.
"""
from __future__ import annotations

import os
import select
import threading
import time
from typing import BinaryIO

#: How often a waiting read looks at the stop request (seconds).
_SLICE = 0.1


class PipeTimeout(TimeoutError):
    """No data came through the pipe within the read timeout."""


class PipeInput:
    """Reads ``pipe`` (a binary file object or a descriptor) for PyAV.

    ``timeout``: seconds one read may wait for data (settable: the opening read and
    the later reads have different limits). A read returns ``b""`` (end of stream)
    once ``stop`` is set, and raises ``PipeTimeout`` after waiting ``timeout``.
    The descriptor is not closed here: it belongs to the caller.
    """

    def __init__(self, pipe: BinaryIO | int, timeout: float, stop: threading.Event) -> None:
        self.fd = pipe if isinstance(pipe, int) else pipe.fileno()
        self.timeout = timeout
        self.stop = stop

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 16
        deadline = time.monotonic() + self.timeout
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                raise PipeTimeout(f"no data on the pipe for {self.timeout:.3g} s")
            ready, _, _ = select.select([self.fd], [], [], min(_SLICE, left))
            if ready:
                return os.read(self.fd, size)
        return b""
