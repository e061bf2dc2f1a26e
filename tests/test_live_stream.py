"""Posing live sources: ``PoseEstimator.stream`` and ``posefast predict`` on real
servers on 127.0.0.1, with the real 353x481 model on the shared photographs."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import MODEL_353
from live_servers import (CLIP_FPS, CLIP_FRAMES, RtspServer, clip,  # noqa: F401
                          http_url, interrupt, listening, pipe_of, serving, tcp_server)
from video_clips import estimator  # noqa: F401  (a fixture: the 353x481 model)

av = pytest.importorskip("av")

from posefast.reading.live import LiveError, LiveOptions  # noqa: E402
from posefast.reading.video import iter_frames  # noqa: E402
from posefast.video.stream import TrackingOptions  # noqa: E402

QUICK = LiveOptions(open_timeout=5.0, read_timeout=2.0)
KEYS = ["source", "frame", "time", "width", "height", "poses", "error", "latency"]


def test_piped_frames_are_posed_as_the_file_is(estimator, clip):
    """Every 5th frame of the piped clip, kept all: the records are those of
    estimate() on the frames decoded from the file, with the frame's number and time."""
    expected = [(f.index, f.time, estimator.estimate(f.pixels)) for f in iter_frames(str(clip), 5)]
    proc = pipe_of(clip)
    try:
        with estimator.stream("-", every=5, keep_all=True, options=QUICK,
                              stdin=proc.stdout) as stream:
            got = list(stream)
        assert stream.dropped == {"-": 0}
        assert stream.posed == {"-": CLIP_FRAMES // 5}
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert len(got) == len(expected) == CLIP_FRAMES // 5
    for record, (index, t, poses) in zip(got, expected):
        assert list(record) == KEYS
        assert record["source"] == "-" and record["error"] is None
        assert record["frame"] == index and record["time"] == pytest.approx(t, abs=1e-6)
        assert (record["width"], record["height"]) == (640, 480)
        assert record["latency"] >= 0
        assert len(record["poses"]) == len(poses) >= 1
        for mine, ref in zip(record["poses"], poses):
            assert mine["score"] == pytest.approx(ref.score, abs=1e-6)
            xy = [(k["x"], k["y"]) for k in mine["keypoints"]]
            np.testing.assert_allclose(xy, ref.keypoints[:, :2], atol=1e-4)


def test_a_stream_faster_than_posing_drops_frames(clip, tmp_path):
    """Twenty times real time (500 fps) posed by one thread, more than any machine
    keeps up with: frames are dropped and counted, the records skip ahead, and each
    is posed within a frame or two of its arrival rather than ever later."""
    from posefast import PoseEstimator

    server, port = serving(clip, tmp_path, rate=20)
    try:
        with PoseEstimator(model=str(MODEL_353), backend_options={"num_threads": 1}) as one, \
                one.stream(http_url(port, password="s3cret"), max_frames=12,
                options=QUICK) as stream:
            got = list(stream)
            dropped = stream.dropped
    finally:
        server.stop()
    shown = f"http://viewer:***@127.0.0.1:{port}/live.ts"
    assert len(got) == 12 and {r["source"] for r in got} == {shown}
    assert dropped[shown] > 0
    frames = [r["frame"] for r in got]
    assert frames == sorted(set(frames)) and frames[-1] - frames[0] > len(frames)
    assert all(r["poses"] for r in got)  # every photograph shows a person
    assert "s3cret" not in json.dumps(got)


def test_three_streams_posed_in_two_lanes_keep_each_sources_order(estimator, clip, tmp_path):
    """Two estimators of one thread each pose frames of three streams at once
    (``lanes``): each source's records in its frames' order, tracked per source,
    every source served, and each record's poses those of estimate() on its frame."""
    from posefast import PoseEstimator
    from posefast.video.live import LiveStream

    servers = [serving(clip, tmp_path), serving(clip, tmp_path),
               serving(clip, tmp_path, make=tcp_server)]
    names = [http_url(servers[0][1]), http_url(servers[1][1]),
             f"tcp://127.0.0.1:{servers[2][1]}"]
    one = {"num_threads": 1}
    try:
        with PoseEstimator(model=str(MODEL_353), backend_options=one) as first, \
                PoseEstimator(model=str(MODEL_353), backend_options=one) as second, \
                LiveStream(first, names, max_frames=30, options=QUICK, lanes=[second],
                           tracking=TrackingOptions()) as stream:
            pairs = list(stream.with_frames())
    finally:
        for server, _ in servers:
            server.stop()
    got = [record for record, _ in pairs]
    assert len(got) == 30 and all(r["error"] is None for r in got)
    for name in names:
        mine = [r for r in got if r["source"] == name]
        assert len(mine) >= 5
        assert [r["frame"] for r in mine] == sorted({r["frame"] for r in mine})
        assert [r["time"] for r in mine] == sorted({r["time"] for r in mine})
        assert mine[0]["poses"][0]["track_id"] == 1
    for record, frame in pairs[::7]:
        expected = estimator.estimate(frame.pixels)
        assert len(record["poses"]) == len(expected)
        np.testing.assert_allclose([[k["x"], k["y"]] for k in record["poses"][0]["keypoints"]],
                                   expected[0].keypoints[:, :2], atol=1e-3)


def test_two_streams_posed_side_by_side(estimator, clip, tmp_path):
    a, pa = serving(clip, tmp_path)
    b, pb = serving(clip, tmp_path, make=tcp_server)
    names = [http_url(pa), f"tcp://127.0.0.1:{pb}"]
    try:
        with estimator.stream(names, max_frames=16, options=QUICK,
                              tracking=TrackingOptions()) as stream:
            got = list(stream)
    finally:
        a.stop()
        b.stop()
    counts = {n: sum(1 for r in got if r["source"] == n) for n in names}
    assert len(got) == 16 and min(counts.values()) >= 5, counts
    for name in names:  # tracked per source: ids start at 1 in each
        mine = [r for r in got if r["source"] == name]
        assert [r["frame"] for r in mine] == sorted({r["frame"] for r in mine})
        assert mine[0]["poses"][0]["track_id"] == 1


def test_rtsp_stream_is_posed(estimator, clip, tmp_path):
    with RtspServer(clip, tmp_path) as rtsp:
        with estimator.stream(rtsp.url, max_frames=3, options=QUICK) as stream:
            got = list(stream)
    assert len(got) == 3 and all(r["poses"] and r["error"] is None for r in got)


def test_duration_ends_the_stream_and_stop_from_another_thread(estimator, clip, tmp_path):
    server, port = serving(clip, tmp_path)
    try:
        t0 = time.monotonic()
        got = list(estimator.stream(http_url(port), duration=1.5, options=QUICK))
        took = time.monotonic() - t0
    finally:
        server.stop()
    assert got and took < 15  # it ended by itself
    assert all(b["time"] > a["time"] for a, b in zip(got, got[1:]))

    server, port = serving(clip, tmp_path)
    try:
        stream = estimator.stream(http_url(port), options=QUICK)
        timer = threading.Timer(1.5, stream.stop)
        timer.start()
        got = list(stream)
        timer.join()
    finally:
        server.stop()
    assert got and not any(s._thread.is_alive() for s in stream._group.sources)


def test_a_failed_source_raises_or_gives_an_error_record(estimator):
    with pytest.raises(LiveError, match="^/dev/video98: no such V4L2 camera"):
        list(estimator.stream("/dev/video98"))
    got = list(estimator.stream("/dev/video98", on_error="record"))
    assert got == [{"source": "/dev/video98", "frame": None, "time": None, "width": None,
                    "height": None, "poses": [], "error": "/dev/video98: no such V4L2 camera "
                    "(the device does not exist)", "latency": None}]


@pytest.mark.parametrize("kwargs, message", [
    (dict(sources="clip.mp4"), "not a live source"),
    (dict(sources=["-", "-"]), "standard input"),
    (dict(sources="-", duration=0), "duration"),
    (dict(sources="-", max_frames=0), "max_frames"),
    (dict(sources="-", on_error="ignore"), "on_error"),
    (dict(sources="-", every=0), "every"),
])
def test_stream_refuses_bad_arguments(estimator, kwargs, message):
    with pytest.raises(ValueError, match=message):
        estimator.stream(**kwargs)


# -- posefast predict -----------------------------------------------------------------

def predict(*args, stdin=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "posefast", "predict", *map(str, args),
                           "--model", str(MODEL_353)], stdin=stdin, capture_output=True,
                          text=True, timeout=timeout)


