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
import queue
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

    if _started or context(backend_module).get_start_method() != "forkserver":
        return
    _launch()
    _started = True


def _launch() -> None:
    """``ensure_running``, as ``start`` says: Ctrl-C ignored by the server, which
    imports this posefast (``_own_imports``) on one BLAS thread."""
    import signal
    from multiprocessing import forkserver

    if threading.current_thread() is not threading.main_thread():
        with _own_imports():
            forkserver.ensure_running()  # signal handlers belong to the main thread
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            with one_blas_thread(), _own_imports():
                forkserver.ensure_running()  # (fork and exec: the server imports on its own)
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


#: Seconds the fork server has to answer a start: at first it is still importing
#: its modules (0.2-0.5 s here, more on a loaded machine); a stopped one never does.
ANSWER_LIMIT = 60.0
#: Seconds to wait for a start after Ctrl-C (or SIGTERM) before giving it up.
INTERRUPT_GRACE = 1.0


class ForkServerError(RuntimeError):
    """A process could not be started: the fork server died or did not answer (it
    was started again for the next try); the message says how."""


def start_process(process: Any) -> None:
    """``process.start()`` (a Process of ``context()``), which never hangs nor dies
    on the fork server's death.

    A start asks the fork server for a process and waits for its answer: a server
    that was killed gave an EOFError traceback, one that was stopped (SIGSTOP) hung
    the job for good, deaf to Ctrl-C and SIGTERM. The start runs in a helper thread
    (``_Starter``) while this one waits, Ctrl-C and SIGTERM heard: a server that does not answer
    within ``ANSWER_LIMIT`` seconds (``INTERRUPT_GRACE`` once interrupted) is killed,
    which ends the wait. A server that failed is replaced by a new one, and
    ForkServerError raised: try again with a new process (and new pipes: the old
    server may have forked one that holds them). Ctrl-C coming meanwhile is raised
    once the start is done or given up: a start cut in the middle left a process
    dying on an EOFError traceback, forked but never told what to run."""
    if getattr(process, "_start_method", None) != "forkserver":
        process.start()
        return
    why = _start_within(process)
    if why is None:
        return
    end_server()
    _launch()
    raise ForkServerError(f"the fork server they come from {why}")


class _Starter:
    """A thread that starts processes, so that the caller can wait for each start
    with signals heard. One for the life of this process: a thread of its own for
    each start cost 1 ms more a start (benchmarks/bench_process_start.py)."""

    def __init__(self) -> None:
        self.pid = os.getpid()  # (a forked child would wait on a thread it lacks)
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="posefast-start", daemon=True).start()

    def _serve(self) -> None:
        while True:
            process, done, outcome = self.jobs.get()
            try:
                process.start()
                outcome.append(None)
            except BaseException as exc:  # handed to the waiting thread
                outcome.append(exc)
            done.set()


_starter: _Starter | None = None


def _start_within(process: Any) -> str | None:
    """Start ``process`` (see ``start_process``); None, or why the server failed."""
    import time

    global _starter
    if _starter is None or _starter.pid != os.getpid():
        _starter = _Starter()
    done, outcome = threading.Event(), []
    _starter.jobs.put((process, done, outcome))
    deadline = time.monotonic() + ANSWER_LIMIT
    interrupt: BaseException | None = None
    ended = False
    while not done.is_set():
        try:
            done.wait(max(0.0, min(0.5, deadline - time.monotonic())))
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as the command takes it
            interrupt = exc
            deadline = min(deadline, time.monotonic() + INTERRUPT_GRACE)
        if not done.is_set() and time.monotonic() >= deadline:
            if ended:  # not even the server's end freed it: give the thread up
                _starter = None
                outcome.append(EOFError("the start did not end with the fork server"))
                break
            end_server()  # its answer cannot come now: the start sees EOF
            ended = True
            deadline = time.monotonic() + 10.0
    if interrupt is not None:
        raise interrupt
    failure = outcome[0] if outcome else None
    if failure is None:
        return None
    if isinstance(failure, (EOFError, OSError)):
        if ended:
            return "did not answer in time"
        return f"failed: {type(failure).__name__}: {failure}"
    raise failure


def end_server() -> None:
    """Kill the fork server (one that died, or was stopped, or does not answer) and
    wait until it is dead, without reaping it: ``ensure_running`` reaps it and starts
    a new one. Every process it had forked seems ended then (their sentinels are its
    pipes); those still running are the caller's to end."""
    import signal
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)  # (a stopped process dies of it too)
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except (ProcessLookupError, ChildProcessError):
        pass


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
