"""Posing frames of several live sources at once, one estimator per lane.

One estimator whose backend runs with a thread per core is the fastest way to pose
one source: each frame is posed as soon as possible. With several sources, lanes of
one thread each pose more frames a second on the same cores, as the file job's
inference processes do: a network split over threads waits at every layer for its
slowest thread, and the frame's preparation and the readers' decoding take the cores
those waits leave. Measured with 8 streams of 960x640 on 2 cores: 2 lanes of 1
thread 69 frames/s against 54-60 for 1 lane of 2 threads with the next frame
prepared beside it (docs/benchmarks.md).

Each lane takes the newest frame of the source served least recently, holding that
source until its frame is posed and handed over (``LiveGroup.next_frame(hold=True)``),
so that one source's records stay in its frames' order whatever the lanes' speeds.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Sequence

#: How often a waiting lane looks at ``stop`` (seconds).
_POLL = 0.1
_DONE = object()  # a lane's last item


class PosingLanes:
    """Lanes, a thread each, each posing with its own estimator frames taken from
    ``group`` (a started :class:`~posefast.reading.live_group.LiveGroup`).

    :meth:`next` gives (source, frame, poses) as they are posed; ``finished`` once
    every lane has ended (the sources ended); an error in a lane is raised by
    :meth:`next`. At most one posed frame a lane waits to be taken: a consumer slower
    than the lanes holds them back rather than letting frames queue.
    """

    def __init__(self, group: Any, estimators: Sequence[Any]) -> None:
        self._group = group
        self._results: queue.Queue = queue.Queue(maxsize=len(estimators))
        self._halt = threading.Event()
        self._running = len(estimators)
        self._threads = [threading.Thread(target=self._lane, args=(est,), daemon=True,
                                          name=f"posefast-live-lane-{k}")
                         for k, est in enumerate(estimators)]
        for thread in self._threads:
            thread.start()

    @property
    def finished(self) -> bool:
        """Whether every lane has ended and all they posed was taken."""
        return self._running == 0

    def next(self, timeout: float) -> tuple[Any, Any, Any] | None:
        """The next (source, frame, poses), waiting up to ``timeout`` seconds; None
        when none came in time or the lanes have finished."""
        while self._running:
            try:
                item = self._results.get(timeout=timeout)
            except queue.Empty:
                return None
            if item is _DONE:
                self._running -= 1
                continue
            if isinstance(item, BaseException):
                raise item
            return item
        return None

    def stop(self) -> None:
        """End the lanes (a frame being posed is finished first) and wait for them."""
        self._halt.set()
        for thread in self._threads:
            thread.join()

    def _put(self, item: Any) -> bool:
        while not self._halt.is_set():
            try:
                self._results.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _lane(self, estimator: Any) -> None:
        group = self._group
        try:
            while not self._halt.is_set():
                got = group.next_frame(_POLL, hold=True)
                if got is None:
                    if group.ended:
                        break
                    continue
                source, frame = got
                try:
                    poses = estimator.infer([estimator.prepare(frame.pixels)])[0]
                    # handed over before the source is released: its next frame's
                    # record cannot overtake this one
                    if not self._put((source, frame, poses)):
                        break
                finally:
                    group.release(source)
        except BaseException as exc:  # raised by next() in the consumer's thread
            self._put(exc)
        finally:
            self._put(_DONE)


__all__ = ["PosingLanes"]
