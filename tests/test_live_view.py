"""The live view (``--view``, ``posefast.video.view.LiveView``): a real server on
127.0.0.1, read over HTTP by a plain socket and by a real headless Chromium, showing
the shared photographs posed by the real 353x481 model."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from conftest import MODEL_353
from live_servers import (clip, free_port, http_server, http_url, interrupt,  # noqa: F401
                          need, pipe_of, wait_listening)

from posefast.job.records import make_record
from posefast.render import CENTRE_COLOUR, LEFT_COLOUR, RIGHT_COLOUR, side
from posefast.video.annotate import track_colour
from posefast.video.view import LiveView, LiveViewError, SourceRates, parse_address

PHOTOS = ("standing.png", "kneeling.png", "sitting.png")
#: JPEG moves a drawn colour by a few levels; the photographs have no pixel this
#: close to either side's colour (checked in test_the_photographs_lack_the_colours).
TOLERANCE = 40


@pytest.fixture(scope="module")
def posed(shared_data):
    """The photographs (RGB arrays) and their records, posed by the real model."""
    from posefast import PoseEstimator

    out = []
    with PoseEstimator(model=str(MODEL_353)) as est:
        for i, name in enumerate(PHOTOS):
            pixels = np.asarray(Image.open(shared_data / "images" / name).convert("RGB"))
            h, w = pixels.shape[:2]
            out.append((pixels, make_record(name, i, w, h, est.estimate(pixels))))
    assert all(record["poses"] for _, record in out)
    return out


def view_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t is not threading.main_thread()}


@pytest.fixture
def view():
    """A LiveView on 127.0.0.1; afterwards its port is free and its threads gone."""
    before = view_threads()
    with LiveView() as v:
        yield v
    assert_port_free(v.port)
    left = [t for t in view_threads() - before if t.is_alive()]
    assert not left, f"threads left running: {left}"


def assert_port_free(port: int) -> None:
    """Listening on ``port`` works again: nothing listens there any more (the
    connections closed may linger in TIME_WAIT, as they do for any server)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(1)


def get(url: str, host: str | None = None):
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def stats(view: LiveView) -> list[dict]:
    return json.loads(get(view.url + "stats.json")[2])["sources"]


def wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"no {what} within {timeout} s")


class MjpegClient:
    """Reads an MJPEG stream part by part over a plain socket, as a browser does."""

    def __init__(self, url: str, rcvbuf: int | None = None) -> None:
        rest = url.split("://", 1)[1]
        hostport, path = rest.split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(20)
        self.sock.connect((host, int(port)))
        self.sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\n\r\n".encode())
        self.file = self.sock.makefile("rb")

    def headers(self) -> dict[str, str]:
        status = self.file.readline()
        assert status.startswith(b"HTTP/1.0 200"), status
        out = {}
        for line in iter(self.file.readline, b"\r\n"):
            key, _, value = line.decode().partition(":")
            out[key.strip().lower()] = value.strip()
        assert self.file.readline() == b"--posefastframe\r\n"
        return out

    def part(self) -> bytes:
        headers = {}
        for line in iter(self.file.readline, b"\r\n"):
            assert line, "the stream ended"
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        body = self.file.read(int(headers["content-length"]))
        assert self.file.read(2) == b"\r\n" and self.file.readline() == b"--posefastframe\r\n"
        return body

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def colour_pixels(pixels: np.ndarray, colour) -> np.ndarray:
    """(y, x) of the pixels within TOLERANCE of ``colour`` in every channel."""
    near = np.abs(pixels.astype(int) - np.array(colour)).max(axis=2) < TOLERANCE
    return np.argwhere(near)


def lone_keypoints(record: dict, min_score: float = 0.3, apart: float = 12.0):
    """(x, y, side) of the visible keypoints with no other visible keypoint within
    ``apart`` pixels: the dot drawn there is theirs alone."""
    points = [(kp["x"], kp["y"], side(k)) for pose in record["poses"]
              for k, kp in enumerate(pose["keypoints"]) if kp["score"] >= min_score]
    return [(x, y, s) for i, (x, y, s) in enumerate(points)
            if all(np.hypot(x - x2, y - y2) > apart
                   for j, (x2, y2, _) in enumerate(points) if j != i)]


