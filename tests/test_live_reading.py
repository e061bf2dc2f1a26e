"""Live sources read through real servers on 127.0.0.1 (posefast.reading.live).

The consumer here is a plain loop (no model): what is checked is the reading —
frames and their numbers and times, dropping, reconnecting, timeouts, stopping.
Posing live sources is tested in test_live_stream.py.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time

import numpy as np
import pytest

from posefast.reading.live_names import is_live_source, live_kind, mask_secrets

from live_servers import (CLIP_FPS, CLIP_FRAMES, SilentServer, clip, free_port,  # noqa: F401
                          http_server, http_url, pipe_of, tcp_server, wait_listening)

av = pytest.importorskip("av")

from posefast.reading.live import LiveError, LiveOptions, LiveSource  # noqa: E402
from posefast.reading.live_group import LiveGroup  # noqa: E402

QUICK = dict(open_timeout=5.0, read_timeout=1.0)


@pytest.fixture
def port():
    return free_port()


@contextlib.contextmanager
def http_and_tcp(clip, tmp_path):
    """An HTTP and a TCP server streaming ``clip``, both listening: their URLs."""
    hp, tp = free_port(), free_port()
    with http_server(clip, hp, log=tmp_path / "h.log") as h, \
            tcp_server(clip, tp, log=tmp_path / "t.log") as t:
        wait_listening(hp, h)
        wait_listening(tp, t)
        yield [http_url(hp), f"tcp://127.0.0.1:{tp}"]


def take(source: LiveSource, n: int, *, pause: float = 0.0, limit: float = 30.0,
         taken_at: list[float] | None = None) -> list:
    """``n`` frames from ``source`` (fewer if it ends), sleeping ``pause`` after each
    (a consumer slower than the stream); ``taken_at`` gets when each was taken."""
    frames = []
    deadline = time.monotonic() + limit
    while len(frames) < n and time.monotonic() < deadline:
        frame = source.get(timeout=0.5)
        if frame is None:
            if source.ended:
                break
            continue
        frames.append(frame)
        if taken_at is not None:
            taken_at.append(time.monotonic())
        time.sleep(pause)
    return frames


# -- names --------------------------------------------------------------------

@pytest.mark.parametrize("name, kind", [
    ("rtsp://cam.local:554/live", "network"), ("RTSP://cam/x", "network"),
    ("rtmp://host/app/key", "network"), ("http://127.0.0.1:8080/a.ts", "network"),
    ("https://host/live.m3u8", "network"), ("tcp://127.0.0.1:9000", "network"),
    ("udp://@239.0.0.1:1234", "network"), ("srt://host:9000?mode=caller", "network"),
    ("/dev/video0", "camera"), ("/dev/video12", "camera"),
    ("/dev/v4l/by-id/usb-cam-video-index0", "camera"), ("-", "pipe"),
    ("clip.mp4", None), ("/dev/null", None), ("/dev/videoX", None), ("file:///a.mp4", None),
    ("ftp://host/a.mp4", None), ("rtsp:/missing-slash", None), ("--", None), ("", None),
])
def test_live_kind(name, kind):
    assert live_kind(name) == kind
    assert is_live_source(name) is (kind is not None)


@pytest.mark.parametrize("name, shown", [
    ("rtsp://admin:hunter2@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
    ("rtsp://admin@10.0.0.5/live", "rtsp://admin@10.0.0.5/live"),
    ("rtsp://:p%40ss@cam/x", "rtsp://:***@cam/x"),
    ("http://cam/video?user=admin&password=hunter2&res=hd",
     "http://cam/video?user=admin&password=***&res=hd"),
    ("srt://host:9000?mode=caller&passphrase=longsecret1", "srt://host:9000?mode=caller&passphrase=***"),
    ("https://host/live.m3u8?token=abc", "https://host/live.m3u8?token=***"),
    ("tcp://127.0.0.1:9000", "tcp://127.0.0.1:9000"),
    ("rtsp://u:pw@host:notaport/x", "rtsp://u:***@host:notaport/x"),
    ("rtsp://u:pw@[::1/x", "rtsp://***@[::1/x"),  # not a valid URL: all before @ masked
    ("/dev/video0", "/dev/video0"), ("-", "-"),
])
def test_mask_secrets(name, shown):
    assert mask_secrets(name) == shown
    assert "hunter2" not in mask_secrets(name) and "longsecret1" not in mask_secrets(name)


@pytest.mark.parametrize("bad", [
    dict(open_timeout=0), dict(read_timeout=-1), dict(read_timeout=float("nan")),
    dict(open_timeout="5"), dict(reconnect_for=-1), dict(every=0), dict(every=1.5),
    dict(buffer=0), dict(every=True), dict(ffmpeg_options={"timeout": 5}),
])
def test_options_refuse_bad_values(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        LiveOptions(**bad)


def test_a_file_is_not_a_live_source(clip):
    with pytest.raises(ValueError, match="not a live source"):
        LiveSource(str(clip))


# -- cameras ----------------------------------------------------------------------

def test_missing_camera_fails_at_once_naming_it():
    source = LiveSource("/dev/video97", LiveOptions(open_timeout=20)).start()
    t0 = time.monotonic()
    assert source.get(timeout=10) is None
    assert source.ended and time.monotonic() - t0 < 10  # not the 20 s open timeout
    assert source.error == "/dev/video97: no such V4L2 camera (the device does not exist)"
    with pytest.raises(LiveError, match="/dev/video97: no such V4L2 camera"):
        list(source)
    source.stop()


# -- a pipe -----------------------------------------------------------------------

def test_pipe_every_frame_as_the_file_decodes(clip):
    """keep_all: every frame of the piped clip, numbered and timed from 0, with the
    pixels PyAV decodes from the file itself; the pipe's end ends the source."""
    with av.open(str(clip)) as container:
        expected = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(expected) == CLIP_FRAMES
    proc = pipe_of(clip)
    try:
        with LiveSource("-", LiveOptions(keep_all=True, **QUICK), stdin=proc.stdout) as source:
            frames = take(source, CLIP_FRAMES + 10, pause=0.005)  # slower: nothing dropped
            assert source.ended and source.error is None
            assert source.dropped == 0
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert [f.index for f in frames] == list(range(CLIP_FRAMES))
    np.testing.assert_allclose([f.time for f in frames],
                               np.arange(CLIP_FRAMES) / CLIP_FPS, atol=1e-6)
    for frame, want in zip(frames, expected):
        assert frame.pixels.dtype == np.uint8 and frame.pixels.shape == (480, 640, 3)
        np.testing.assert_array_equal(frame.pixels, want)


