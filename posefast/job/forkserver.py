"""Where the local engine's processes come from: a fork server that has imported what
they need once, so that each process starts in milliseconds instead of importing
NumPy, Pillow and the runtime again; it holds no runtime state and no threads
(unlike the main process). Spawned processes where there is no fork server (Windows,
macOS's defaults).

The server imports the same posefast as the command, whatever the current folder
holds (see ``_own_imports``): Python runs it as ``python -c``, which searches the
current folder first and ignores the command's ``sys.path``, and a source checkout
there whose extension is not built killed every process of the job.

Its imports take about 0.2 s, and the job's first process cannot start before they
are done. So the server starts as early as the command can tell it will be wanted
(see ``posefast.cli``), and this module imports nothing heavy itself.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import threading
from typing import Any, Iterator, Sequence

#: Whether this process has started the fork server (see ``start``).
_started = False

#: The modules every process of the job needs, imported once by the server.
PRELOAD = ("numpy", "PIL.Image", "posefast.estimator", "posefast.job.preparation",
           "posefast.job.inference")


def context(backend_module: str | None = None) -> Any:
    """The multiprocessing context the job's processes are started from. With a fork
    server, ``backend_module`` (the backend class's module) is imported by it too,
    if it is not running yet."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([*PRELOAD, *([backend_module] if backend_module else [])])
    return ctx


def start(backend_module: str | None = None) -> None:
    """Starts the fork server, if processes come from one here and this process has
    not started it yet.

    With Ctrl-C ignored: Ctrl-C is this process's to handle. An ignored signal stays
    ignored across exec (Python then installs no KeyboardInterrupt handler), and the
    server forks each process with the handlers it started with: so neither the
    server, importing its modules, nor a process it forks prints a KeyboardInterrupt
    traceback when Ctrl-C comes while they start. SIGINT is blocked here meanwhile:
    on Linux a blocked signal is kept pending even while ignored, so a Ctrl-C that
    comes now is raised once the handler is back rather than lost (the child's mask
    is reset at exec: it is not blocked there). Only this thread's mask changes,
    though: a thread of this process's that does not block SIGINT (NumPy's OpenBLAS
    starts some at import) may take the signal while it is ignored, and it is lost.
    Hence the server starts before NumPy is imported where it can, and a second call
    does nothing at all: the job's checks call this again, after the command did."""
    global _started
    import signal
    from multiprocessing import forkserver

    if _started or context(backend_module).get_start_method() != "forkserver":
        return
    if threading.current_thread() is not threading.main_thread():
        with _own_imports():
            forkserver.ensure_running()  # signal handlers belong to the main thread
        _started = True
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            with one_blas_thread(), _own_imports():
                forkserver.ensure_running()  # (fork and exec: the server imports on its own)
            _started = True
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Ctrl-C (SIGINT) held back until the block ends, then handled as it would have
    been. Around starting a process: interrupted after the fork server had forked it
    but before it was sent what to run, the process died on an EOFError traceback
    (about one Ctrl-C in 20 sent while a job's processes start). Python runs signal
    handlers in the main thread only, so elsewhere nothing is held back."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if came and callable(previous):
            previous(signal.SIGINT, None)  # (Python's own raises KeyboardInterrupt)
        elif came and previous == signal.SIG_DFL:
            signal.raise_signal(signal.SIGINT)


def wanted_by(argv: Sequence[str]) -> bool:
    """Whether the command line ``argv`` (without the program's name) looks like a
    ``posefast run`` on the local engine, the one command whose processes come from
    the fork server; read before the arguments are parsed, so that the server can
    start before anything heavy is imported. A wrong guess costs little either way:
    an unused server exits with the command, and a missing one is started by the
    job."""
    args = list(argv)
    if not args or args[0] != "run" or "-h" in args or "--help" in args:
        return False
    return not any(a == "--engine=ray" or (a == "--engine" and b == "ray")
                   for a, b in zip(args, args[1:] + [""]))


@contextlib.contextmanager
def _own_imports() -> Iterator[None]:
    """The environment a fork server started meanwhile imports this posefast in.

    Python starts the server as ``python -c ...``, which puts the current folder first
    on ``sys.path``, and its ``main`` ignores the ``sys_path`` it is given (3.11): a
    ``posefast/`` folder there (a clone whose extension is not built) was imported by
    the server, and every process it forked inherited that one. ``PYTHONSAFEPATH``
    (Python 3.11+) leaves the current folder out; where this posefast was itself
    found only through the command's first ``sys.path`` entry (``python -m posefast``
    in a clone) or an import hook, its folder goes first on ``PYTHONPATH``."""
    import posefast

    home = os.path.dirname(os.path.dirname(os.path.realpath(posefast.__file__)))
    reachable = {os.path.realpath(p) for p in sys.path[1:] if p}
    saved = {name: os.environ.get(name) for name in ("PYTHONSAFEPATH", "PYTHONPATH")}
    os.environ["PYTHONSAFEPATH"] = "1"
    if home not in reachable:
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [home] + ([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else []))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """NumPy's OpenBLAS on one thread (unless the user chose) for what starts or
    imports NumPy meanwhile: the fork server, which its processes inherit, and the
    command itself. No process of a job makes BLAS calls, and OpenBLAS starts a
    thread per core at import that spins there: about 0.1 s of CPU in the server,
    while the job waits for it."""
    if "OPENBLAS_NUM_THREADS" in os.environ:
        yield
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        del os.environ["OPENBLAS_NUM_THREADS"]
