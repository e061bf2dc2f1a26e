"""The live view: a local web page showing live sources' annotated frames as they are
posed (``--view``), with their track ids, frames per second posed and dropped, and
latency.

Served by the standard library alone: ``http.server``'s ``ThreadingHTTPServer``
gives the page, a JSON stats endpoint the page polls, and per source an MJPEG stream
(``multipart/x-mixed-replace``, which every browser shows in a plain ``<img>``). No
web framework and no WebSocket: frames only go one way, and MJPEG needs no code in
the page to show them.

The posing loop only ever hands frames over (:meth:`LiveView.publish` takes a lock
for an assignment); one encoder thread draws and JPEG-encodes the newest frame of
each source that someone is watching, and each browser has its own thread sending
the newest JPEG when it is ready for one. A slow browser skips frames; one that stops
reading is dropped after :data:`CLIENT_TIMEOUT` seconds; neither holds anything back.
"""
from __future__ import annotations

import errno
import io
import ipaddress
import json
import logging
import math
import re
import select
import socket
import socketserver
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

import numpy as np

from .view_page import CSP, page

log = logging.getLogger(__name__)

#: Seconds a browser may take to accept a frame (or to send its request) before it
#: is dropped: a stalled browser holds only its own thread, and only this long.
CLIENT_TIMEOUT = 10.0

#: The MJPEG part boundary.
_BOUNDARY = b"posefastframe"

#: How long :meth:`LiveView.close` waits for each thread to end (seconds).
_JOIN = 5.0

#: Seconds without a record after which a source is shown as stale.
_STALE = 2.0


class LiveViewError(OSError):
    """The live view cannot listen where it was asked to (port in use, unknown host)."""


def parse_address(text: str) -> tuple[str, int]:
    """``(host, port)`` from ``HOST:PORT``, ``:PORT``, ``PORT``, ``HOST`` or
    ``[IPv6]:PORT``; the host defaults to 127.0.0.1 and the port to 0 (a free one).
    Raises ValueError saying what was expected."""
    expected = (f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8080, :8080, 0.0.0.0:8080, "
                f"[::1]:8080; port 0 or none: a free port)")
    if not isinstance(text, str) or not text or any(c.isspace() or c in "/@?#" for c in text):
        raise ValueError(expected)
    v6 = re.fullmatch(r"\[([0-9A-Fa-f:.%\w]+)\](?::(\d*))?", text)
    if v6:
        host, port_text = v6.group(1), v6.group(2) or ""
    elif text.isdigit():
        host, port_text = "", text
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" not in text:
        host, port_text = text, ""
    else:
        raise ValueError(expected + "; an IPv6 address goes in brackets")
    if port_text and not port_text.isdigit():
        raise ValueError(expected)
    port = int(port_text) if port_text else 0
    if port > 65535:
        raise ValueError(f"{text!r}: port {port} is out of range (0 to 65535)")
    return host or "127.0.0.1", port


class SourceRates:
    """Frames per second posed and dropped by one source over about the last
    ``window`` seconds, from its running counts: what :meth:`LiveView.publish`'s
    ``stats`` want, e.g. ``rates.stats(source.taken, source.dropped, latency)``."""

    def __init__(self, window: float = 2.0) -> None:
        if not window > 0:
            raise ValueError(f"window must be seconds > 0, got {window!r}")
        self.window = window
        self._samples: deque[tuple[float, int, int]] = deque()

    def update(self, posed: int, dropped: int, now: float | None = None
               ) -> tuple[float, float]:
        """(posed, dropped) frames per second, given the running counts now
        (``now``: ``time.monotonic()`` seconds, by default the present)."""
        now = time.monotonic() if now is None else now
        samples = self._samples
        samples.append((now, posed, dropped))
        # keep one sample at least ``window`` old: the rates span the whole window
        while len(samples) > 2 and now - samples[1][0] >= self.window:
            samples.popleft()
        t0, posed0, dropped0 = samples[0]
        if now <= t0:
            return 0.0, 0.0
        return (posed - posed0) / (now - t0), (dropped - dropped0) / (now - t0)

    def stats(self, posed: int, dropped: int, latency: float | None,
              now: float | None = None) -> dict[str, float | None]:
        """``{"posed_fps", "dropped_fps", "latency"}`` for :meth:`LiveView.publish`."""
        posed_fps, dropped_fps = self.update(posed, dropped, now)
        return {"posed_fps": posed_fps, "dropped_fps": dropped_fps, "latency": latency}