def test_pipe_every_nth_frame(clip):
    proc = pipe_of(clip)
    try:
        with LiveSource("-", LiveOptions(keep_all=True, every=7, **QUICK),
                        stdin=proc.stdout) as source:
            frames = take(source, CLIP_FRAMES)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert [f.index for f in frames] == list(range(0, CLIP_FRAMES, 7))
    np.testing.assert_allclose([f.time for f in frames],
                               np.arange(0, CLIP_FRAMES, 7) / CLIP_FPS, atol=1e-6)


@pytest.mark.parametrize("given, expected", [({}, "1000000"),
                                             ({"probesize": "5000000"}, "5000000")])
def test_streams_are_opened_with_a_small_probesize(given, expected, clip, monkeypatch):
    """FFmpeg's probesize (the bytes it holds while probing a codec) is 1 MB for a
    stream or pipe unless ffmpeg_options says otherwise; the stream is read all the
    same."""
    import av

    seen = []
    real_open = av.open

    def spying_open(*args, **kwargs):
        seen.append(dict(kwargs.get("options") or {}))
        return real_open(*args, **kwargs)

    monkeypatch.setattr(av, "open", spying_open)
    proc = pipe_of(clip)
    try:
        with LiveSource("-", LiveOptions(keep_all=True, ffmpeg_options=given, **QUICK),
                        stdin=proc.stdout) as source:
            frames = take(source, 5)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert [f.index for f in frames] == list(range(5))
    assert seen and seen[0]["probesize"] == expected and seen[0]["fpsprobesize"] == "0"