def check_skeleton(pixels: np.ndarray, record: dict) -> None:
    """The record's skeleton is drawn in ``pixels`` where its keypoints are: many
    pixels of each side's colour, and each lone keypoint's dot in its side's colour."""
    left, right = colour_pixels(pixels, LEFT_COLOUR), colour_pixels(pixels, RIGHT_COLOUR)
    assert len(left) > 100 and len(right) > 100, (len(left), len(right))
    colours = {"left": LEFT_COLOUR, "right": RIGHT_COLOUR, "centre": CENTRE_COLOUR}
    lone = lone_keypoints(record)
    assert {"left", "right"} <= {where for _, _, where in lone}
    for x, y, where in lone:
        got = pixels[int(round(y)), int(round(x))].astype(int)
        assert np.abs(got - colours[where]).max() < 60, (x, y, where, got)


def test_the_photographs_lack_the_colours(posed):
    """So a side's colour found in a picture of the view was drawn there."""
    for pixels, _ in posed:
        for colour in (LEFT_COLOUR, RIGHT_COLOUR, track_colour(1)):
            assert len(colour_pixels(pixels, colour)) <= 1


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)),
    (":8080", ("127.0.0.1", 8080)),
    ("8080", ("127.0.0.1", 8080)),
    ("0.0.0.0:0", ("0.0.0.0", 0)),
    ("localhost", ("localhost", 0)),
    ("[::1]:9000", ("::1", 9000)),
    ("[::1]", ("::1", 0)),
])
def test_parse_address(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "host:port", "1.2.3.4:99999", "::1:80", "a b:80",
                                  "rtsp://cam/live", "http://127.0.0.1:80", "1:2:3", ":-1"])
def test_parse_address_refuses(text):
    with pytest.raises(ValueError, match="HOST:PORT|out of range"):
        parse_address(text)


def test_source_rates():
    """Rates over the last window, from running counts, against hand arithmetic."""
    rates = SourceRates(window=2.0)
    assert rates.update(0, 0, now=10.0) == (0.0, 0.0)
    assert rates.update(10, 5, now=11.0) == (10.0, 5.0)
    assert rates.update(30, 5, now=12.0) == (15.0, 2.5)
    # 10.0 is now 3 s old: the window starts at 11.0 (20 posed, 10 dropped in 2 s)
    assert rates.update(30, 15, now=13.0) == (10.0, 5.0)
    assert rates.stats(30, 15, 0.25, now=14.0) == {"posed_fps": 0.0, "dropped_fps": 5.0,
                                                   "latency": 0.25}
    with pytest.raises(ValueError):
        SourceRates(window=0)


def test_the_page_loads_and_escapes_source_names(view, posed):
    pixels, record = posed[0]
    hostile = 'rtsp://u:***@cam/<img src=x onerror=alert(1)>&"'
    view.publish(hostile, pixels, record, {"posed_fps": 1, "dropped_fps": 0, "latency": 0})
    status, headers, body = get(view.url)
    page = body.decode()
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'sha256-" in headers["Content-Security-Policy"]
    assert "<img src=x" not in page
    assert "rtsp://u:***@cam/&lt;img src=x onerror=alert(1)&gt;&amp;&quot;" in page
    assert '<img src="stream/0.mjpg"' in page
    assert stats(view)[0]["source"] == hostile  # JSON: the page sets it as text
    with pytest.raises(urllib.error.HTTPError, match="404"):
        get(view.url + "stream/1.mjpg")
    with pytest.raises(urllib.error.HTTPError, match="404"):
        get(view.url + "nothing")
    # a page elsewhere whose name was rebound to 127.0.0.1 must not read the view
    with pytest.raises(urllib.error.HTTPError, match="403"):
        get(view.url + "stats.json", host=f"evil.example:{view.port}")
    assert get(view.url, host=f"localhost:{view.port}")[0] == 200