class _Feed:
    """One source as the view holds it; guarded by the view's condition."""

    def __init__(self, index: int, name: str) -> None:
        self.index = index
        self.name = name
        self.info: dict[str, Any] = {}
        self.updated = time.monotonic()
        self.framed = False  # whether the last record came with its frame
        self.pending: tuple[np.ndarray, list] | None = None  # newest frame not encoded
        self.jpeg: bytes | None = None                       # newest frame encoded
        self.seq = 0                                         # JPEGs encoded so far
        self.encoded_at = 0.0
        self.viewers = 0

    def picture(self, now: float) -> bool:
        """Whether the page gets a picture of it: one drawn already, or frames
        coming. (A picture that never comes would keep the page loading.)"""
        return self.jpeg is not None or (self.framed and now - self.updated < _STALE)


class LiveView:
    """A local web page showing live sources as they are posed: open ``url`` in a
    browser. Each source has a picture (its newest frame posed, the poses drawn in
    their track's colour with the track id, or by side of the body) and a line with
    its frame number, people, track ids, frames per second posed and dropped, and
    latency.

    ``host``, ``port``: where to listen; port 0 takes a free one (see ``url``).
    Listening anywhere but on loopback shows the sources' pictures to whoever can
    reach that address. Raises :class:`LiveViewError` when it cannot listen there.

    Use it as a context manager, or call :meth:`close`::

        with LiveView() as view, est.stream("rtsp://cam/live", view=view) as live:
            print("open", view.url)
            for record in live:
                ...
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 min_score: float = 0.3, quality: int = 80) -> None:
        if not isinstance(host, str):
            raise TypeError(f"host must be a str, got {type(host).__name__}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer from 0 to 65535 (0: a free one), "
                             f"got {port!r}")
        if not 1 <= quality <= 95:
            raise ValueError(f"quality must be a JPEG quality from 1 to 95, got {quality!r}")
        self.min_score = min_score
        self.quality = quality
        self._cond = threading.Condition()
        self._feeds: list[_Feed] = []
        self._by_name: dict[str, _Feed] = {}
        self._closed = False
        self._clients: set[socket.socket] = set()  # connections open, to end on close
        self._server = _bind(host, port)
        self._server.view = self
        bound_host, bound_port = self._server.server_address[:2]
        # listening on every address: this machine reaches it on loopback
        shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(bound_host, bound_host)
        shown = f"[{shown}]" if ":" in shown else shown
        #: The page's address, e.g. ``http://127.0.0.1:41234/`` (on loopback when
        #: listening on every address, 0.0.0.0 or ::).
        self.url = f"http://{shown}:{bound_port}/"
        self.host, self.port = bound_host, bound_port
        self._hosts = _allowed_hosts(host, bound_host, bound_port)
        self._threads = [
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                             name=f"posefast-view-{bound_port}", daemon=True),
            threading.Thread(target=self._encode_loop, name=f"posefast-view-{bound_port}-jpeg",
                             daemon=True)]
        for thread in self._threads:
            thread.start()

    # -- the posing loop's side --

    def publish(self, source: str, frame_rgb: np.ndarray | None, record: Mapping[str, Any],
                stats: Mapping[str, Any]) -> None:
        """Show ``record`` posed on ``frame_rgb`` as ``source``'s newest frame.

        ``frame_rgb``: (H, W, 3) uint8 RGB, the frame the record's keypoints are
        pixels of (copied when someone is watching, so the caller may reuse it);
        None shows the record's line only (an error record). ``record``: a posefast
        record (``frame``, ``time``, ``poses`` with ``track_id`` where tracked,
        ``error``). ``stats``: ``posed_fps``, ``dropped_fps`` (frames per second)
        and ``latency`` (seconds), see :class:`SourceRates`. Never waits for a
        browser: the drawing and encoding happen in the view's own thread, on the
        newest frame only. Does nothing once the view is closed.
        """
        if not isinstance(source, str):
            raise TypeError(f"source must be a str, got {type(source).__name__}")
        if not isinstance(record, Mapping) or not isinstance(stats, Mapping):
            raise TypeError(f"record and stats must be dicts, got "
                            f"{type(record).__name__} and {type(stats).__name__}")
        if frame_rgb is not None and not (isinstance(frame_rgb, np.ndarray)
                                          and frame_rgb.ndim == 3 and frame_rgb.shape[2] == 3
                                          and frame_rgb.dtype == np.uint8):
            raise ValueError(f"frame_rgb must be an (H, W, 3) uint8 RGB array, got "
                             f"{getattr(frame_rgb, 'shape', type(frame_rgb).__name__)} "
                             f"{getattr(frame_rgb, 'dtype', '')}".rstrip())
        poses = list(record.get("poses") or [])
        info = {
            "frame": record.get("frame"), "time": _number(record.get("time")),
            "width": record.get("width"), "height": record.get("height"),
            "people": len(poses),
            "tracks": sorted({p["track_id"] for p in poses
                              if isinstance(p, Mapping) and p.get("track_id") is not None}),
            "posed_fps": _number(stats.get("posed_fps")),
            "dropped_fps": _number(stats.get("dropped_fps")),
            "latency": _number(stats.get("latency")),
            "error": record.get("error"),
        }
        known = self._by_name.get(source)
        # a copy only for a watched source: the caller may write into its array next
        pixels = (frame_rgb.copy() if frame_rgb is not None and known is not None
                  and known.viewers else None)
        with self._cond:
            if self._closed:
                return
            feed = self._by_name.get(source)  # again: another thread may have added it
            if feed is None:
                feed = self._by_name[source] = _Feed(len(self._feeds), source)
                self._feeds.append(feed)
            feed.info, feed.updated = info, time.monotonic()
            feed.framed = frame_rgb is not None
            if pixels is not None:
                feed.pending = (pixels, poses)
                self._cond.notify_all()

    def close(self) -> None:
        """Stop serving: the server, the encoder and every browser's thread end, and
        the port is free again. Safe to call twice."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            clients = list(self._clients)
        self._server.shutdown()
        for conn in clients:  # wakes a thread blocked sending to a stalled browser
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()  # joins the browsers' threads, all ending now
        for thread in self._threads:
            thread.join(_JOIN)

    def __enter__(self) -> "LiveView":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LiveView({self.url!r}{', closed' if self._closed else ''})"

    # -- the server's side --

    def _encode_loop(self) -> None:
        from .annotate import record_drawing

        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or any(
                    f.pending is not None for f in self._feeds))
                if self._closed:
                    return
                # the source served least recently first: turns among busy sources
                feed = min((f for f in self._feeds if f.pending is not None),
                           key=lambda f: f.encoded_at)
                (pixels, poses), feed.pending = feed.pending, None
            try:
                drawn = record_drawing({"poses": poses}, min_score=self.min_score)(pixels)
                jpeg = _jpeg(drawn, self.quality)
            except Exception:  # a bad record must not end the view
                log.debug("live view: cannot draw a frame of %s", feed.name, exc_info=True)
                continue
            with self._cond:
                feed.jpeg, feed.seq, feed.encoded_at = jpeg, feed.seq + 1, time.monotonic()
                self._cond.notify_all()

    def _feed(self, index: int) -> _Feed | None:
        with self._cond:
            return self._feeds[index] if 0 <= index < len(self._feeds) else None

    def _frames(self, feed: _Feed, gone: Callable[[], bool]) -> Iterator[bytes]:
        """The feed's JPEGs as they come, each newest one once; ends on close, or
        when ``gone()`` says the browser left (asked each second without a frame)."""
        seen = -1
        with self._cond:
            feed.viewers += 1
        try:
            while True:
                with self._cond:
                    ready = self._cond.wait_for(lambda: self._closed or (
                        feed.jpeg is not None and feed.seq != seen), timeout=1.0)
                    if self._closed:
                        return
                    if ready:
                        jpeg, seen = feed.jpeg, feed.seq
                if not ready:
                    if gone():
                        return
                    continue
                yield jpeg
        finally:
            with self._cond:
                feed.viewers -= 1

    def _stats(self) -> bytes:
        now = time.monotonic()
        with self._cond:
            sources = [{"id": f.index, "source": f.name, **f.info,
                        "age": round(now - f.updated, 3), "stale": now - f.updated >= _STALE,
                        "picture": f.picture(now), "viewers": f.viewers}
                       for f in self._feeds]
        return json.dumps({"sources": sources}, allow_nan=False).encode()

    def _page(self) -> bytes:
        now = time.monotonic()
        with self._cond:
            feeds = [(f.index, f.name, f.picture(now)) for f in self._feeds]
        return page(feeds)

    def _joined(self, conn: socket.socket) -> bool:
        with self._cond:
            if self._closed:
                return False
            self._clients.add(conn)
            return True

    def _left(self, conn: socket.socket) -> None:
        with self._cond:
            self._clients.discard(conn)

    def _host_allowed(self, host_header: str | None) -> bool:
        if self._hosts is None:
            return True
        if not host_header:
            return False
        try:
            host, port = parse_address(host_header)
        except ValueError:
            return False
        return host.lower() in self._hosts and port in (0, self.port)