def test_silent_pipe_times_out_and_stop_is_prompt():
    read_end, write_end = os.pipe()  # the write end stays open: no data, no end
    try:
        source = LiveSource("-", LiveOptions(open_timeout=1.0, read_timeout=1.0),
                            stdin=read_end).start()
        assert source.get(timeout=15) is None and source.ended
        assert source.error == "-: cannot open (no data on the pipe for 0.5 s)"
        # stop while a read waits on a silent pipe: the reader ends within a slice
        waiting = LiveSource("-", LiveOptions(open_timeout=60, read_timeout=60),
                             stdin=read_end).start()
        time.sleep(0.3)
        t0 = time.monotonic()
        waiting.stop(wait=5)
        assert not waiting._thread.is_alive() and time.monotonic() - t0 < 5
        assert waiting.ended and waiting.error is None
    finally:
        os.close(write_end)
        os.close(read_end)


# -- network servers ------------------------------------------------------------------

def test_http_newest_frame_first_drops_and_counts(clip, port, tmp_path):
    """A consumer at 10 frames per second on a 25 fps stream: the frames in between
    are dropped and counted, and its lag behind the stream does not grow; asked
    to keep every frame, the same consumer falls further behind every frame."""
    lags = {}
    for keep_all in (False, True):
        with http_server(clip, port, log=tmp_path / "http.log") as server:
            wait_listening(port, server)
            with LiveSource(http_url(port), LiveOptions(keep_all=keep_all, **QUICK)) as source:
                taken_at: list[float] = []
                frames = take(source, 25, pause=0.1, taken_at=taken_at)
                dropped, decoded = source.dropped, source.decoded
        assert len(frames) == 25
        indices = [f.index for f in frames]
        assert indices == sorted(set(indices))
        # lag: wall-clock time since a reference frame was taken, less the stream time
        # between them; from the 5th frame (FFmpeg sends the first ones early)
        ref, t_ref = frames[4], taken_at[4]
        lag = [t - t_ref - (f.time - ref.time) for f, t in zip(frames[4:], taken_at[4:])]
        lags[keep_all] = [round(x, 3) for x in lag]
        if keep_all:
            assert dropped == 0 and indices == list(range(25))
        else:
            assert dropped > 0
            # every frame decoded was posed, dropped, or is the one waiting
            assert dropped + len(frames) <= decoded <= dropped + len(frames) + 1
            assert indices[-1] - indices[0] > 2 * len(frames)  # frames were skipped
        port = free_port()
    # newest first: the lag stays put; every frame: each waits for all before it,
    # 0.06 s more per frame (a frame taken every 0.1 s, one every 0.04 s in the stream)
    newest, every = lags[False], lags[True]
    assert max(abs(x) for x in newest) < 0.5, newest
    assert every[-1] - every[0] > 0.6, every


def test_http_server_killed_and_restarted(clip, port, tmp_path):
    """The source reconnects to the new server; frame numbers and times go on.
    Every frame is kept, so that the steps between them are the stream's own."""
    opts = LiveOptions(reconnect_for=15.0, keep_all=True, **QUICK)
    with http_server(clip, port, log=tmp_path / "a.log") as first:
        wait_listening(port, first)
        source = LiveSource(http_url(port, password="pw"), opts).start()
        before = take(source, 10)
    # the first server is gone: the source retries with back-off until the next comes
    time.sleep(0.5)
    with http_server(clip, port, log=tmp_path / "b.log"):
        try:
            after = []  # frames taken since the source reconnected
            deadline = time.monotonic() + 20
            while len(after) < 10 and time.monotonic() < deadline:
                reconnected = source.reconnects == 1
                frame = source.get(timeout=0.5)
                if frame is not None:
                    (after if reconnected else before).append(frame)
            assert source.reconnects == 1 and source.error is None
        finally:
            source.stop()
    assert len(before) >= 10 and len(after) == 10
    frames = before + after
    assert all(b.index > a.index for a, b in zip(frames, frames[1:]))
    assert all(b.time > a.time for a, b in zip(frames, frames[1:]))
    # across the outage (0.5 s at least) the time goes on by the wall clock: the
    # restarted clip begins again at its own time 0, which would send it back
    gaps = [b.time - a.time for a, b in zip(frames, frames[1:])]
    assert max(gaps) >= 0.5
    assert sorted(gaps)[-2] < 0.5  # elsewhere the stream's own steps
    assert source.display == f"http://viewer:***@127.0.0.1:{port}/live.ts"