def test_stats_update(view, posed):
    (pixels, record), (pixels2, record2) = posed[:2]
    assert stats(view) == []
    view.publish("cam", pixels, record, {"posed_fps": 12.5, "dropped_fps": 3.0,
                                         "latency": 0.08})
    (first,) = stats(view)
    assert first == {"id": 0, "source": "cam", "frame": 0, "time": None, "width": 640,
                     "height": 480, "people": len(record["poses"]), "tracks": [],
                     "posed_fps": 12.5, "dropped_fps": 3.0, "latency": 0.08, "error": None,
                     "age": first["age"], "stale": False, "picture": True, "viewers": 0}
    tracked = {**record2, "poses": [{**p, "track_id": 7 + i}
                                    for i, p in enumerate(record2["poses"])]}
    view.publish("cam", pixels2, tracked, {"posed_fps": np.float32(10),
                                           "dropped_fps": float("nan"), "latency": None})
    (second,) = stats(view)
    assert (second["frame"], second["tracks"]) == (1, list(range(7, 7 + len(tracked["poses"]))))
    assert (second["posed_fps"], second["dropped_fps"], second["latency"]) == (10.0, None, None)
    # an error record without a frame; a second source comes after the first
    view.publish("other", None, {"source": "other", "error": "other: lost"}, {})
    got = stats(view)
    assert [(s["id"], s["source"], s["error"]) for s in got] == [(0, "cam", None),
                                                                (1, "other", "other: lost")]
    # a source without a frame gets no picture: it would never load, and neither
    # would the page
    assert [s["picture"] for s in got] == [True, False]
    page = get(view.url)[2].decode()
    assert '<img src="stream/0.mjpg"' in page and "stream/1.mjpg" not in page


def test_a_source_without_records_goes_stale(view, posed, monkeypatch):
    from posefast.video import view as view_module

    monkeypatch.setattr(view_module, "_STALE", 0.2)
    pixels, record = posed[0]
    view.publish("cam", pixels, record, {})
    assert [(s["stale"], s["picture"]) for s in stats(view)] == [(False, True)]
    time.sleep(0.3)
    # nobody watched it, so nothing was drawn: no picture either
    assert [(s["stale"], s["picture"]) for s in stats(view)] == [(True, False)]


def test_publish_checks_its_arguments(view, posed):
    pixels, record = posed[0]
    with pytest.raises(ValueError, match=r"frame_rgb must be an \(H, W, 3\) uint8"):
        view.publish("cam", pixels.astype(np.float32), record, {})
    with pytest.raises(ValueError, match="frame_rgb"):
        view.publish("cam", pixels[..., 0], record, {})
    with pytest.raises(TypeError, match="source"):
        view.publish(None, pixels, record, {})
    with pytest.raises(TypeError, match="record and stats must be dicts"):
        view.publish("cam", pixels, record, None)
    assert stats(view) == []  # nothing refused was shown


def test_mjpeg_frames_change_and_show_the_skeleton(view, posed):
    """Two frames published one after the other come out as two JPEG parts: each
    the photograph published, with its skeleton drawn by side of the body."""
    (a, record_a), (b, record_b) = posed[0], posed[1]
    view.publish("cam", a, record_a, {})
    client = MjpegClient(view.url + "stream/0.mjpg")
    try:
        assert client.headers()["content-type"] == \
            "multipart/x-mixed-replace; boundary=posefastframe"
        wait_for(lambda: stats(view)[0]["viewers"] == 1, what="viewer")
        got = []
        for pixels, record in ((a, record_a), (b, record_b)):
            view.publish("cam", pixels, record, {})
            got.append(np.asarray(Image.open(BytesIO(client.part())).convert("RGB")))
    finally:
        client.close()
    wait_for(lambda: stats(view)[0]["viewers"] == 0, what="viewer leaving")
    for frame, (pixels, record), (other, _) in zip(got, [(a, record_a), (b, record_b)],
                                                   [(b, None), (a, None)]):
        assert frame.shape == pixels.shape
        diff = np.abs(frame.astype(int) - pixels).mean()
        assert diff < np.abs(frame.astype(int) - other).mean() / 3, "not the frame published"
        check_skeleton(frame, record)
    assert np.abs(got[0].astype(int) - got[1]).mean() > 10  # the frames changed


