"""The scheduler: the main process's loop that feeds both stages and keeps the order.

Inputs flow: the task iterator -> a preparation process (with a free slot) -> the
ready queue (prepared pixels in a slot) -> an inference process (a batch of slots)
-> a record. The scheduler alone owns the slots and the order: it hands each record
to ``emit`` as soon as it and every record before it are done.

Nothing is lost when a process of either stage dies or overruns the time limit: it
is killed and replaced, and what it held goes round again (prepared pixels stay in
their slots, so an inference death re-runs only the network). An attempt counts
against an input only when the process had started it (the oldest task of a
process that had said "ready"); an input whose attempts reach ``MAX_ATTEMPTS``
gets an error record. Inputs of a batch that died run alone afterwards, so that
one bad input cannot fail its neighbours. Deaths are limited by rate, not in total:
more than ``max_deaths`` within ``death_window`` seconds (or ``START_FAILURES`` in a
row before any process starts) stop the job with ``JobAborted``.
"""
from __future__ import annotations

import heapq
import itertools
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Callable, Iterator

from ..pose import Pose
from . import forkserver
from .events import Events
from .records import error_record, failed_record, make_record
from .slots import SlotPool
from .tasks import JobAborted, RunStats, Task, WorkerStartError

#: Tasks a preparation process holds: one being prepared, one waiting in its pipe.
PER_PREP = 2
#: Slots granted ahead to a preparation process decoding a video.
VIDEO_CREDITS = 2
#: Batches an inference process holds: one running, one waiting.
PER_INFER = 2
#: A process dying (or overrunning) this many times on the same input fails it.
MAX_ATTEMPTS = 2
#: Processes dying before they start, this many times in a row, stop the job.
START_FAILURES = 4
#: Seconds a process may take to start (load the model, open the GPU) at least.
START_LIMIT = 120.0
#: Seconds to wait for the fork server to report a killed process's end.
JOIN_LIMIT = 5.0


@dataclass
class _Unit:
    """One image or video frame: what gets one record."""

    item: int
    frame: int | None
    source: str
    slot: int | None = None
    meta: Any = None
    attempts: int = 0
    single: bool = False  # run alone: it was in a batch whose process died
    time: float | None = None  # a video frame's presentation time, seconds

    @property
    def name(self) -> str:
        return self.source if self.frame is None else f"{self.source} frame {self.frame}"


@dataclass
class _Item:
    """One task in input order, and its records waiting to be emitted."""

    task: Task
    order: deque = field(default_factory=deque)  # record keys in emission order
    records: dict = field(default_factory=dict)
    ended: bool = False
    last_frame: int = -1  # video: the last frame handed over by the preparation stage
    tries: dict = field(default_factory=dict)  # video: deaths per restart point


@dataclass
class _Proc:
    kind: str  # "preparation" or "inference"
    process: Any
    conn: Connection
    since: float
    ready: bool = False
    in_flight: deque = field(default_factory=deque)
    credits: set = field(default_factory=set)  # slots granted for a video, unused
    video: int | None = None  # the item of the video it decodes


