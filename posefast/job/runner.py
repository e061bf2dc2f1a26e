"""The parallel batch runner behind ``posefast run``.

Each worker is a separate process with its own estimator (its own backend
instance), talking to the main process over its own pipe, so that a worker that
crashes or is killed takes nothing with it: the main process sees the pipe close,
hands the worker's unfinished inputs to a fresh worker, and goes on. Inside a
worker, one thread loads and pre-processes the next inputs while the other runs
the network, so decoding JPEGs overlaps with inference.

The main process hands out inputs (a few per worker at a time: enough to keep
each busy, few enough that little is redone after a crash), puts results back in
input order, and hands each record to the sink as soon as every record before it
is out, so records are emitted in input order whatever the number of workers.
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..config import Config
from ..reading.images import DEFAULT_MAX_PIXELS
from ..pose import Pose
from .records import error_record, failed_record, failure_reason, make_record

#: Inputs handed to a worker ahead of its results: one running, one pre-processed
#: and waiting, one being pre-processed.
PER_WORKER = 3
#: A worker process dying on the same input this many times fails that input.
MAX_ATTEMPTS = 2


@dataclass
class Task:
    """One input: an image file (``payload`` is its path) or a decoded video frame
    (``payload`` is an (H, W, 3) uint8 RGB array), or an input already known to be
    bad (``error`` set, nothing to run)."""

    source: str
    frame: int | None
    payload: str | np.ndarray | None
    error: str | None = None
    seq: int = -1
    attempts: int = 0
    time: float | None = None  # a video frame's presentation time, seconds


@dataclass
class RunStats:
    """What a job did: inputs done and failed, and where the time went (seconds)."""

    done: int = 0
    failed: int = 0
    seconds: float = 0.0
    infer_seconds: float = 0.0   # in the backend's run (the network), summed over workers
    prepare_seconds: float = 0.0  # loading and pre-processing, summed over workers
    restarts: int = 0


class WorkerStartError(RuntimeError):
    """A worker could not create its estimator (bad model, backend unusable, ...)."""


# -- the worker process -----------------------------------------------------------

def _worker_main(conn: Connection, config: Config, max_pixels: int) -> None:
    # Ctrl-C reaches the whole process group; the main process decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from ..estimator import PoseEstimator

    try:
        estimator = PoseEstimator(config=config, max_pixels=max_pixels)
    except Exception as exc:
        conn.send(("start_error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    prepared: queue.Queue = queue.Queue(maxsize=1)

    def load() -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):  # the main process is gone, or said stop
                msg = None
            if msg is None:
                prepared.put(None)
                return
            seq, payload = msg
            t0 = time.perf_counter()
            try:
                item: Any = estimator.prepare(payload)
            except Exception as exc:
                item = exc
            prepared.put((seq, item, time.perf_counter() - t0))

    loader = threading.Thread(target=load, name="posefast-load", daemon=True)
    loader.start()
    try:
        while (got := prepared.get()) is not None:
            seq, item, prep_s = got
            if isinstance(item, Exception):
                conn.send(("result", seq, None, None, None, failure_reason(item), prep_s, 0.0))
                continue
            before = estimator.run_seconds
            try:
                poses = estimator.infer([item])[0]
                error = None
            except Exception as exc:
                poses, error = [], f"inference failed: {type(exc).__name__}: {exc}"
            infer_s = estimator.run_seconds - before
            packed = [(p.score, p.keypoints) for p in poses]
            conn.send(("result", seq, item.width, item.height, packed, error, prep_s, infer_s))
    except (BrokenPipeError, EOFError, OSError):
        pass  # the main process is gone: nothing to report to
    finally:
        estimator.close()


# -- the main process ---------------------------------------------------------------

@dataclass
class _Worker:
    process: Any
    conn: Connection
    in_flight: dict[int, Task] = field(default_factory=dict)
    started: bool = False


class Runner:
    """Runs tasks over ``workers`` processes and emits records in input order.

    ``emit(record)`` is called in the main thread, in input order, as soon as a
    record and all before it are done. ``on_progress(stats)`` is called after each.
    """

    def __init__(self, config: Config, *, workers: int, max_pixels: int = DEFAULT_MAX_PIXELS,
                 emit: Callable[[dict[str, Any]], None],
                 on_progress: Callable[[RunStats], None] | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.config = config
        self.n_workers = workers
        self.max_pixels = max_pixels
        self.emit = emit
        self.on_progress = on_progress
        self.stats = RunStats()
        self._ctx = mp.get_context("spawn")  # no inherited runtime state or threads
        self._workers: list[_Worker] = []
        self._retry: deque[Task] = deque()
        self._results: dict[int, dict[str, Any]] = {}
        self._next_emit = 0
        self._next_seq = 0
        self._max_restarts = 3 * workers + 2

    def run(self, tasks: Iterable[Task]) -> RunStats:
        start = time.perf_counter()
        graceful = False
        try:
            first = next(iter(tasks := iter(tasks)), None)
            if first is not None:  # no workers to start when there is nothing to do
                self._workers = [self._spawn() for _ in range(self.n_workers)]
                self._loop(itertools.chain([first], tasks))
            graceful = True
        finally:
            self.stats.seconds = time.perf_counter() - start
            self._shutdown(graceful)
        return self.stats

    # -- scheduling --

    def _loop(self, tasks: Iterator[Task]) -> None:
        exhausted = False
        while True:
            exhausted = self._dispatch(tasks, exhausted)
            busy = any(w.in_flight for w in self._workers)
            if not busy and not self._retry and exhausted:
                break
            waitables: list[Any] = []
            for w in self._workers:
                waitables += [w.conn, w.process.sentinel]
            for ready in wait(waitables):
                worker = next((w for w in self._workers
                               if ready is w.conn or ready == w.process.sentinel), None)
                if worker is not None:
                    self._service(worker)

    def _dispatch(self, tasks: Iterator[Task], exhausted: bool) -> bool:
        for w in self._workers:
            while len(w.in_flight) < PER_WORKER:
                task = self._next_task(tasks, exhausted)
                if task is None:
                    exhausted = exhausted or not self._retry
                    break
                if task.error is not None:  # known bad before running: no worker needed
                    self._finish(task, error_record(task.source, task.frame, task.error))
                    continue
                w.in_flight[task.seq] = task
                try:
                    w.conn.send((task.seq, task.payload))
                except (BrokenPipeError, OSError):
                    break  # it died; _service notices through its sentinel
        return exhausted

    def _next_task(self, tasks: Iterator[Task], exhausted: bool) -> Task | None:
        if self._retry:
            return self._retry.popleft()
        if exhausted:
            return None
        task = next(tasks, None)
        if task is not None:
            task.seq = self._next_seq
            self._next_seq += 1
        return task

    def _service(self, worker: _Worker) -> None:
        gone = False
        messages = []
        try:
            while worker.conn.poll():
                messages.append(worker.conn.recv())
        except (EOFError, OSError):
            gone = True  # its end of the pipe closed: it exited or was killed
        for msg in messages:  # outside the try: a failing sink is not a dead worker
            self._handle(worker, msg)
        if gone or not worker.process.is_alive():
            self._replace(worker)

    def _handle(self, worker: _Worker, msg: tuple) -> None:
        kind = msg[0]
        if kind == "ready":
            worker.started = True
        elif kind == "start_error":
            raise WorkerStartError(f"a worker could not start: {msg[1]}")
        elif kind == "result":
            _, seq, width, height, packed, error, prep_s, infer_s = msg
            task = worker.in_flight.pop(seq)
            self.stats.prepare_seconds += prep_s
            self.stats.infer_seconds += infer_s
            if error is not None:
                record = failed_record(task.source, task.frame, error)
            else:
                poses = [Pose(score, kp) for score, kp in packed]
                record = make_record(task.source, task.frame, width, height, poses,
                                     time=task.time)
            self._finish(task, record)

    def _finish(self, task: Task, record: dict[str, Any]) -> None:
        self._results[task.seq] = record
        while self._next_emit in self._results:
            rec = self._results.pop(self._next_emit)
            self._next_emit += 1
            self.emit(rec)
            if rec["error"] is None:
                self.stats.done += 1
            else:
                self.stats.failed += 1
            if self.on_progress:
                self.on_progress(self.stats)

    # -- worker lifecycle --

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_worker_main, args=(child, self.config, self.max_pixels),
                                 name="posefast-worker", daemon=True)
        proc.start()
        child.close()  # the worker holds its end; EOF here means the worker is gone
        return _Worker(proc, parent)

    def _replace(self, dead: _Worker) -> None:
        dead.process.join(timeout=5)
        if dead.process.is_alive():  # closed its pipe but hangs on: not trusted any more
            dead.process.kill()
            dead.process.join()
        code = dead.process.exitcode
        dead.conn.close()
        for task in sorted(dead.in_flight.values(), key=lambda t: t.seq):
            task.attempts += 1
            if task.attempts >= MAX_ATTEMPTS:
                self._finish(task, error_record(
                    task.source, task.frame,
                    f"{task.source}: the worker process died (exit code {code}) "
                    f"while processing this input, {task.attempts} times"))
            else:
                self._retry.append(task)
        dead.in_flight.clear()
        self.stats.restarts += 1
        if self.stats.restarts > self._max_restarts:
            raise RuntimeError(f"worker processes died {self.stats.restarts} times "
                               f"(last exit code {code}); giving up")
        self._workers[self._workers.index(dead)] = self._spawn()

    def _shutdown(self, graceful: bool) -> None:
        for w in self._workers:
            try:
                w.conn.send(None)  # "no more": it finishes what it holds and exits
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + (5.0 if graceful else 0.5)
        for w in self._workers:
            w.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
        self._workers = []