def test_a_stalled_browser_does_not_hold_publish_back(view, posed, monkeypatch):
    """A client that never reads: publish goes on, a second client keeps getting new
    frames, the stalled one is dropped after the client timeout, and close() ends
    everything although the stalled one is still connected."""
    from posefast.video import view as view_module

    monkeypatch.setattr(view_module._Handler, "timeout", 2.0)
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(2)]
    _, record = posed[0]
    view.publish("cam", noise[0], record, {})
    stalled = MjpegClient(view.url + "stream/0.mjpg", rcvbuf=4096)  # never read
    healthy = MjpegClient(view.url + "stream/0.mjpg")
    try:
        healthy.headers()
        wait_for(lambda: stats(view)[0]["viewers"] == 2, what="two viewers")
        parts = set()
        for i in range(8):  # each ~1.5 MB: far more than the stalled socket holds
            view.publish("cam", noise[i % 2], {**record, "frame": i}, {})
            parts.add(healthy.part())
        assert len(parts) == 2
        unsent = server_send_queue(view.port, stalled.sock.getsockname()[1])
        assert unsent > 0, "the stalled client's data did not back up"
        # dropped: the viewer count falls back to the healthy one
        wait_for(lambda: stats(view)[0]["viewers"] == 1, what="stalled client dropped")
        view.publish("cam", noise[0], record, {})
        assert healthy.part() in parts
    finally:
        healthy.close()
        stalled.close()


def test_close_ends_a_stalled_browser(posed):
    """close() does not wait for a browser that stopped reading."""
    before = view_threads()
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    view = LiveView()
    view.publish("cam", noise, posed[0][1], {})
    stalled = MjpegClient(view.url + "stream/0.mjpg", rcvbuf=4096)
    try:
        wait_for(lambda: stats(view)[0]["viewers"] == 1, what="viewer")
        for i in range(4):
            view.publish("cam", noise[:, ::-1] if i % 2 else noise, posed[0][1], {})
        wait_for(lambda: server_send_queue(view.port, stalled.sock.getsockname()[1]) > 0,
                 what="data backing up")
        view.close()
        assert not [t for t in view_threads() - before if t.is_alive()]
        assert_port_free(view.port)
        view.publish("cam", noise, posed[0][1], {})  # after close: nothing, no error
        view.close()
    finally:
        stalled.close()
        view.close()


def server_send_queue(port: int, peer_port: int) -> int:
    """Bytes the server's socket to ``peer_port`` holds unsent (/proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if (fields[1] == f"0100007F:{port:04X}" and
                    fields[2] == f"0100007F:{peer_port:04X}"):
                return int(fields[4].split(":")[0], 16)
    return 0


def test_a_port_in_use_is_refused():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(LiveViewError, match=f"127.0.0.1:{port}: port {port} is in use"):
            LiveView("127.0.0.1", port)
        r = predict("-", "--view", f"127.0.0.1:{port}", stdin=subprocess.DEVNULL)
    assert r.returncode == 2, r.stderr
    assert f"posefast: error: --view: cannot serve the live view on 127.0.0.1:{port}: " \
           f"port {port} is in use" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args, message", [
    (["-", "--view", "nowhere:port"], "argument --view: 'nowhere:port' is not HOST:PORT"),
    (["-", "--view", "127.0.0.1:70000"], "port 70000 is out of range"),
    (["--view", "rtsp://cam/live", "-"], "it looks like a source: put --view after"),
    (["-", "--view=192.0.2.1:0"], "192.0.2.1 is not an address of this machine"),
    (["image.jpg", "--view"], "--view shows live sources as they are posed; none is given"),
])
def test_bad_view_values_are_refused(args, message):
    r = predict(*args, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_stream_shows_its_frames(clip, posed):
    """PoseEstimator.stream(view=...): each record posed is published with the frame
    it was posed on, its rates and latency; tracked, each person in the track's
    colour."""
    from posefast import PoseEstimator
    from posefast.video.stream import TrackingOptions

    proc = pipe_of(clip, "-re")  # real time: a viewer joins while frames still come
    try:
        with PoseEstimator(model=str(MODEL_353)) as est, LiveView() as view, \
                est.stream("-", every=5, keep_all=True, stdin=proc.stdout, view=view,
                           tracking=TrackingOptions()) as stream:
            frames, records, client = [], [], None
            try:
                for record in stream:
                    records.append(record)
                    if client is None:
                        client = MjpegClient(view.url + "stream/0.mjpg")
                        client.headers()
                        wait_for(lambda: stats(view)[0]["viewers"] == 1, what="viewer")
                    elif not frames:
                        frames.append(client.part())
                last = stats(view)[0]
            finally:
                if client is not None:
                    client.close()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert len(records) == 15
    assert last["source"] == "-" and last["frame"] == records[-1]["frame"] == 70
    assert last["latency"] == pytest.approx(records[-1]["latency"])
    assert last["posed_fps"] > 0 and last["dropped_fps"] == 0
    tracks = sorted({p["track_id"] for p in records[-1]["poses"]})
    assert last["tracks"] == tracks and tracks
    frame = np.asarray(Image.open(BytesIO(frames[0])).convert("RGB"))
    (person,) = records[1]["poses"]  # one person in the clip
    assert len(colour_pixels(frame, track_colour(person["track_id"]))) > 100
    assert len(colour_pixels(frame, LEFT_COLOUR)) < 10  # not drawn by side


def predict(*args, stdin=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "posefast", "predict", *map(str, args),
                           "--model", str(MODEL_353)], stdin=stdin, capture_output=True,
                          text=True, timeout=timeout)


def chromium(*args: str, tmp_path) -> subprocess.CompletedProcess:
    """Debian's Chromium, headless, on its own profile; as root it needs --no-sandbox.
    ``--timeout`` ends the page's loading (an MJPEG picture never finishes). Its home
    is ``tmp_path``, and nothing it started outlives it: its process group is killed,
    and so are the crash handlers it starts in sessions of their own (found by their
    database, under ``tmp_path``)."""
    home = tmp_path / "chromium-home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    proc = subprocess.Popen([need("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                             "--no-first-run", "--hide-scrollbars", "--disable-extensions",
                             f"--user-data-dir={home / 'profile'}", "--timeout=4000", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        for pid in processes_naming(str(home)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def processes_naming(text: str) -> list[int]:
    """The processes whose command line holds ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def screenshot(url: str, tmp_path, tries: int = 3) -> np.ndarray:
    """Chromium's screenshot of the page (RGB), taken again (up to ``tries`` times)
    while it shows no skeleton colour: on a loaded machine the first frame may come
    after Chromium's --timeout, which stops the page's loading before it shows."""
    for i in range(tries):
        shot = tmp_path / f"view-{i}.png"
        r = chromium("--window-size=900,650", f"--screenshot={shot}", url, tmp_path=tmp_path)
        assert shot.exists(), r.stderr[-2000:]
        pixels = np.asarray(Image.open(shot).convert("RGB"))
        if len(colour_pixels(pixels, LEFT_COLOUR)) and len(colour_pixels(pixels, RIGHT_COLOUR)):
            break
    return pixels


