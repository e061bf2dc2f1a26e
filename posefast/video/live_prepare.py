"""Preparing the next live frame while the network runs on this one, just in time.

Posing a frame is two steps: preparing it (RGB conversion, resizing to the
network's input) and running the network on it. Done one after the other in one
thread, one core idles while the other prepares: the network's threads wait. A
:class:`FramePreparer` takes and prepares the next frame in a thread of its own
while the network runs, so both cores work.

Newest frame first still holds: a frame prepared too early would wait for the
network and grow old meanwhile, frames arriving during the wait being dropped in
its favour. So the preparer takes its frame as late as it can and still be ready
when the consumer asks for it: at the network's expected end (its start plus its
recent running time) plus the consumer's recent time on a result (the record, the
output), less the preparation's recent time, a little early rather than late. A
frame then waits about as long as it did without the overlap, and the network
seldom waits for one.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

#: Weight of the newest time in the running averages of the two steps' times.
_SMOOTHING = 0.2
#: Start preparing this share of a preparation's time earlier than just in time
#: (times vary from frame to frame; a network waiting costs more than a frame's age).
_EARLY = 0.25
#: How often a waiting preparer looks at ``stop`` (seconds).
_POLL = 0.1


@dataclass
class Ready:
    """A frame taken and prepared: its ``source`` and ``frame`` as
    ``LiveGroup.next_frame`` gave them, and what ``prepare`` made of it."""

    source: Any
    frame: Any
    prepared: Any


class FramePreparer:
    """Takes frames with ``take_frame`` and prepares them with ``prepare`` in a thread
    of its own, one ahead of the consumer.

    ``take_frame(timeout)``: the next (source, frame), or None when none came within
    ``timeout`` seconds. ``prepare(frame)``: what the network runs on.
    ``exhausted()``: whether no frame will come any more (every source ended); asked
    after ``take_frame`` gave none, so that the last frame taken is never lost.

    The consumer calls :meth:`get` for the next prepared frame, then
    :meth:`running` just before the network runs on it and :meth:`done` just after,
    then does its own work on the result and calls :meth:`get` again: the recent
    times of these phases are how the preparer knows when to take the next frame. An error in
    ``take_frame`` or ``prepare`` is raised by :meth:`get`. Call :meth:`stop`
    (or use it as a context manager) to end the thread.
    """

    def __init__(self, take_frame: Callable[[float], Any], prepare: Callable[[Any], Any],
                 exhausted: Callable[[], bool]) -> None:
        self._take_frame = take_frame
        self._prepare = prepare
        self._exhausted = exhausted
        self._ended = False
        self._cond = threading.Condition()
        self._ready: Ready | None = None
        self._error: BaseException | None = None
        self._stop = False
        # the consumer's phases: the network running (since _run_started), then its
        # own work on the result (since _done_at), then asking for the next frame
        self._run_started: float | None = None
        self._done_at: float | None = None
        self._run_time = 0.0  # running averages, seconds
        self._after_time = 0.0
        self._prepare_time = 0.0
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="posefast-live-prepare")
        self._thread.start()

    # -- the consumer's side --

    @property
    def finished(self) -> bool:
        """Whether no frame will come any more: the frames ran out and the last was got."""
        with self._cond:
            return self._ended and self._ready is None

    def get(self, timeout: float) -> Ready | None:
        """The next prepared frame, waiting up to ``timeout`` seconds (None: none yet,
        or none any more: see ``finished``)."""
        with self._cond:
            if self._done_at is not None:
                self._after_time = _average(self._after_time, time.monotonic() - self._done_at)
                self._done_at = None
                self._cond.notify_all()
            self._cond.wait_for(lambda: self._ready is not None or self._error is not None
                                or self._stop or self._ended, timeout)
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            ready, self._ready = self._ready, None
            self._cond.notify_all()
            return ready

    def running(self) -> None:
        """The network starts on the frame last got."""
        with self._cond:
            self._run_started = time.monotonic()
            self._cond.notify_all()

    def done(self) -> None:
        """The network has finished the frame last got."""
        with self._cond:
            now = time.monotonic()
            if self._run_started is not None:
                self._run_time = _average(self._run_time, now - self._run_started)
            self._run_started = None
            self._done_at = now
            self._cond.notify_all()

    def stop(self) -> None:
        """End the preparer's thread (a frame it holds is discarded)."""
        with self._cond:
            self._stop = True
            self._ready = None
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> "FramePreparer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the preparer's thread --

    def _start_at(self) -> float:
        """When to take the next frame (monotonic seconds): just before the consumer
        asks for it, by the recent times of its phases; the caller holds the lock."""
        if self._run_started is not None:
            free = self._run_started + self._run_time + self._after_time
        elif self._done_at is not None:
            free = self._done_at + self._after_time
        else:
            return 0.0  # the consumer is waiting: now
        return free - self._prepare_time * (1 + _EARLY)

    def _loop(self) -> None:
        try:
            while True:
                with self._cond:
                    # room for one frame, and its time come
                    while not self._stop:
                        if self._ready is None:
                            wait = self._start_at() - time.monotonic()
                            if wait <= 0:
                                break
                        else:
                            wait = _POLL
                        self._cond.wait(min(wait, _POLL))
                    if self._stop:
                        return
                got = self._take_frame(_POLL)
                if got is None:
                    if self._exhausted():
                        with self._cond:
                            self._ended = True
                            self._cond.notify_all()
                        return
                    continue
                t0 = time.monotonic()
                prepared = self._prepare(got[1])
                with self._cond:
                    self._prepare_time = _average(self._prepare_time, time.monotonic() - t0)
                    if self._stop:
                        return
                    self._ready = Ready(got[0], got[1], prepared)
                    self._cond.notify_all()
        except BaseException as exc:  # raised by the consumer's get()
            with self._cond:
                self._error = exc
                self._cond.notify_all()


def _average(mean: float, value: float) -> float:
    return value if mean == 0.0 else mean + _SMOOTHING * (value - mean)


__all__ = ["FramePreparer", "Ready"]