def test_server_that_never_sends_times_out():
    with SilentServer() as server:
        t0 = time.monotonic()
        source = LiveSource(f"tcp://127.0.0.1:{server.port}",
                            LiveOptions(open_timeout=1.0, read_timeout=1.0)).start()
        assert source.get(timeout=15) is None and source.ended
        assert time.monotonic() - t0 < 15  # no hang
        assert server.accepted  # it did connect, and waited for data
        assert source.error.startswith(f"tcp://127.0.0.1:{server.port}: cannot open (no answer "
                                       f"within ")
        assert source.error.endswith("within 1 s")


def test_server_stalling_mid_stream_is_lost_then_fails(clip, port, tmp_path):
    """A server that stops answering (paused) mid-stream: reads time out, the source
    tries to reconnect for reconnect_for seconds, then ends with an error; no hang."""
    opts = LiveOptions(open_timeout=1.0, read_timeout=1.0, reconnect_for=2.0)
    with http_server(clip, port, log=tmp_path / "http.log") as server:
        wait_listening(port, server)
        source = LiveSource(http_url(port), opts).start()
        got = take(source, 5)
        server.pause()
        t0 = time.monotonic()
        while not source.ended and time.monotonic() - t0 < 20:
            source.get(timeout=0.5)
        waited = time.monotonic() - t0
        source.stop()
    assert len(got) == 5 and source.ended
    assert waited < 20
    assert source.error.startswith(f"{http_url(port)}: lost (")
    assert "not back within 2 s" in source.error


def test_tcp_and_http_at_once_in_fair_turns(clip, tmp_path):
    """Two streams read side by side: a slow consumer is served by each in turn."""
    with http_and_tcp(clip, tmp_path) as names:
        with LiveGroup(names, LiveOptions(**QUICK)) as group:
            got = []  # counted from when both are open (they open at their own pace)
            seen = set()
            deadline = time.monotonic() + 30
            while len(got) < 20 and time.monotonic() < deadline:
                item = group.next_frame(timeout=1)
                if item is not None:
                    seen.add(item[0].name)
                    if len(seen) == 2:
                        got.append(item)
                    time.sleep(0.05)
            dropped = [s.dropped for s in group.sources]
        threads = [s._thread for s in group.sources]
    assert len(got) == 20
    counts = [sum(1 for s, _ in got if s.name == n) for n in names]
    assert min(counts) >= 8, counts  # turns: 10 each, give or take the start
    for name in names:
        indices = [f.index for s, f in got if s.name == name]
        assert indices == sorted(set(indices))
    assert all(d > 0 for d in dropped)
    assert not any(th.is_alive() for th in threads)  # stopped with the group


def test_a_held_source_gives_no_frame_until_released(clip, tmp_path):
    """next_frame(hold=True) holds the source it served: the other source is served
    however long, until release(); then the first is served again."""
    with http_and_tcp(clip, tmp_path) as names:
        with LiveGroup(names, LiveOptions(**QUICK)) as group:
            first = None
            while first is None:
                first = group.next_frame(timeout=5, hold=True)
            held = first[0]
            others = [group.next_frame(timeout=5) for _ in range(6)]
            assert all(got is not None and got[0] is not held for got in others)
            group.release(held)
            deadline = time.monotonic() + 10
            seen = set()
            while held not in seen and time.monotonic() < deadline:
                got = group.next_frame(timeout=1)
                if got is not None:
                    seen.add(got[0])
    assert held in seen


def test_stop_from_another_thread_ends_iteration(clip, port, tmp_path):
    with http_server(clip, port, log=tmp_path / "http.log") as server:
        wait_listening(port, server)
        source = LiveSource(http_url(port), LiveOptions(**QUICK))
        timer = threading.Timer(1.0, source.stop)
        timer.start()
        frames = list(source)  # ends when stopped, without an error
        timer.join()
    assert frames and source.ended and source.error is None
    assert not source._thread.is_alive()


