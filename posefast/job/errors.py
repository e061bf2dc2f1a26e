"""The error of an output that cannot be used or written, and the words for why."""
from __future__ import annotations

import errno


class OutputError(Exception):
    """The output cannot be used or written; the message says why and what to do."""


def reason(exc: OSError) -> str:
    """Why a system call on an output failed, in words a user acts on."""
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return "no space left on the device"
    if exc.errno == errno.EFBIG:
        return "the file grew past the size this system allows"
    if exc.errno == errno.EPIPE or isinstance(exc, BrokenPipeError):
        return "its reader closed it (broken pipe)"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    return exc.strerror or str(exc)