def test_chromium_shows_the_skeletons_of_a_posed_stream(clip, tmp_path, posed):
    """`posefast predict URL --view`: a real headless Chromium shows the frames
    with their skeletons, and the page's line of stats; Ctrl-C ends it all."""
    need("chromium")
    stream_port, view_port = free_port(), free_port()
    server = http_server(clip, stream_port, log=tmp_path / "server.log").start()
    try:
        wait_listening(stream_port, server)
        proc = subprocess.Popen(
            [sys.executable, "-m", "posefast", "predict", http_url(stream_port, "pw"),
             "--duration", "120", "--view", f"127.0.0.1:{view_port}", "--model",
             str(MODEL_353)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            url = f"http://127.0.0.1:{view_port}/"
            said = ""
            while not said.startswith("posefast: live view"):  # imports may warn first
                said = proc.stderr.readline()
                assert said, "predict ended without saying where the view is"
            assert said == f"posefast: live view at {url}\n"

            def posing():
                try:
                    sources = json.loads(get(url + "stats.json")[2])["sources"]
                except OSError:
                    return None
                return sources and sources[0]["posed_fps"] and sources[0]
            source = wait_for(posing, timeout=60, what="frames posed")
            assert source["source"] == f"http://viewer:***@127.0.0.1:{stream_port}/live.ts"

            pixels = screenshot(url, tmp_path)
            dom = chromium("--dump-dom", url, tmp_path=tmp_path).stdout
        finally:
            _, err = interrupt(proc)
    finally:
        server.stop()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert_port_free(view_port)  # the view stopped with predict
    # which of the clip's photographs was shown is not known: each side's colour
    # drawn, which the photographs lack
    left, right = colour_pixels(pixels, LEFT_COLOUR), colour_pixels(pixels, RIGHT_COLOUR)
    assert len(left) > 100 and len(right) > 100, (len(left), len(right))
    assert "fps posed" in dom and "fps dropped" in dom and "latency" in dom, dom[-2000:]
    assert f"http://viewer:***@127.0.0.1:{stream_port}/live.ts" in dom
    assert "pw@" not in dom
