"""Posing live sources in this process, newest frame first (``PoseEstimator.stream``).

One loop takes the newest frame of each source in fair turns (see
:class:`~posefast.reading.live_group.LiveGroup`), poses it, and yields its record;
frames that arrive meanwhile are dropped by the sources' readers, so the lag stays
that of one frame whatever the stream's rate. The next frame is taken and prepared
in a thread beside the loop, just before the network is free
(:class:`~posefast.video.live_prepare.FramePreparer`).
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator, Literal, Sequence

from ..reading.live import LiveError, LiveFrame, LiveOptions
from ..reading.live_group import LiveGroup
from ..reading.live_names import is_live_source
from .live_lanes import PosingLanes
from .live_prepare import FramePreparer
from .stream import SmoothingOptions, TrackingOptions, TrackingStage

if TYPE_CHECKING:
    from .view import LiveView

Record = dict[str, Any]

#: How often a waiting loop looks at ``stop`` and the duration (seconds).
_POLL = 0.1


class LiveStream:
    """The records of live sources as they are posed; iterate over it once.

    Each record is ``posefast run``'s (``source`` with any password masked,
    ``frame``, ``time``, ``width``, ``height``, ``poses``, ``error``) plus
    ``latency``: seconds from the frame's arrival (its decoding) to its record.
    The stream ends after ``duration`` seconds (wall clock, from the start of the
    iteration), after ``max_frames`` records, on ``stop()`` (from any thread), or
    when every source has ended. A source that fails (cannot be opened, or is lost
    for longer than ``options.reconnect_for``) raises :class:`LiveError` with
    ``on_error="raise"`` (the other sources are stopped); with ``on_error="record"``
    it yields an error record (``error`` naming the source, ``frame`` null,
    ``latency`` null) and the others go on.

    ``dropped`` maps each source's name (masked) to its frames dropped so far.

    ``view``: a :class:`~posefast.video.view.LiveView` each posed frame is shown on
    (drawn and encoded in the view's own thread; the caller opens and closes it).

    ``lanes``: more estimators (of the same model and settings, the caller's to
    close): with them, frames of different sources are posed at once, one per
    estimator, each in a thread of its own
    (:class:`~posefast.video.live_lanes.PosingLanes`; give each backend one thread,
    for one core). Without, frames are posed one at a time by ``estimator``, the next
    one prepared beside it.
    """

    def __init__(self, estimator, sources: str | Sequence[str], *,
                 options: LiveOptions | None = None, duration: float | None = None,
                 max_frames: int | None = None, tracking: TrackingOptions | None = None,
                 smoothing: SmoothingOptions | None = None,
                 on_error: Literal["raise", "record"] = "raise",
                 stdin: BinaryIO | int | None = None, view: "LiveView | None" = None,
                 lanes: Sequence[Any] = ()) -> None:
        names = [sources] if isinstance(sources, str) else list(sources)
        for name in names:
            if not isinstance(name, str) or not is_live_source(name):
                raise ValueError(f"{name!r} is not a live source (expected a URL such as "
                                 f"rtsp://..., a camera /dev/videoN, or -); pose files "
                                 f"with estimate() or iter_estimate()")
        if duration is not None and not duration > 0:
            raise ValueError(f"duration must be a number of seconds > 0, got {duration!r}")
        if max_frames is not None and (isinstance(max_frames, bool) or
                                       not isinstance(max_frames, int) or max_frames < 1):
            raise ValueError(f"max_frames must be an integer >= 1, got {max_frames!r}")
        if on_error not in ("raise", "record"):
            raise ValueError(f"on_error must be 'raise' or 'record', got {on_error!r}")
        if view is not None and not callable(getattr(view, "publish", None)):
            raise TypeError(f"view must be a posefast.video.view.LiveView, got "
                            f"{type(view).__name__}")
        self._estimator = estimator
        self._lanes = list(lanes)
        self._group = LiveGroup(names, options, stdin=stdin)
        self._duration = duration
        self._max_frames = max_frames
        self._on_error = on_error
        self._stop = threading.Event()
        self._stages: dict[int, TrackingStage] = {}
        if tracking is not None or smoothing is not None:
            # one tracker per source: records of several sources interleave
            self._stages = {id(s): TrackingStage(_discard, tracking or TrackingOptions(),
                                                 smoothing)
                            for s in self._group.sources}
        self._started = False
        self._view = view
        self._rates: dict[int, Any] = {}

    @property
    def dropped(self) -> dict[str, int]:
        """Frames dropped so far, per source (its masked name)."""
        return {s.display: s.dropped for s in self._group.sources}

    @property
    def posed(self) -> dict[str, int]:
        """Frames taken to be posed so far, per source (its masked name)."""
        return {s.display: s.taken for s in self._group.sources}

    def stop(self) -> None:
        """End the iteration after the record being posed (safe from any thread)."""
        self._stop.set()

    def close(self) -> None:
        """Stop the sources' readers (the iteration does it when it ends)."""
        self._stop.set()
        self._group.stop()

    def __enter__(self) -> "LiveStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Record]:
        return (record for record, _ in self.with_frames())

    def with_frames(self) -> Iterator[tuple[Record, LiveFrame | None]]:
        """The records with the frame each was posed on (``pixels`` (H, W, 3) uint8
        RGB, ``arrival``), for callers that draw or show it; None with an error
        record. Iterate over the stream once, by either way."""
        if self._started:
            raise RuntimeError("a LiveStream is iterated once; make another")
        self._started = True
        return self._records()

    def _records(self) -> Iterator[tuple[Record, LiveFrame | None]]:
        from ..job.records import make_record

        group = self._group
        end = None if self._duration is None else time.monotonic() + self._duration
        reported: set[int] = set()
        count = 0
        group.start()
        poser = (PosingLanes(group, [self._estimator, *self._lanes]) if self._lanes
                 else _OneLane(group, self._estimator))
        try:
            while not self._stop.is_set():
                yield from self._failures(reported)
                left = _POLL if end is None else min(_POLL, end - time.monotonic())
                if left <= 0:
                    break
                posed = poser.next(left)
                if posed is None:
                    if poser.finished:
                        yield from self._failures(reported)
                        break
                    continue
                source, frame, poses = posed
                h, w = frame.pixels.shape[:2]
                record = make_record(source.display, frame.index, w, h, poses,
                                     time=frame.time)
                stage = self._stages.get(id(source))
                if stage is not None:
                    record = stage.apply(record)
                record["latency"] = time.monotonic() - frame.arrival
                if self._view is not None:
                    self._show(source, frame.pixels, record)
                yield record, frame
                count += 1
                if self._max_frames is not None and count >= self._max_frames:
                    break
        finally:
            poser.stop()
            group.stop()

    def _failures(self, reported: set[int]) -> Iterator[tuple[Record, None]]:
        """The error records of sources that failed since last asked (or LiveError)."""
        from ..job.records import error_record

        for source in self._group.sources:
            if id(source) not in reported and source.ended and source.error:
                reported.add(id(source))
                record = {**error_record(source.display, None, source.error), "latency": None}
                if self._view is not None:
                    self._show(source, None, record)
                if self._on_error == "raise":
                    raise LiveError(source.error)
                yield record, None

    def _show(self, source, pixels, record: Record) -> None:
        from .view import SourceRates

        rates = self._rates.get(id(source))
        if rates is None:
            rates = self._rates[id(source)] = SourceRates()
        self._view.publish(source.display, pixels, record,
                           rates.stats(source.taken, source.dropped, record["latency"]))


class _OneLane:
    """Frames posed one at a time by one estimator, in the consumer's thread, the
    next one taken and prepared beside it (see ``posefast.video.live_prepare``);
    the interface of :class:`~posefast.video.live_lanes.PosingLanes`."""

    def __init__(self, group: LiveGroup, estimator: Any) -> None:
        self._estimator = estimator
        self._preparer = FramePreparer(group.next_frame,
                                       lambda frame: estimator.prepare(frame.pixels),
                                       lambda: group.ended)

    @property
    def finished(self) -> bool:
        return self._preparer.finished

    def next(self, timeout: float) -> tuple[Any, LiveFrame, Any] | None:
        ready = self._preparer.get(timeout)
        if ready is None:
            return None
        self._preparer.running()
        poses = self._estimator.infer([ready.prepared])[0]
        self._preparer.done()
        return ready.source, ready.frame, poses

    def stop(self) -> None:
        self._preparer.stop()


def _discard(record: Record) -> None:
    pass
