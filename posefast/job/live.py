"""The live part of ``posefast run``: live sources posed in this process, side by
side, newest frame first; beside the job's files when it has some (:class:`LiveBeside`).

Files go through the job's two stages of processes; live sources do not. A frame
sent to a preparation process and then to an inference process would wait in two
queues, and the newest-frame rule wants the frame taken at the moment the posing
is free, so that frames that arrive meanwhile are dropped rather than queued. So
one loop here takes the newest frame of each source in turns
(:class:`~posefast.video.live.LiveStream`: a reader thread per source decodes as
frames come), poses it with the backend's threads over the cores, and hands the
record to the job's sinks (the output, written at once) and the frame to the
frame sinks (``--render-dir``'s MP4 per source); ``--view``'s page is shown each
frame by the stream itself.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator, Protocol, Sequence

from .tasks import RunStats

if TYPE_CHECKING:
    from ..estimator import PoseEstimator
    from ..reading.live import LiveOptions
    from ..video.stream import SmoothingOptions, TrackingOptions
    from ..video.view import LiveView

Record = dict[str, Any]


class FrameSink(Protocol):
    """Something each posed live frame is drawn into (``--render-dir``'s videos):
    ``pixels``, the frame, (H, W, 3) uint8 RGB, the record's keypoints in its pixels."""

    def publish(self, source: str, pixels: Any, record: Record) -> None: ...


def pose_live(estimator: PoseEstimator, names: Sequence[str], *,
              emit: Callable[[Record], None], stats: RunStats,
              options: LiveOptions | None = None, duration: float | None = None,
              max_frames: int | None = None, tracking: TrackingOptions | None = None,
              smoothing: SmoothingOptions | None = None,
              frame_sinks: Iterable[FrameSink] = (), view: LiveView | None = None,
              on_progress: Callable[[RunStats], None] | None = None,
              stdin: BinaryIO | int | None = None,
              on_stream: Callable[[Any], None] | None = None,
              lanes: Sequence[PoseEstimator] = ()) -> None:
    """Pose the live sources ``names`` until ``duration`` seconds have passed,
    ``max_frames`` records are made, or every source has ended; a KeyboardInterrupt
    (Ctrl-C, raised by ``on_progress`` too) stops the readers and goes on up.

    Each record goes to ``emit`` as soon as it is made, its ``latency`` taken just
    before (seconds from the frame's arrival); a source that fails gives an error
    record and the others go on. ``stats`` counts them (``done``, ``failed``) and
    the frames dropped per source (``dropped``); ``seconds`` grows by the time
    spent here. ``tracking``/``smoothing`` track each source apart. Each frame
    posed is drawn into the ``frame_sinks`` after its record is written, and shown on
    ``view`` (a :class:`~posefast.video.view.LiveView`, the page of ``--view``).
    ``on_stream`` is given the :class:`~posefast.video.live.LiveStream` once made,
    so that another thread may stop it (:class:`LiveBeside`). ``lanes``: more
    estimators, to pose frames of different sources at once (see
    ``posefast.video.live_lanes``).
    """
    start = time.perf_counter()
    sinks = list(frame_sinks)
    from ..video.live import LiveStream

    stream = LiveStream(estimator, list(names), duration=duration, max_frames=max_frames,
                        options=options, tracking=tracking, smoothing=smoothing,
                        on_error="record", stdin=stdin, view=view, lanes=lanes)
    seconds = stats.seconds
    if on_stream is not None:
        on_stream(stream)
    try:
        with stream:
            for record, frame in stream.with_frames():
                # a record posed is written, and drawn, whenever Ctrl-C comes
                with _signals_held():
                    if frame is not None:
                        record["latency"] = time.monotonic() - frame.arrival
                    emit(record)
                    if record["error"] is None:
                        stats.done += 1
                    else:
                        stats.failed += 1
                    stats.dropped = stream.dropped
                    stats.seconds = seconds + time.perf_counter() - start
                    if frame is not None:
                        for sink in sinks:
                            sink.publish(record["source"], frame.pixels, record)
                if on_progress is not None:
                    on_progress(stats)
    finally:
        stats.dropped = stream.dropped
        stats.seconds = seconds + time.perf_counter() - start


class LiveBeside:
    """Live sources posed in a thread of their own while the job's files are posed
    (the main thread runs the file job; the cores are shared between the two).

    ``pose(on_stream)`` poses the live sources until they end (:func:`pose_live`,
    passing ``on_stream`` on); it runs in the thread once :meth:`start` is called.
    :meth:`stop` ends it after the record being written (from any thread);
    :meth:`wait` waits for its end, Ctrl-C still heard, and raises what ended it
    if that was an error.
    """

    def __init__(self, pose: Callable[[Callable[[Any], None]], None]) -> None:
        self._pose = pose
        self._stream: Any = None
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="posefast-live-beside")

    def start(self) -> "LiveBeside":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._pose(self._made)
        except BaseException as exc:  # raised again in the main thread, by wait()
            self._error = exc

    def _made(self, stream: Any) -> None:
        self._stream = stream
        if self._stopped.is_set():  # stopped while the model was loading
            stream.stop()

    def stop(self) -> None:
        """End the live posing after the record being written; returns at once."""
        self._stopped.set()
        stream = self._stream
        if stream is not None:
            stream.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the end (``timeout`` seconds at most; None: however long); in
        short joins, so that the main thread still takes Ctrl-C. True when it has
        ended; raises the error that ended it, once."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._thread.is_alive():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._thread.join(0.1)
        error, self._error = self._error, None
        if error is not None:
            raise error
        return True


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM held back until the block ends, then handled as
    they would have been: the KeyboardInterrupt they raise would otherwise cut a
    record between being posed and being written, or a video frame between being
    encoded and being stored. Python runs signal handlers in the main thread only
    (the readers' threads may take the signal, the main thread handles it), so
    elsewhere nothing is held back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: came.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            if handler is not None:  # (None: not set from Python; nothing to put back)
                signal.signal(s, handler)
        for s in came[:1]:
            handler = previous[s]
            if callable(handler):
                handler(s, None)  # (Python's own raises KeyboardInterrupt)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(s)
