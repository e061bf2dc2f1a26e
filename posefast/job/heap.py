"""The C heap of the job's processes: kept between images, not handed back to the OS.

Each image a preparation process reads takes a few buffers of about a megabyte
(the decoded file, Pillow's image, the resized input, NumPy's copy of it). glibc's
malloc serves such sizes with ``mmap`` or trims them off the top of the heap once
freed, so each image had its memory mapped afresh: 345 page faults an image, which
the kernel zeroes, about 0.6 ms of the 12 ms an image takes to prepare (481x641
input, the shared images). Holding freed memory for the next image costs at most
``TRIM_BYTES`` a process beyond the largest image it has held, since allocations
up to ``MMAP_BYTES`` reuse what the last image freed.
"""
from __future__ import annotations

import ctypes
import sys

#: glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Allocations this big or bigger still get their own mapping, returned at free, so a
#: huge image's buffers are not kept; Pillow allocates images in blocks of 16 MiB.
MMAP_BYTES = 16 << 20
#: Free memory at the top of the heap beyond this is given back to the OS.
TRIM_BYTES = 32 << 20


def keep_heap() -> bool:
    """Makes glibc's malloc in this process keep freed memory for reuse (fixed mmap
    and trim thresholds, ``MMAP_BYTES`` and ``TRIM_BYTES``, in place of its adaptive
    ones). True if done; False where the C library is not glibc (nothing changes).
    For processes that are the job's own: the setting holds for the whole process."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no mallopt in this C library
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # musl's mallopt is a stub that returns 0: nothing done, and said so
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))