def test_rtmp_server(clip, port, tmp_path):
    """FFmpeg's RTMP server: every frame (kept all) comes in order from 0, with the
    clip's times and size."""
    from live_servers import rtmp_server

    with rtmp_server(clip, port, log=tmp_path / "rtmp.log") as server:
        wait_listening(port, server)
        url = f"rtmp://127.0.0.1:{port}/live/cam"
        with LiveSource(url, LiveOptions(keep_all=True, **QUICK)) as source:
            frames = take(source, 20)
            assert source.error is None, source.error
    assert [f.index for f in frames] == list(range(20))
    np.testing.assert_allclose([f.time for f in frames], np.arange(20) / CLIP_FPS, atol=2e-3)
    assert all(f.pixels.shape == (480, 640, 3) for f in frames)


def test_rtsp_server(clip, tmp_path):
    """Debian's RTSP server, FFmpeg publishing the clip to it: the frames come, in
    order, at the clip's size."""
    from live_servers import RtspServer

    with RtspServer(clip, tmp_path) as rtsp:
        # the stream exists once the publisher has announced it: until then the
        # server answers 404, and the source tries again within its open timeout
        with LiveSource(rtsp.url, LiveOptions(keep_all=True, **QUICK)) as source:
            frames = take(source, 10)
            assert source.error is None, source.error
    assert len(frames) == 10
    assert all(f.pixels.shape == (480, 640, 3) for f in frames)
    assert [f.index for f in frames] == list(range(frames[0].index, frames[0].index + 10))
    # RTP timestamps: FFmpeg re-bases them when the first RTCP sender report comes,
    # which can send one back (taken as no time passed); the steps are the clip's
    steps = np.diff([f.time for f in frames])
    assert (steps > 0).all() and np.median(steps) == pytest.approx(1 / CLIP_FPS, abs=1e-3)


def test_udp_stream(clip, tmp_path):
    """MPEG-TS over UDP: FFmpeg sends to the port the source listens on."""
    from live_servers import ffmpeg_serving

    port = free_port()
    with LiveSource(f"udp://127.0.0.1:{port}", LiveOptions(**QUICK)) as source:
        with ffmpeg_serving(clip, f"udp://127.0.0.1:{port}?pkt_size=1316",
                            log=tmp_path / "udp.log"):
            frames = take(source, 5)
            assert source.error is None, source.error
    assert len(frames) == 5 and all(f.pixels.shape == (480, 640, 3) for f in frames)
    assert [f.index for f in frames] == sorted({f.index for f in frames})


def test_a_protocol_ffmpeg_lacks_fails_at_once():
    try:
        av.open("srt://127.0.0.1:9?mode=caller", timeout=1).close()
    except av.ProtocolNotFoundError:
        pass  # PyAV's wheels: no SRT
    except Exception:
        pytest.skip("this PyAV's FFmpeg reads SRT")
    source = LiveSource("srt://127.0.0.1:9?mode=caller&passphrase=longsecret1",
                        LiveOptions(open_timeout=20)).start()
    t0 = time.monotonic()
    assert source.get(timeout=10) is None and source.ended
    assert time.monotonic() - t0 < 10  # not tried again for the 20 s
    assert source.error.startswith("srt://127.0.0.1:9?mode=caller&passphrase=***: cannot open "
                                   "(Protocol not found): the FFmpeg that PyAV uses here "
                                   "cannot read srt://")


def test_keep_all_waits_for_room_and_stops_while_waiting(clip):
    """keep_all with a buffer of 3: the reader waits while 3 frames wait (nothing is
    dropped, the pipe backs up), goes on as they are taken, and stops while waiting."""
    proc = pipe_of(clip)
    try:
        source = LiveSource("-", LiveOptions(keep_all=True, buffer=3, **QUICK),
                            stdin=proc.stdout).start()
        deadline = time.monotonic() + 10
        while source.decoded < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the whole clip could have been decoded by now
        # 3 frames wait, and the reader holds the 4th until there is room
        assert source.decoded == 4 and source.dropped == 0
        frames = take(source, 5)
        assert [f.index for f in frames] == [0, 1, 2, 3, 4]
        time.sleep(0.3)
        t0 = time.monotonic()
        source.stop(wait=5)
        assert not source._thread.is_alive() and time.monotonic() - t0 < 5
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