class Scheduler:
    """Runs one job; ``Runner`` builds it with the process factories and the pool."""

    def __init__(self, *, pool: SlotPool, spawn: Callable[[str], tuple[Any, Connection]],
                 preparers: int, workers: int, batch_size: int, time_limit: float,
                 max_deaths: int, death_window: float,
                 emit: Callable[[dict[str, Any]], None],
                 on_progress: Callable[[RunStats], None] | None, stats: RunStats) -> None:
        self.pool = pool
        self.spawn_process = spawn
        self.batch_size = batch_size
        self.time_limit = time_limit
        self.max_deaths = max_deaths
        self.death_window = death_window
        self.emit = emit
        self.on_progress = on_progress
        self.stats = stats
        self.free: deque[int] = deque(range(pool.layout.count))
        self.window = max(256, 8 * pool.layout.count)  # items ahead of the oldest unemitted
        self.items: dict[int, _Item] = {}
        self.head = 0  # the next item to emit
        self.next_item = 0
        self.ready: list = []  # heap of (item, frame, uid, unit): prepared, waiting for a batch
        self.retry: deque = deque()  # units or video items to prepare again
        self.uids = itertools.count()
        self.batch_ids = itertools.count()
        self.deaths: deque[float] = deque()
        self.start_failures = 0
        self.peeked: Task | None = None
        self.exhausted = False
        self.events = Events()
        self.procs = [self._spawn("preparation") for _ in range(preparers)]
        self.procs += [self._spawn("inference") for _ in range(workers)]

    # -- the loop --

    def run(self, tasks: Iterator[Task]) -> None:
        self.tasks = tasks
        while True:
            self._dispatch()
            if self._finished():
                return
            for p, ended in self.events.wait(self._until_deadline()):
                if not p.conn.closed:  # (not replaced meanwhile)
                    self._service(p, ended)
            self._enforce_time_limit()

    def _finished(self) -> bool:
        return (self.exhausted and self.peeked is None and not self.retry and not self.ready
                and not any(p.in_flight for p in self.procs) and not self.items)

    # -- handing out work --

    def _dispatch(self) -> None:
        for p in self.procs:
            if p.kind == "preparation":
                self._feed_preparer(p)
        for p in self.procs:
            if p.kind == "inference":
                self._feed_worker(p)

    def _feed_preparer(self, p: _Proc) -> None:
        if p.video is not None:
            if len(p.credits) < VIDEO_CREDITS and self.free:
                grant = [self.free.popleft()
                         for _ in range(min(VIDEO_CREDITS - len(p.credits), len(self.free)))]
                p.credits.update(grant)
                p.since = time.monotonic()  # waiting for slots is not its fault
                self._send(p, ("slots", grant))
            return
        while len(p.in_flight) < PER_PREP:
            work = self._next_preparation(allow_video=not p.in_flight)
            if work is None:
                return
            if not p.in_flight:
                p.since = time.monotonic()
            if isinstance(work, _Unit):
                p.in_flight.append(work)
                self._send(p, ("image", id(work), work.source, work.slot))
            else:  # a video item: alone on its process
                item = self.items[work]
                p.in_flight.append(work)
                p.video = work
                self._send(p, ("video", work, item.task.source, item.task.every,
                               item.task.skip, item.last_frame))
                self._feed_preparer(p)
                return

    def _next_preparation(self, allow_video: bool) -> _Unit | int | None:
        """The next unit (an image with its slot) or video item to prepare, or None."""
        if self.retry:
            work = self.retry[0]
            if isinstance(work, int):
                if not allow_video:
                    return None
            elif work.slot is None:
                if not self.free:
                    return None
                work.slot = self.free.popleft()
            return self.retry.popleft()
        while True:
            if self.peeked is None:
                if self.exhausted or self.next_item - self.head >= self.window:
                    return None
                self.peeked = next(self.tasks, None)
                if self.peeked is None:
                    self.exhausted = True
                    return None
            task = self.peeked
            if task.kind == "error":
                self.peeked = None
                index = self._new_item(task)
                self.items[index].order.append("end")
                self._finish(index, "end", error_record(task.source, task.frame, task.error))
                continue
            if task.kind == "video":
                if not allow_video:
                    return None
                self.peeked = None
                index = self._new_item(task)
                return index
            if not self.free:
                return None
            self.peeked = None
            index = self._new_item(task)
            unit = _Unit(index, None, task.source, slot=self.free.popleft())
            self.items[index].order.append(None)
            return unit

    def _new_item(self, task: Task) -> int:
        index = self.next_item
        self.next_item += 1
        item = _Item(task)
        if task.kind != "video":
            item.ended = True
        self.items[index] = item
        return index

    def _feed_worker(self, p: _Proc) -> None:
        while len(p.in_flight) < PER_INFER and self.ready:
            units = [heapq.heappop(self.ready)[-1]]
            if not units[0].single:
                while (len(units) < self.batch_size and self.ready
                       and not self.ready[0][-1].single):
                    units.append(heapq.heappop(self.ready)[-1])
            if not p.in_flight:
                p.since = time.monotonic()
            batch_id = next(self.batch_ids)
            p.in_flight.append((batch_id, units))
            self._send(p, ("batch", batch_id, [(u.slot, u.meta) for u in units]))

    def _queue_prepared(self, unit: _Unit) -> None:
        frame = -1 if unit.frame is None else unit.frame
        heapq.heappush(self.ready, (unit.item, frame, next(self.uids), unit))

    @staticmethod
    def _send(p: _Proc, msg: Any) -> None:
        try:
            p.conn.send(msg)
        except (BrokenPipeError, OSError):
            pass  # it died: its sentinel says so, and what it held goes round again

    # -- answers --

    def _service(self, p: _Proc, ended: bool) -> None:
        # gone: its end of the pipe closed (it exited or was killed); ended: its
        # sentinel spoke, which it does only when the process has ended
        messages, gone = self.events.drain(p)
        for msg in messages:  # outside the reading: a failing sink is not a dead process
            self._handle(p, msg)
        if gone or (ended and not p.process.is_alive()):
            # a sentinel that spoke while the pipe is open: the process runs on, and
            # its fork server (whose pipe the sentinel is) died
            self._replace(p, None, orphan=not gone)

    def _handle(self, p: _Proc, msg: tuple) -> None:
        kind = msg[0]
        now = time.monotonic()
        if kind == "ready":
            p.ready, p.since = True, now
            self.start_failures = 0
        elif kind == "start_error":
            raise WorkerStartError(f"a worker could not start: {msg[1]}")
        elif kind == "prepared":
            _, _, slot, meta = msg
            unit = p.in_flight.popleft()
            unit.meta = meta
            self.stats.prepare_seconds += meta[3]
            self._queue_prepared(unit)
            p.since = now
        elif kind == "failed":
            _, _, reason, seconds = msg
            unit = p.in_flight.popleft()
            self.stats.prepare_seconds += seconds
            self._release(unit)
            self._finish(unit.item, None, failed_record(unit.source, None, reason))
            p.since = now
        elif kind == "frame":
            _, index, frame, seconds, slot, meta = msg
            item = self.items[index]
            item.order.append(frame)
            item.last_frame = frame
            p.credits.discard(slot)
            unit = _Unit(index, frame, item.task.source, slot=slot, meta=meta, time=seconds)
            self.stats.prepare_seconds += meta[3]
            self._queue_prepared(unit)
            p.since = now
        elif kind == "video_end":
            _, index, unused, error = msg
            for slot in unused:
                if slot in p.credits:
                    p.credits.discard(slot)
                    self.free.append(slot)
            p.in_flight.popleft()
            p.video = None
            p.since = now
            item = self.items[index]
            item.ended = True
            if error is not None:
                item.order.append("end")
                self._finish(index, "end", error_record(item.task.source, None, error))
            else:
                self._emit_ready()
        elif kind == "returned":
            for slot in msg[1]:
                p.credits.discard(slot)
                self.free.append(slot)
        elif kind == "done":
            _, _, results, seconds = msg
            _, units = p.in_flight.popleft()
            self.stats.infer_seconds += seconds
            p.since = now
            for unit, (packed, error) in zip(units, results):
                self._release(unit)
                if error is not None:
                    record = error_record(unit.source, unit.frame, f"{unit.name}: {error}")
                else:
                    _, width, height = unit.meta[:3]
                    poses = [Pose(score, kp) for score, kp in packed]
                    record = make_record(unit.source, unit.frame, width, height, poses,
                                         time=unit.time)
                self._finish(unit.item, unit.frame, record)

    def _release(self, unit: _Unit) -> None:
        if unit.slot is not None:
            self.free.append(unit.slot)
            unit.slot = None

    def _finish(self, index: int, key: Any, record: dict[str, Any]) -> None:
        self.items[index].records[key] = record
        self._emit_ready()

    def _emit_ready(self) -> None:
        while self.head in self.items:
            item = self.items[self.head]
            while item.order and item.order[0] in item.records:
                record = item.records.pop(item.order.popleft())
                self.emit(record)
                if record["error"] is None:
                    self.stats.done += 1
                else:
                    self.stats.failed += 1
                if self.on_progress:
                    self.on_progress(self.stats)
            if not (item.ended and not item.order):
                return
            del self.items[self.head]
            self.head += 1

    # -- deaths and time limits --

    def _until_deadline(self) -> float:
        deadlines = [d for p in self.procs if (d := self._deadline(p)) is not None]
        if not deadlines:
            return 5.0
        return min(5.0, max(0.0, min(deadlines) - time.monotonic()) + 0.01)

    def _deadline(self, p: _Proc) -> float | None:
        if not p.ready:
            return p.since + max(self.time_limit, START_LIMIT)
        if not p.in_flight or (p.video is not None and not p.credits):
            return None  # idle, or decoding a video and waiting for us to free a slot
        if p.kind == "inference":
            return p.since + self.time_limit * len(p.in_flight[0][1])
        return p.since + self.time_limit

    def _enforce_time_limit(self) -> None:
        now = time.monotonic()
        for p in list(self.procs):
            deadline = self._deadline(p)
            if deadline is not None and now > deadline:
                self._replace(p, f"gave no result within the time limit of "
                                 f"{self.time_limit:g} s")

    def _replace(self, p: _Proc, overran: str | None, orphan: bool = False) -> None:
        """Kill ``p``'s process (an ``orphan`` runs on though its fork server died: it
        is not blamed, nor are the inputs it held) and start another in its place."""
        self._kill(p, orphan)
        p.process.join(JOIN_LIMIT)
        if p.process.exitcode is None:
            # killed, yet unreported: the fork server, which reaps the processes and
            # says how they ended, is stopped or hung; a new one takes its place
            forkserver.end_server()
        self.events.remove(p)
        p.conn.close()
        why = overran or (f"died (exit code {p.process.exitcode})" if not orphan
                          else "was lost with the fork server it came from")
        self.stats.restarts += 1
        if not orphan:
            self._count_death(p, why)
        if p.kind == "preparation":
            self._requeue_preparation(p, why, blame=not orphan)
        else:
            self._requeue_inference(p, why, blame=not orphan)
        self.free.extend(p.credits)
        p.credits.clear()
        self.procs[self.procs.index(p)] = self._spawn(p.kind)
        self._emit_ready()

    def _requeue_preparation(self, p: _Proc, why: str, blame: bool = True) -> None:
        for position, work in enumerate(p.in_flight):
            started = position == 0 and p.ready and blame
            if isinstance(work, int):  # a video: start again after its last frame handed over
                item = self.items[work]
                tries = item.tries[item.last_frame] = item.tries.get(item.last_frame, 0) + started
                if tries >= MAX_ATTEMPTS:
                    item.ended = True
                    item.order.append("end")
                    where = ("at its start" if item.last_frame < 0
                             else f"after frame {item.last_frame}")
                    self._finish(work, "end", error_record(
                        item.task.source, None,
                        f"{item.task.source}: the preparation process {why} while decoding "
                        f"this video {where}, {tries} times"))
                else:
                    self.retry.append(work)
                continue
            work.attempts += started
            if work.attempts >= MAX_ATTEMPTS:
                self._fail_unit(work, "preparation", why)
            else:
                self.retry.append(work)

    def _requeue_inference(self, p: _Proc, why: str, blame: bool = True) -> None:
        for position, (_, units) in enumerate(p.in_flight):
            started = position == 0 and p.ready and blame
            for unit in units:
                unit.attempts += started
                unit.single = unit.single or started
                if unit.attempts >= MAX_ATTEMPTS:
                    self._fail_unit(unit, "inference", why)
                else:
                    self._queue_prepared(unit)

    def _fail_unit(self, unit: _Unit, stage: str, why: str) -> None:
        self._release(unit)
        self._finish(unit.item, unit.frame, error_record(
            unit.source, unit.frame,
            f"{unit.name}: the {stage} process {why} while processing this input, "
            f"{unit.attempts} times"))

    def _count_death(self, p: _Proc, why: str) -> None:
        now = time.monotonic()
        self.deaths.append(now)
        while self.deaths and self.deaths[0] < now - self.death_window:
            self.deaths.popleft()
        if not p.ready:
            self.start_failures += 1
        if len(self.deaths) > self.max_deaths:
            raise JobAborted(f"worker processes died {len(self.deaths)} times within "
                             f"{self.death_window:g} s (the last one {why})")
        if self.start_failures >= START_FAILURES:
            raise JobAborted(f"worker processes died {self.start_failures} times in a row "
                             f"before starting (the last one {why})")

    def _spawn(self, kind: str) -> _Proc:
        process, conn = self.spawn_process(kind)
        p = _Proc(kind, process, conn, since=time.monotonic())
        self.events.add(p)
        return p

    # -- the end --

    def shutdown(self, graceful: bool) -> None:
        """Tell every process to finish, and kill those that do not in time; never
        waits long, even on a fork server that is stopped (SIGSTOP) or dead."""
        for p in self.procs:
            self._send(p, None)  # "no more": it finishes what it holds and exits
        deadline = time.monotonic() + (5.0 if graceful else 0.5)
        for p in self.procs:
            p.process.join(timeout=max(0.0, deadline - time.monotonic()))
        for p in self.procs:
            if p.process.is_alive() or self._running(p):
                self._kill(p, orphan=not p.process.is_alive())
        deadline = time.monotonic() + JOIN_LIMIT
        unreported = False
        for p in self.procs:
            p.process.join(timeout=max(0.0, deadline - time.monotonic()))
            unreported |= p.process.exitcode is None
            self.events.remove(p)
            p.conn.close()
        self.procs = []
        if unreported:  # its fork server is stopped or hung: it would stay so for good
            forkserver.end_server()

    @staticmethod
    def _running(p: _Proc) -> bool:
        """Whether p's process still holds its end of the pipe: it runs then, whatever
        its sentinel (its fork server's pipe) says."""
        try:
            while p.conn.poll(0):
                p.conn.recv()
        except (EOFError, OSError):
            return False
        return True

    @staticmethod
    def _kill(p: _Proc, orphan: bool) -> None:
        """SIGKILL p's process; also a stopped (SIGSTOP) one, and an ``orphan``, which
        multiprocessing takes for ended (its fork server died) while its pipe is open:
        while it is, the pid is surely still its own."""
        if orphan:
            try:
                os.kill(p.process.pid, signal.SIGKILL)
            except (ProcessLookupError, TypeError):
                pass
            Scheduler._wait_gone(p)
        elif p.process.is_alive():
            p.process.kill()

    @staticmethod
    def _wait_gone(p: _Proc) -> None:
        """Until p's pipe closes (its process has died), at most ``JOIN_LIMIT`` s:
        nothing it held is handed on before it can no longer write there."""
        deadline = time.monotonic() + JOIN_LIMIT
        try:
            while p.conn.poll(max(0.0, deadline - time.monotonic())):
                p.conn.recv()
                if time.monotonic() > deadline:
                    return
        except (EOFError, OSError):
            return
