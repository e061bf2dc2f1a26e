"""Reading a live source (network stream, V4L2 camera, pipe) frame by frame, newest
frame first.

A :class:`LiveSource` opens its source through PyAV in a reader thread of its own,
which decodes every frame as it arrives and keeps only the newest one not yet taken:
frames that arrive while the caller is still busy with an earlier one are dropped
(and counted), never queued, so the caller's lag never grows. With
``LiveOptions(keep_all=True)`` every frame is kept instead (the reader waits while
``buffer`` frames are pending). A source that stops answering or drops is reopened
with back-off for up to ``reconnect_for`` seconds, frame numbers and times going on;
past that it ends with an error. Reads never wait longer than ``read_timeout``,
opening never longer than ``open_timeout``.

Frames are converted to RGB only when taken: a dropped frame costs its decoding
alone. Nothing here is global: each source has its own thread, lock and counters.
"""
from __future__ import annotations

import math
import os
import stat
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterator, Mapping

import numpy as np

from .live_names import LiveKind, live_kind, mask_secrets
from .live_pipe import PipeInput, PipeTimeout
from .video import video_support

#: Defaults, seconds. Opening includes reading the stream's header (FFmpeg probes a
#: few frames), so it gets more time than one read.
DEFAULT_OPEN_TIMEOUT = 20.0
DEFAULT_READ_TIMEOUT = 5.0
DEFAULT_RECONNECT_FOR = 60.0
#: FFmpeg's ``probesize`` for network streams and pipes (bytes; see ``_open``), unless
#: ``LiveOptions.ffmpeg_options`` names one.
LIVE_PROBESIZE = "1000000"
#: Back-off between reconnection attempts: doubles from FIRST_BACKOFF up to MAX_BACKOFF.
FIRST_BACKOFF = 0.25
MAX_BACKOFF = 4.0


class LiveError(Exception):
    """A live source could not be opened, or was lost and not regained in time; the
    message names the source (its password masked) and says why."""


