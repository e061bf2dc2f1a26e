"""Keeping the inference runtimes' own log lines off stderr.

TF Lite / LiteRT write INFO and WARNING lines straight to file descriptor 2 from C++
("Created TensorFlow Lite XNNPACK delegate for CPU.", accelerator and plugin paths),
once per backend created, so a job with several workers printed them garbled, even
with ``-q``. No environment variable of theirs silences them, so while a backend is
created, probed, first run or closed (LiteRT sets up its environment lazily and logs
its teardown) fd 2 is pointed at a temporary file, and what was written there is
passed on without the runtime's INFO/WARNING lines. ``POSEFAST_VERBOSE=1`` (set by
``--verbose``, and inherited by worker processes) lets everything through.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator

#: The environment variable that lets the runtime's lines through ("1").
VERBOSE_ENV = "POSEFAST_VERBOSE"

# "INFO: ...", "WARNING: [npu_registry.cc:34] ...", the "└ Could not load shared library"
# line LiteRT adds under a plugin it cannot load, and glog's "I0000 00:00..." style.
_NOISE = re.compile(rb"^(?:(?:INFO|WARNING|VERBOSE): |\xe2\x94\x94 |[IW]\d{4} \d)")


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def set_verbose(on: bool) -> None:
    """Let the runtime's lines through in this process and in those it starts."""
    if on:
        os.environ[VERBOSE_ENV] = "1"


@contextmanager
def quiet_runtime_logs() -> Iterator[None]:
    """While inside: the runtime's INFO/WARNING lines on fd 2 are dropped, other lines
    (errors, Python warnings) are written out at the end. Does nothing when verbose."""
    if verbose():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):  # no stderr at all
        yield
        return
    try:
        capture = tempfile.TemporaryFile()
    except OSError:
        os.close(saved)
        yield
        return
    with capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, AttributeError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().splitlines(keepends=True)
                    if not _NOISE.match(line)]
            if kept:
                try:
                    os.write(2, b"".join(kept))
                except OSError:
                    pass


def quiet_teardown() -> None:
    """Drop everything written to fd 2 from now on, unless verbose: for a process about
    to exit, whose runtime logs its teardown (LiteRT's "DestroyAccelerator" lines) while
    the interpreter shuts down, after any code of ours could capture it."""
    if verbose():
        return
    try:
        sys.stderr.flush()
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 2)
        os.close(fd)
    except (OSError, AttributeError, ValueError):
        pass