def test_predict_reads_a_pipe(clip):
    proc = pipe_of(clip)
    try:
        r = predict("-", "--all-frames", "--max-frames", 3, stdin=proc.stdout)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert [(g["source"], g["frame"]) for g in got] == [("-", 0), ("-", 1), ("-", 2)]
    assert [g["time"] for g in got] == pytest.approx([0, 1 / CLIP_FPS, 2 / CLIP_FPS])
    assert all(g["poses"] and g["latency"] >= 0 for g in got)


def test_predict_a_stream_beside_an_image(clip, tmp_path, shared_data):
    server, port = serving(clip, tmp_path)
    try:
        r = predict(shared_data / "images" / "couple.jpg", http_url(port, "pw"),
                    "--duration", 1.0, "--max-frames", 4)
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got[0]["frame"] is None and len(got) == 5
    assert {g["source"] for g in got[1:]} == {f"http://viewer:***@127.0.0.1:{port}/live.ts"}


@pytest.mark.parametrize("args, status, message", [
    (["/dev/video96", "--max-frames", "1"], 1,
     "posefast: /dev/video96: no such V4L2 camera (the device does not exist)"),
    (["rtsp://admin:pw@127.0.0.1:9/x"], 2,
     "rtsp://admin:***@127.0.0.1:9/x is a live source and never ends: give --duration"),
    (["-", "-"], 2, "live source '-' given twice"),
    (["-", "--render", "out.png"], 2, "live sources are not drawn yet"),
    (["-", "--duration", "0"], 2, "--duration"),
])
def test_predict_live_errors(args, status, message):
    r = predict(*args, stdin=subprocess.DEVNULL)
    assert r.returncode == status, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr and "pw@" not in r.stderr


def test_predict_with_standard_input_closed():
    r = subprocess.run(["sh", "-c", 'exec "$0" "$@" <&-', sys.executable, "-m", "posefast",
                        "predict", "-", "--model", str(MODEL_353)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert "posefast: -: cannot open (standard input is closed)\n" in r.stderr
    assert json.loads(r.stdout)[0]["error"] == "-: cannot open (standard input is closed)"


def test_ctrl_c_ends_predict_on_a_stream(clip, tmp_path):
    """Ctrl-C while a live stream is posed: exit 130 at once, readers stopped, no
    traceback."""
    server, port = serving(clip, tmp_path)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "posefast", "predict", http_url(port),
                                 "--duration", "60", "--model", str(MODEL_353)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            # posing has begun once the server has its client (it then stops listening)
            while listening(port) and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            time.sleep(0.5)
        finally:
            out, err = interrupt(proc, timeout=15)
    finally:
        server.stop()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
