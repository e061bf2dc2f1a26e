"""What a path that is not a regular file is, in words, for the messages that refuse it.

Inputs are read only from regular files: reading a FIFO blocks until some other
program writes to it (forever, if none does), and a device such as /dev/zero never
ends; both were taken for "empty files" (their size is 0) or hung the job.
"""
from __future__ import annotations

import stat


def special_kind(mode: int) -> str | None:
    """What a file of ``mode`` (``os.stat().st_mode``) is when it is not a regular
    file ("a folder", "a FIFO (named pipe)", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
