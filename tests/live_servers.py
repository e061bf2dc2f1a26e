"""Real stream servers on 127.0.0.1 for the live-source tests, always stopped.

FFmpeg serves a clip made of the shared photographs over HTTP (``-listen 1``) and
TCP (``?listen=1``), or writes it to a pipe; Debian's ``rtsp-server-perl`` serves it
over RTSP, FFmpeg publishing to it. The programs come from Debian's packages
(``.ci/run`` installs them); tests that need a missing one skip, naming it.
"""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Sequence

import pytest

#: The clip: the three 640x480 photographs, a second each, 25 fps, H.264 with a
#: key frame every 10 frames (a client joining mid-stream starts within 0.4 s).
CLIP_PHOTOS = ("standing.png", "kneeling.png", "sitting.png")
CLIP_FPS = 25
CLIP_FRAMES = CLIP_FPS * len(CLIP_PHOTOS)


def need(program: str) -> str:
    """The path of ``program``, or skip the test naming the Debian package to install."""
    path = shutil.which(program)
    if path is None:
        package = {"rtsp-server-perl": "rtsp-server-perl"}.get(program, program)
        pytest.skip(f"{program} not found (apt-get install {package}; .ci/run does)")
    return path


def make_clip(images: Path, out: Path, *, size: tuple[int, int] = (640, 480),
              fps: int = CLIP_FPS, seconds_each: float = 1, key_every: int = 10,
              preset: str = "ultrafast") -> Path:
    """Write the test clip to ``out`` (an .mp4) with FFmpeg and return it: each of
    CLIP_PHOTOS for ``seconds_each``, ``size`` (width, height) at ``fps``, H.264
    with a key frame every ``key_every`` frames and no B-frames (x264's ``preset``)."""
    ffmpeg = need("ffmpeg")
    args = [ffmpeg, "-nostdin", "-loglevel", "error", "-y"]
    for name in CLIP_PHOTOS:
        args += ["-loop", "1", "-t", str(seconds_each), "-framerate", str(fps),
                 "-i", str(images / name)]
    w, h = size
    chains = "".join(f"[{i}]scale={w}:{h},setsar=1,format=yuv420p[v{i}];"
                     for i in range(len(CLIP_PHOTOS)))
    joined = "".join(f"[v{i}]" for i in range(len(CLIP_PHOTOS)))
    args += ["-filter_complex", f"{chains}{joined}concat=n={len(CLIP_PHOTOS)}:v=1[out]",
             "-map", "[out]", "-c:v", "libx264", "-preset", preset, "-g", str(key_every),
             "-bf", "0", str(out)]
    subprocess.run(args, check=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def clip(shared_data, tmp_path_factory) -> Path:
    """The test clip, made once per test module."""
    return make_clip(shared_data / "images", tmp_path_factory.mktemp("live") / "clip.mp4")


def pipe_of(clip: Path, *extra: str) -> subprocess.Popen:
    """FFmpeg writing ``clip`` once, as MPEG-TS, to a pipe (its stdout)."""
    return subprocess.Popen([need("ffmpeg"), "-nostdin", "-loglevel", "error", *extra, "-i",
                             str(clip), "-c", "copy", "-f", "mpegts", "-"],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)


def interrupt(proc: subprocess.Popen, timeout: float = 30) -> tuple[str, str]:
    """Ctrl-C (SIGINT) to a command a test started, and its output; killed and
    waited for if it does not end within ``timeout`` seconds."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Whether a TCP socket listens on 127.0.0.1:``port``, asked of the kernel
    (connecting would take the single client an ``-listen 1`` server serves)."""
    want = f"0100007F:{port:04X}"
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(f[1] == want and f[3] == "0A"  # 0A: LISTEN
               for f in (line.split() for line in lines))


def wait_listening(port: int, server: "Server", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not listening(port):
        if server.proc is not None and server.proc.poll() is not None:
            raise RuntimeError(f"{server.args[0]} exited ({server.proc.returncode}): "
                               f"{server.log()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")
        time.sleep(0.02)


class Server:
    """A program started for a test: ``stop`` (or leaving ``with``) kills it and
    waits for it, whatever state it is in (paused included)."""

    def __init__(self, args: Sequence[str], log: Path | None = None) -> None:
        self.args = list(args)
        self.proc: subprocess.Popen | None = None
        self._log = log

    def start(self) -> "Server":
        out = open(self._log, "ab") if self._log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)
        finally:
            if self._log:
                out.close()
        return self

    def pause(self) -> None:
        """Stop it answering, without closing its connections (SIGSTOP)."""
        self.proc.send_signal(signal.SIGSTOP)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log(self) -> str:
        return self._log.read_text(errors="replace")[-2000:] if self._log else ""

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ffmpeg_serving(clip: Path, url: str, *, rate: float = 1.0, fmt: str = "mpegts",
                   log: Path | None = None) -> Server:
    """FFmpeg sending ``clip`` in a loop to ``url`` at ``rate`` times real time
    (``-listen 1`` URLs: serving it to one client). Each packet is sent as it is
    made (``-flush_packets 1``): FFmpeg otherwise holds 32 KiB, seconds of this
    clip's still pictures, as a camera would not."""
    return Server([need("ffmpeg"), "-nostdin", "-loglevel", "error", "-readrate", str(rate),
                   "-stream_loop", "-1", "-i", str(clip), "-c", "copy", "-flush_packets", "1",
                   "-f", fmt, url], log=log)


def http_server(clip: Path, port: int, **kw) -> Server:
    """FFmpeg's own HTTP server on 127.0.0.1:``port``, serving ``/live.ts``."""
    server = ffmpeg_serving(clip, f"http://127.0.0.1:{port}/live.ts", **kw)
    server.args[-1:-1] = ["-listen", "1"]
    return server


def tcp_server(clip: Path, port: int, **kw) -> Server:
    """FFmpeg listening on tcp://127.0.0.1:``port`` and sending MPEG-TS."""
    return ffmpeg_serving(clip, f"tcp://127.0.0.1:{port}?listen=1", **kw)


def rtmp_server(clip: Path, port: int, **kw) -> Server:
    """FFmpeg's own RTMP server (``-listen 1``: one client plays it) on
    127.0.0.1:``port``, serving ``rtmp://127.0.0.1:PORT/live/cam`` as FLV."""
    server = ffmpeg_serving(clip, f"rtmp://127.0.0.1:{port}/live/cam", fmt="flv", **kw)
    server.args[-1:-1] = ["-listen", "1"]
    return server


def serving(clip: Path, tmp: Path, make=None, port: int | None = None,
            **kw) -> tuple[Server, int]:
    """A server ``make`` (default :func:`http_server`) started on ``port`` (default a
    free one), listening, its log in ``tmp``: (server, port)."""
    port = port or free_port()
    server = (make or http_server)(clip, port, log=tmp / f"{port}.log", **kw).start()
    try:
        wait_listening(port, server)
    except BaseException:
        server.stop()
        raise
    return server, port


def http_url(port: int, password: str | None = None) -> str:
    user = f"viewer:{password}@" if password else ""
    return f"http://{user}127.0.0.1:{port}/live.ts"


class RtspServer:
    """Debian's rtsp-server-perl on loopback, with FFmpeg publishing ``clip`` to it;
    clients read ``url``."""

    def __init__(self, clip: Path, tmp: Path) -> None:
        self.client_port, self.source_port = free_port(), free_port()
        self.url = f"rtsp://127.0.0.1:{self.client_port}/cam"
        self.server = Server([need("rtsp-server-perl"), "-c", str(self.client_port),
                              "-s", str(self.source_port),
                              "--client_listen_address", "127.0.0.1",
                              "--source_listen_address", "127.0.0.1"], log=tmp / "rtsp.log")
        self.publisher = ffmpeg_serving(clip, f"rtsp://127.0.0.1:{self.source_port}/cam",
                                        fmt="rtsp", log=tmp / "publish.log")

    def __enter__(self) -> "RtspServer":
        self.server.start()
        try:
            wait_listening(self.client_port, self.server)
            wait_listening(self.source_port, self.server)
            self.publisher.start()
        except BaseException:
            self.server.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.publisher.stop()
        self.server.stop()


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed: the test is over
                return
            self.accepted.append(conn)

    def __enter__(self) -> "SilentServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # shutdown wakes the accepting thread (close alone does not on Linux)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()