# -- HTTP --


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    server_version = "posefast-view"
    timeout = CLIENT_TIMEOUT  # reads and writes: a stalled browser is dropped

    def setup(self) -> None:
        super().setup()
        self._counted = self.server.view._joined(self.connection)
        if not self._counted:
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._counted:
                self.server.view._left(self.connection)

    def handle(self) -> None:
        if self._counted:
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are not the user's business; failures are logged at debug

    def do_GET(self) -> None:
        view = self.server.view
        if not view._host_allowed(self.headers.get("Host")):
            # a page elsewhere that rebinds its name to this address (DNS rebinding)
            # must not read the cameras
            self._send(403, "text/plain; charset=utf-8", b"unexpected Host\n")
            return
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", view._page(),
                       {"Content-Security-Policy": CSP})
        elif path == "/stats.json":
            self._send(200, "application/json", view._stats())
        else:
            match = re.fullmatch(r"/stream/(\d{1,6})\.mjpg", path)
            feed = view._feed(int(match.group(1))) if match else None
            if feed is None:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")
            else:
                self._mjpeg(feed)

    def _send(self, status: int, kind: str, body: bytes,
              headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _mjpeg(self, feed: _Feed) -> None:
        self.send_response(200)
        self.send_header("Content-Type",
                         f"multipart/x-mixed-replace; boundary={_BOUNDARY.decode()}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        # Each part ends with the next boundary: browsers show a part once they see
        # the boundary after it, so sending it at once shows the frame at once.
        self.close_connection = True
        frames = self.server.view._frames(feed, lambda: _peer_closed(self.connection))
        try:
            self.wfile.write(b"--" + _BOUNDARY + b"\r\n")
            for jpeg in frames:
                self.wfile.write(b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                 % len(jpeg) + jpeg + b"\r\n--" + _BOUNDARY + b"\r\n")
        except OSError:  # the browser went away, or stalled past CLIENT_TIMEOUT
            pass
        finally:
            frames.close()  # no longer a viewer, at once


class _Server(ThreadingHTTPServer):
    # never keeps the process alive; server_close() still joins them (block_on_close)
    daemon_threads = True
    view: LiveView

    def server_bind(self) -> None:
        # HTTPServer's own asks socket.getfqdn(host): a DNS lookup, seconds without
        # a network, for a name nothing here uses
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a browser that went away or stalled: nothing the user must see
        log.debug("live view: request from %s failed", client_address, exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _bind(host: str, port: int) -> _Server:
    family = _Server6 if ":" in host else _Server
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        return family((host, port), _Handler)
    except socket.gaierror as exc:
        raise LiveViewError(errno.EINVAL, f"cannot serve the live view on {where}: unknown "
                                          f"host ({exc.strerror})") from None
    except OSError as exc:
        why = {errno.EADDRINUSE: f"port {port} is in use (choose another port, or 0 for "
                                 f"a free one)",
               errno.EADDRNOTAVAIL: f"{host} is not an address of this machine",
               errno.EACCES: f"no permission to listen on port {port}"}.get(
                   exc.errno, exc.strerror or str(exc))
        raise LiveViewError(exc.errno or errno.EINVAL,
                            f"cannot serve the live view on {where}: {why}") from None


def _allowed_hosts(asked: str, bound: str, port: int) -> set[str] | None:
    """The Host header names a view on loopback answers to; None: any (the user
    chose to listen on the network)."""
    try:
        loopback = ipaddress.ip_address(bound.split("%")[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return None
    return {"localhost", "127.0.0.1", "::1", asked.lower(), bound.lower()}


def _peer_closed(conn: socket.socket) -> bool:
    """Whether the browser closed its end (it sends nothing once it has asked)."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        return bool(readable) and conn.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _number(value: Any) -> float | None:
    """A finite float for the JSON, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()
