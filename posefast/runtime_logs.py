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
import threading
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


def _dup_stderr() -> int | None:
    """A copy of fd 2 (flushed first) to write the kept lines to while fd 2 is
    redirected; None when nothing is to be redirected: verbose, or no stderr at all."""
    if verbose():
        return None
    try:
        sys.stderr.flush()
        return os.dup(2)
    except (OSError, AttributeError, ValueError):
        return None


#: The redirection of fd 2 that :func:`quiet_runtime_logs` shares between threads:
#: (how many are inside, the saved fd 2, the capture file); guarded by the lock.
_quiet_lock = threading.Lock()
_quiet: list = [0, None, None]


@contextmanager
def quiet_runtime_logs() -> Iterator[None]:
    """While inside: the runtime's INFO/WARNING lines on fd 2 are dropped, other lines
    (errors, Python warnings) are written out at the end. Does nothing when verbose.

    fd 2 is the process's, so threads inside at once (estimators of their own
    running their first inference side by side) share one redirection: the first in
    makes it, the last out undoes it. Each undoing its own left fd 2 pointing at the
    other's deleted file, and every later line on stderr was lost."""
    with _quiet_lock:
        if _quiet[0] == 0:
            _quiet[1:] = _redirect_stderr()
        _quiet[0] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet[0] -= 1
            if _quiet[0] == 0:
                saved, capture = _quiet[1:]
                _quiet[1:] = None, None
                if saved is not None:
                    _restore_stderr(saved, capture)


def _redirect_stderr() -> tuple[int | None, object]:
    """fd 2 pointed at a new temporary file: (a copy of the old fd 2, the file), or
    (None, None) when nothing is to be redirected."""
    saved = _dup_stderr()
    if saved is None:
        return None, None
    try:
        capture = tempfile.TemporaryFile()
    except OSError:
        os.close(saved)
        return None, None
    os.dup2(capture.fileno(), 2)
    return saved, capture


def _restore_stderr(saved: int, capture) -> None:
    """fd 2 back to ``saved``, then what ``capture`` holds written there less the
    runtime's INFO/WARNING lines."""
    with capture:
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


def to_devnull(fd: int) -> None:
    """Points file descriptor ``fd`` at /dev/null: what is written there from now on is
    dropped (a stream whose reader went away, a teardown's lines)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def quiet_teardown() -> None:
    """Drop everything written to fd 2 from now on, unless verbose: for a process about
    to exit, whose runtime logs its teardown (LiteRT's "DestroyAccelerator" lines) while
    the interpreter shuts down, after any code of ours could capture it."""
    if verbose():
        return
    try:
        sys.stderr.flush()
        to_devnull(2)
    except (OSError, AttributeError, ValueError):
        pass


@contextmanager
def drop_stderr_lines(pattern: "re.Pattern[bytes]",
                      prefix: "re.Pattern[bytes] | None" = None,
                      dropped: "list[bytes] | None" = None) -> Iterator[None]:
    """While inside: what is written to fd 2 (by C++ code as well as Python) passes
    through as it comes, partial lines (a progress line redrawn with "\\r") included,
    except each line's text from where ``pattern`` matches (``search``) to its end,
    newline included. A partial line whose end ``prefix`` matches in full (from one
    of its "[") may still become such a line: that end is held back until more comes.
    Does nothing when verbose. ``dropped``: a list that gets each text dropped, so
    that the caller can still tell what the runtime said.

    For runtimes that log from threads of their own for as long as they run (Ray's
    core worker), where :func:`quiet_runtime_logs`, which holds everything back
    until the end, would hold back our own progress line too."""
    import threading

    saved = _dup_stderr()
    if saved is None:
        yield
        return
    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, False)

    def out(data: bytes) -> None:
        try:
            if data:
                os.write(saved, data)
        except OSError:
            pass

    def held_from(partial: bytes) -> int:
        at = partial.rfind(b"[")
        if prefix is not None and at >= 0 and prefix.fullmatch(partial, at):
            return at
        return len(partial)

    def pump() -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(read_end, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = []
            for line in lines:
                m = pattern.search(line)
                kept.append(line[:m.start()] if m else line + b"\n")
                if m and dropped is not None:
                    dropped.append(line[m.start():])
            at = held_from(pending)
            out(b"".join(kept) + pending[:at])
            pending = pending[at:]
        m = pattern.search(pending)
        out(pending[:m.start()] if m else pending)

    thread = threading.Thread(target=pump, name="posefast-stderr", daemon=True)
    thread.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, AttributeError, ValueError):
            pass
        os.dup2(saved, 2)  # closes the pipe's last write end: the pump sees its end
        thread.join(timeout=5)
        os.close(saved)
        if not thread.is_alive():
            os.close(read_end)