@dataclass(frozen=True)
class LiveOptions:
    """How a live source is read.

    ``open_timeout``: most seconds opening may take (connecting and reading the
    stream's header), at the start and at each reconnection attempt.
    ``read_timeout``: most seconds one read may wait for data; a source silent for
    longer counts as lost. ``reconnect_for``: seconds a lost source is tried again
    (with back-off) before it ends with an error; 0 ends it at once.
    ``keep_all``: keep every frame instead of only the newest (``buffer``: how many
    frames may wait; the reader waits when they are all taken, so a source faster
    than its consumer then falls behind instead of dropping frames).
    ``every``: keep frame 0, every, 2 * every, ...; the others are decoded (a video
    codec needs them) but never offered. ``format``: FFmpeg's demuxer name when it
    cannot be guessed (``"mpegts"``, ``"v4l2"``, ...). ``ffmpeg_options``: options
    for FFmpeg's protocol and demuxer (e.g. ``{"rtsp_transport": "tcp"}``,
    ``{"video_size": "1280x720"}`` for a camera), all values strings.
    """

    open_timeout: float = DEFAULT_OPEN_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    reconnect_for: float = DEFAULT_RECONNECT_FOR
    keep_all: bool = False
    buffer: int = 32
    every: int = 1
    format: str | None = None
    ffmpeg_options: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("open_timeout", "read_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
        if not (isinstance(self.reconnect_for, (int, float)) and self.reconnect_for >= 0):
            raise ValueError(f"reconnect_for must be a number of seconds >= 0 (inf: for "
                             f"ever), got {self.reconnect_for!r}")
        for name in ("every", "buffer"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not all(isinstance(k, str) and isinstance(v, str)
                   for k, v in self.ffmpeg_options.items()):
            raise ValueError(f"ffmpeg_options must map str to str, got "
                             f"{dict(self.ffmpeg_options)!r}")


@dataclass(frozen=True)
class LiveFrame:
    """One frame of a live source.

    ``index``: its number in the stream from 0, counting every frame decoded (those
    dropped or left out by ``every`` too), going on across reconnections.
    ``time``: its presentation time in seconds from the first frame, from the
    stream's timestamps; across a reconnection (or a timestamp jumping back) it
    goes on by the wall-clock time that passed. ``arrival``: ``time.monotonic()``
    when it was decoded. ``pixels``: (H, W, 3) uint8 RGB.
    """

    index: int
    time: float
    arrival: float
    pixels: np.ndarray


@dataclass
class _Pending:
    index: int
    time: float
    arrival: float
    frame: Any  # av.VideoFrame: converted to RGB when taken


class _Lost(Exception):
    """The source dropped (or went silent); the message says how."""


class LiveSource:
    """One live source, read in a thread of its own.

    ``name``: a URL (``rtsp://``, ``http://``, ``tcp://``, ...), a V4L2 camera
    (``/dev/video0``) or ``-`` (``stdin``: the pipe to read, default the process's
    standard input). ``display`` is the name with any password masked: use it in
    messages and records. ``condition``: a ``threading.Condition`` shared by several
    sources (see :class:`~posefast.reading.live_group.LiveGroup`), notified whenever
    a frame arrives or the source ends.

    Example::

        with LiveSource("rtsp://cam.local/stream") as source:
            for frame in source:          # newest frames, until stopped or ended
                print(frame.index, frame.time, frame.pixels.shape)

    ``get``, ``stop`` and the counters may be used from any thread.
    """

    def __init__(self, name: str, options: LiveOptions | None = None, *,
                 stdin: BinaryIO | int | None = None,
                 condition: threading.Condition | None = None) -> None:
        kind = live_kind(name)
        if kind is None:
            raise ValueError(f"{name!r} is not a live source (expected a URL such as "
                             f"rtsp://..., a camera /dev/videoN, or - for standard input)")
        if not video_support():
            raise LiveError("reading live sources needs PyAV: pip install 'posefast[video]'")
        self.name = name
        self.display = mask_secrets(name)
        self.kind: LiveKind = kind
        self.options = options or LiveOptions()
        self._stdin = stdin
        self._cond = condition or threading.Condition()
        self._stop = threading.Event()
        self._pending: deque[_Pending] = deque()
        self._thread: threading.Thread | None = None
        self._ended = False
        self._error: str | None = None
        self._dropped = 0
        self._decoded = 0
        self._taken = 0
        self._reconnects = 0
        # timestamps: the current connection's first pts, and the time it maps to
        self._pts0: float | None = None
        self._time0 = 0.0
        self._last: tuple[float, float] | None = None  # (time, arrival) of the last frame
        self._failure = ""  # why the last opening failed

    # -- state, safe from any thread --

    @property
    def dropped(self) -> int:
        """Frames replaced by a newer one before they were taken."""
        with self._cond:
            return self._dropped

    @property
    def decoded(self) -> int:
        """Frames decoded so far (the next frame's index)."""
        with self._cond:
            return self._decoded

    @property
    def taken(self) -> int:
        """Frames handed out by ``get``."""
        with self._cond:
            return self._taken

    @property
    def reconnects(self) -> int:
        """Times the source was lost and opened again."""
        with self._cond:
            return self._reconnects

    @property
    def ended(self) -> bool:
        """Whether the source has ended (stopped, finished, or failed) and no frame is
        left to take."""
        with self._cond:
            return self._ended and not self._pending

    @property
    def error(self) -> str | None:
        """Why the source failed (naming it), or None."""
        with self._cond:
            return self._error

    def pending_arrival(self) -> float | None:
        """When the oldest frame waiting to be taken arrived (None: none waits)."""
        with self._cond:
            return self._pending[0].arrival if self._pending else None

    # -- control --

    def start(self) -> "LiveSource":
        """Start reading (opening happens in the reader thread; an opening that fails
        ends the source with its error). Starting twice does nothing."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"posefast-live {self.display}")
            self._thread.start()
        return self

    def stop(self, wait: float | None = None) -> None:
        """Ask the reader to end; the frames not yet taken are discarded. ``wait``:
        seconds to wait for the reader thread to finish (None: until it does, at
        most ``read_timeout`` plus a frame when the source is silent)."""
        self._stop.set()
        with self._cond:
            self._pending.clear()
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.options.read_timeout + self.options.open_timeout
                        if wait is None else wait)

    def get(self, timeout: float | None = None) -> LiveFrame | None:
        """The oldest frame waiting (with the default options the only one: the
        newest), waiting up to ``timeout`` seconds (None: until one comes or the
        source ends). None when none came in time or the source has ended (see
        ``ended`` and ``error``)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._pending or self._ended, timeout):
                return None
            item = self._take()
        return None if item is None else _to_frame(item)

    def _take(self) -> _Pending | None:
        """The oldest pending frame, unconverted; the caller holds the condition
        (LiveGroup takes frames under its shared condition, converts them outside)."""
        if not self._pending:
            return None
        item = self._pending.popleft()
        self._taken += 1
        self._cond.notify_all()  # a reader waiting for room (keep_all)
        return item

    def __iter__(self) -> Iterator[LiveFrame]:
        """Frames as ``get`` gives them, until the source ends; raises LiveError at
        the end if it failed."""
        self.start()
        while True:
            frame = self.get()
            if frame is not None:
                yield frame
            elif self.ended:
                break
        if self.error:
            raise LiveError(self.error)

    def __enter__(self) -> "LiveSource":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LiveSource({self.display!r})"

    # -- the reader thread --

    def _run(self) -> None:
        error = None
        try:
            error = self._read_until_end()
        except LiveError as exc:  # not to be tried again
            error = str(exc)
        except Exception as exc:  # a bug must still end the source, not hang its consumer
            error = f"{self.display}: {type(exc).__name__}: {exc}"
        with self._cond:
            self._ended = True
            self._error = error
            self._cond.notify_all()

    def _read_until_end(self) -> str | None:
        """Read connection after connection; the error that ended the source, or None."""
        import av

        opts = self.options
        if self.kind == "camera":
            problem = _camera_problem(self.name)
            if problem:  # no camera there at the start: say so now, not after a timeout
                return f"{self.display}: {problem}"
        container = self._open_within(av, opts.open_timeout)
        if container is None:
            if self._stop.is_set():
                return None
            within = "" if self.kind == "pipe" else f" within {opts.open_timeout:g} s"
            return f"{self.display}: cannot open ({self._failure}){within}"
        while True:
            try:
                finished = self._read(av, container)  # False only when stopped
            except _Lost as exc:
                finished, reason = False, str(exc)
            finally:
                container.close()
            if finished or self._stop.is_set():
                return None
            if self.kind == "pipe" or opts.reconnect_for <= 0:
                return f"{self.display}: lost ({reason})"
            container = self._open_within(av, opts.reconnect_for)
            if container is None:
                return None if self._stop.is_set() else (
                    f"{self.display}: lost ({reason}) and not back within "
                    f"{opts.reconnect_for:g} s (last try: {self._failure})")
            with self._cond:
                self._reconnects += 1

    def _open_within(self, av, window: float):
        """The source opened, trying again with back-off for ``window`` seconds; None
        when it could not be (``_failure`` says why) or stop was asked."""
        deadline = time.monotonic() + window
        backoff = FIRST_BACKOFF
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:  # PyAV takes a timeout below 0 for none at all
                return None
            try:
                return self._open(av, min(self.options.open_timeout, left))
            except _Lost as exc:
                self._failure = str(exc)
            if self.kind == "pipe":  # a pipe cannot be opened again
                return None
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.wait(min(backoff, left)):
                return None
            backoff = min(backoff * 2, MAX_BACKOFF)
        return None

    def _open(self, av, timeout: float):
        """The source opened (at most ``timeout`` seconds), or _Lost saying why."""
        opts = self.options
        # PyAV's timeout bounds FFmpeg's opening and its probing of the stream each:
        # half each keeps the whole within ``timeout``.
        timeouts = (timeout / 2, opts.read_timeout)
        # FFmpeg reads 20 frames to guess a frame rate, 0.8 s of a live 25 fps stream
        # before the first frame; frames carry their own times, so none are read for it.
        # (A probing interrupted by the timeout leaves a reader that fails later.)
        options = {"fpsprobesize": "0"}
        if self.kind != "camera":
            # FFmpeg holds the packets of a stream whose codec it still probes until
            # it has seen `probesize` bytes: 5 MB a source by default, filling over
            # the first 75-90 s of a 960x640 MPEG-TS stream (the job's memory grew
            # 138 -> 190 MiB with 8 of them, then stayed). 1 MB still finds a 24 Mbit/s
            # 1080p stream's parameters (tested), and is reached in seconds.
            options["probesize"] = LIVE_PROBESIZE
        options.update(opts.ffmpeg_options)
        target: Any = self.name
        fmt = opts.format
        pipe = None
        if self.kind == "camera":
            problem = _camera_problem(self.name)
            if problem:  # unplugged: tried again while the window lasts
                raise _Lost(problem)
            fmt = fmt or "v4l2"
        elif self.kind == "pipe":
            stdin = self._stdin
            if stdin is None:
                if sys.stdin is None:  # started with standard input closed (<&-)
                    raise _Lost("standard input is closed")
                stdin = sys.stdin.buffer
            pipe = target = PipeInput(stdin, timeout / 2, self._stop)
        try:
            container = av.open(target, format=fmt, options=options, timeout=timeouts)
        except av.ProtocolNotFoundError as exc:  # trying again will not help
            scheme = self.name.split("://", 1)[0]
            raise LiveError(f"{self.display}: cannot open ({self._why(av, exc, 0)}): the "
                            f"FFmpeg that PyAV uses here cannot read {scheme}:// (PyAV's "
                            f"wheels have no SRT, for one; a PyAV built on a system "
                            f"FFmpeg may)") from None
        except (av.FFmpegError, OSError, ValueError) as exc:  # ValueError: unknown format
            raise _Lost(self._why(av, exc, timeout / 2)) from None
        if pipe is not None:
            pipe.timeout = opts.read_timeout
        if not container.streams.video:
            container.close()
            raise LiveError(f"{self.display}: has no video stream")
        self._pts0 = None  # a new connection: its timestamps start anew
        return container

    def _read(self, av, container) -> bool:
        """Decode frames until the stream ends (True: for good, a file or a pipe at
        its end; False: stop was asked) or raise _Lost."""
        stream = container.streams.video[0]
        # Frame threads would hold back a frame per thread: slices only, for latency.
        stream.thread_type = "SLICE"
        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return False
                try:
                    frames = packet.decode()
                except av.InvalidDataError:
                    continue  # a damaged packet: the decoder resynchronises on the next
                for frame in frames:
                    self._deliver(frame)
        except (av.FFmpegError, OSError) as exc:  # PipeTimeout is an OSError
            raise _Lost(self._why(av, exc, self.options.read_timeout)) from None
        if self._stop.is_set():
            return False
        # The end of a pipe, or of a stream of known length (a file served over
        # HTTP), is its end; a live stream that ends has dropped.
        if self.kind == "pipe" or container.duration:
            return True
        raise _Lost("the stream ended")

    def _deliver(self, frame) -> None:
        arrival = time.monotonic()
        pts = frame.time
        if pts is None:  # no timestamps: the wall clock's
            pts = arrival
        last = self._last
        t = None if self._pts0 is None else self._time0 + (pts - self._pts0)
        if t is None or (last is not None and t < last[0]):
            # a new connection, or timestamps going back: time goes on by the wall clock
            self._pts0 = pts
            self._time0 = 0.0 if last is None else last[0] + max(0.0, arrival - last[1])
            t = self._time0
        self._last = (t, arrival)
        keep = self._decoded % self.options.every == 0
        item = _Pending(self._decoded, t, arrival, frame)
        with self._cond:
            self._decoded += 1
            if not keep:
                return
            if self.options.keep_all:
                while len(self._pending) >= self.options.buffer and not self._stop.is_set():
                    self._cond.wait(0.1)
                if self._stop.is_set():
                    return
            else:
                self._dropped += len(self._pending)
                self._pending.clear()
            self._pending.append(item)
            self._cond.notify_all()

    def _why(self, av, exc: BaseException, timeout: float) -> str:
        """What went wrong, with the name masked: FFmpeg's messages repeat the URL."""
        if isinstance(exc, av.ExitError):  # PyAV's timeout interrupted FFmpeg
            return f"no answer within {timeout:.3g} s"
        if isinstance(exc, PipeTimeout):
            return str(exc)
        text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return text.replace(self.name, self.display)


def _to_frame(item: _Pending) -> LiveFrame:
    return LiveFrame(item.index, item.time, item.arrival, item.frame.to_ndarray(format="rgb24"))


def _camera_problem(path: str) -> str | None:
    """Why ``path`` cannot be a V4L2 camera (None: it may be one)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "no such V4L2 camera (the device does not exist)"
    except OSError as exc:
        return f"cannot use the camera ({exc.strerror or exc})"
    if not stat.S_ISCHR(st.st_mode):
        return "not a camera (not a character device)"
    return None


__all__ = ["LiveError", "LiveFrame", "LiveOptions", "LiveSource"]
