"""``posefast run`` on live sources: real servers on 127.0.0.1 (tests/live_servers.py)
streaming the shared photographs, posed by the real 353x481 model in a real
``posefast run`` process."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import MODEL_353, stderr_on_a_terminal
from live_servers import (CLIP_FPS, CLIP_FRAMES, SilentServer, clip, http_url,  # noqa: F401
                          interrupt, listening, make_clip, pipe_of, serving, tcp_server)

av = pytest.importorskip("av")

LIVE_KEYS = ["source", "frame", "time", "width", "height", "poses", "error", "latency"]
QUICK = ("--open-timeout", "5", "--read-timeout", "2")


def command(*args) -> list[str]:
    return [sys.executable, "-m", "posefast", "run", *map(str, args), "--model",
            str(MODEL_353)]


def run(*args, stdin=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), stdin=stdin, capture_output=True, text=True,
                          timeout=timeout)


def records(path) -> list[dict]:
    return [json.loads(line) for line in open(path)]


def wait_for(predicate, proc, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.05)


def count_lines(path) -> int:
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def stopped(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_a_stream_posed_for_a_duration(clip, tmp_path):
    """An HTTP stream with a password, tracked, --duration: records with the masked
    source, frames and times going forward, latency; the job ends by itself."""
    server, port = serving(clip, tmp_path)
    out = tmp_path / "poses.jsonl"
    try:
        t0 = time.monotonic()
        r = run(http_url(port, "s3cret"), "--duration", 2, "--track", "--output", out, *QUICK)
        took = time.monotonic() - t0
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    got = records(out)
    shown = f"http://viewer:***@127.0.0.1:{port}/live.ts"
    assert len(got) >= 3 and took < 60
    for record in got:
        assert list(record) == LIVE_KEYS
        assert record["source"] == shown and record["error"] is None
        assert 0 <= record["latency"] < 10
        assert (record["width"], record["height"]) == (640, 480)
        assert record["poses"] and record["poses"][0]["track_id"] is not None
    assert [r["frame"] for r in got] == sorted({r["frame"] for r in got})
    assert all(b["time"] > a["time"] for a, b in zip(got, got[1:]))
    assert f"done {len(got)}, failed 0" in r.stderr
    assert "s3cret" not in r.stderr + out.read_text()


def test_two_streams_side_by_side_to_stdout_record_by_record(clip, tmp_path):
    """An HTTP and a TCP stream at once, --output -: each record reaches the pipe as
    it is posed (read while the job still runs), both sources take turns."""
    a, pa = serving(clip, tmp_path)
    b, pb = serving(clip, tmp_path, make=tcp_server)
    names = [http_url(pa), f"tcp://127.0.0.1:{pb}"]
    proc = subprocess.Popen(command(*names, "--duration", 6, "--output", "-", *QUICK),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline())
        running = proc.poll() is None  # a record came before the job ended
        rest, err = proc.communicate(timeout=60)
    finally:
        stopped(proc)
        a.stop()
        b.stop()
    assert running
    got = [first] + [json.loads(line) for line in rest.splitlines()]
    assert proc.returncode == 0, err
    counts = {n: sum(1 for r in got if r["source"] == n) for n in names}
    assert min(counts.values()) >= 3, counts
    assert abs(counts[names[0]] - counts[names[1]]) <= max(counts.values()) * 0.5, counts
    for name in names:
        frames = [r["frame"] for r in got if r["source"] == name]
        assert frames == sorted(set(frames))


def test_a_stream_faster_than_posing_drops_frames_and_says_so(clip, tmp_path):
    """Twenty times real time (500 fps) posed by one thread: frames are dropped,
    counted in the summary per source, and the records skip ahead. One worker of one
    thread so that no machine, however many cores it has, keeps up (four times real
    time with all cores was kept up with on a CI machine)."""
    server, port = serving(clip, tmp_path, rate=20)
    out = tmp_path / "fast.jsonl"
    try:
        r = run(http_url(port), "--duration", 3, "--output", out, "--workers", 1,
                "--backend-option", "num_threads=1", *QUICK)
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    got = records(out)
    frames = [g["frame"] for g in got]
    assert frames[-1] - frames[0] > len(frames)  # frames were left out
    summary = next(line for line in r.stderr.splitlines() if "done" in line)
    shown = http_url(port)
    dropped = int(summary.split(f"({shown}: ")[1].split(")")[0])
    assert dropped > 0 and f"dropped {dropped} ({shown}: {dropped})" in summary
    # nothing is left out that was neither posed nor dropped (every posed frame
    # counts, the last few decoded frames may still wait)
    assert dropped + len(got) >= frames[-1] - 5


def test_every_and_all_frames_on_a_pipe(clip, tmp_path):
    """ffmpeg ... -f mpegts - | posefast run -: with --all-frames --every 5 every 5th
    frame is posed, none dropped, and the job ends by itself with the pipe."""
    proc = pipe_of(clip)
    out = tmp_path / "pipe.jsonl"
    try:
        r = run("-", "--all-frames", "--every", 5, "--output", out, stdin=proc.stdout)
    finally:
        stopped(proc)
        proc.stdout.close()
    assert r.returncode == 0, r.stderr
    got = records(out)
    assert [g["frame"] for g in got] == list(range(0, CLIP_FRAMES, 5))
    assert [g["time"] for g in got] == pytest.approx([f / CLIP_FPS for f in
                                                      range(0, CLIP_FRAMES, 5)])
    assert all(g["source"] == "-" and g["poses"] for g in got)
    assert "dropped 0 (-: 0)" in r.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_files_and_a_pipe_in_one_job(fmt, clip, tmp_path, shared_data):
    """An image and a video file beside a live pipe: every record of each, in order
    within each source (the files' without latency; in Parquet a null in the one
    double column)."""
    proc = pipe_of(clip)
    out = tmp_path / f"mixed.{fmt}"
    try:
        r = run(shared_data / "images" / "couple.jpg", "-", clip, "--every", 25,
                "--all-frames", "--format", fmt, "--output", out, stdin=proc.stdout)
    finally:
        stopped(proc)
        proc.stdout.close()
    assert r.returncode == 0, r.stderr
    if fmt == "jsonl":
        got = records(out)
    else:
        pq = pytest.importorskip("pyarrow.parquet")
        import pyarrow as pa

        table = pq.read_table(out)
        assert table.schema.field("latency").type == pa.float64()
        got = table.to_pylist()
    by = {}
    for g in got:
        by.setdefault(g["source"].rsplit("/", 1)[-1], []).append(g)
    assert {name: [g["frame"] for g in rows] for name, rows in by.items()} == {
        "couple.jpg": [None], "clip.mp4": [0, 25, 50], "-": [0, 25, 50]}
    files = by["clip.mp4"] + by["couple.jpg"]
    if fmt == "jsonl":
        assert not any("latency" in g for g in files)
    else:
        assert all(g["latency"] is None for g in files)
    assert all(g["latency"] >= 0 for g in by["-"])
    # the same frame, from the file and from the pipe, gets the same poses
    assert by["clip.mp4"][1]["poses"] == by["-"][1]["poses"]


def test_live_sources_are_posed_beside_the_files_not_after(clip, tmp_path, shared_data):
    """A stream beside a video file posed by one worker of one thread: the stream's
    records start while the file's are still being written (a camera is not kept
    waiting by a batch of files), and the summary counts both."""
    longer = make_clip(shared_data / "images", tmp_path / "longer.mp4", seconds_each=4)
    server, port = serving(clip, tmp_path)
    out = tmp_path / "beside.jsonl"
    try:
        r = run(longer, http_url(port), "--duration", 4, "--output", out, "--workers", 1,
                "--backend-option", "num_threads=1", *QUICK)
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    got = records(out)
    files = [k for k, g in enumerate(got) if g["source"] == str(longer)]
    live = [k for k, g in enumerate(got) if g["source"] == http_url(port)]
    assert len(files) == 4 * CLIP_FPS * 3 and live
    assert live[0] < files[-1]  # interleaved
    assert [got[k]["frame"] for k in files] == list(range(len(files)))
    assert f"done {len(got)}, failed 0" in r.stderr
    assert "beside the files" in r.stderr


def test_ctrl_c_while_files_and_a_stream_are_posed_side_by_side(clip, tmp_path, shared_data):
    """Ctrl-C while both parts run: exit 130, the live thread stopped after its
    record, every record of both written whole, the summary counting them all."""
    longer = make_clip(shared_data / "images", tmp_path / "longer.mp4", seconds_each=8)
    server, port = serving(clip, tmp_path)
    out = tmp_path / "both.jsonl"
    proc = subprocess.Popen(command(longer, http_url(port), "--output", out, "--workers", 1,
                                    "--backend-option", "num_threads=1", *QUICK),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def both_seen() -> bool:
            text = out.read_text() if out.exists() else ""
            return "longer.mp4" in text and "live.ts" in text
        wait_for(both_seen, proc)
        _, err = interrupt(proc)
    finally:
        stopped(proc)
        server.stop()
    assert proc.returncode == 130, err
    got = records(out)  # every line a whole record
    assert {g["source"] for g in got} == {str(longer), http_url(port)}
    assert f"done {len(got)}, failed 0" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("signum, status, said", [(signal.SIGINT, 130, "interrupted"),
                                                  (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_writes_every_record_parquet_and_videos(clip, tmp_path, signum, status, said):
    """Ctrl-C (or SIGTERM) on a live job: exit 130 (143), no traceback, and what was
    posed is all there: the Parquet file (written at the end) and a playable MP4 per
    source."""
    pq = pytest.importorskip("pyarrow.parquet")
    server, port = serving(clip, tmp_path)
    out, drawn = tmp_path / "poses.parquet", tmp_path / "drawn"
    proc = subprocess.Popen(command(http_url(port), "--format", "parquet", "--output", out,
                                    "--render-dir", drawn, "--track", *QUICK),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: not listening(port), proc)  # the server has its client
        time.sleep(3)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        stopped(proc)
        server.stop()
    assert proc.returncode == status, err
    assert "Traceback" not in err and f"posefast run: {said}; {out} holds every record" in err
    table = pq.read_table(out)
    assert table.num_rows >= 3 and table.column_names[-1] == "latency"
    done = int(err.split("done ")[1].split(",")[0])
    assert table.num_rows == done
    assert table.column("source").to_pylist() == [http_url(port)] * done
    with av.open(str(drawn / "live.mp4")) as video:
        assert sum(1 for _ in video.decode(video=0)) == done


def test_a_server_killed_and_restarted_mid_job(clip, tmp_path):
    """The server dies while the job runs and comes back on the same port: the job
    reconnects, frames and times go on, no error record."""
    server, port = serving(clip, tmp_path)
    out = tmp_path / "again.jsonl"
    proc = subprocess.Popen(command(http_url(port), "--duration", 30, "--output", out,
                                    "--reconnect-for", 20, *QUICK),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: count_lines(out) >= 4, proc)
        server.stop()
        before = count_lines(out)
        time.sleep(1.0)
        server, _ = serving(clip, tmp_path, port=port)
        wait_for(lambda: count_lines(out) >= before + 4, proc)
        _, err = interrupt(proc)
    finally:
        stopped(proc)
        server.stop()
    assert proc.returncode == 130, err
    got = records(out)
    assert all(g["error"] is None for g in got)
    assert [g["frame"] for g in got] == sorted({g["frame"] for g in got})
    assert all(b["time"] > a["time"] for a, b in zip(got, got[1:]))
    assert len(got) > before


def test_ffmpeg_options_reach_ffmpeg(clip, tmp_path):
    """--ffmpeg-option goes to FFmpeg's opening of the live sources: a good value
    reads the pipe as before, a value FFmpeg refuses fails the source naming it."""
    for value, status in (("probesize=2000000", 0), ("probesize=lots", 1)):
        proc = pipe_of(clip)
        out = tmp_path / f"{status}.jsonl"
        try:
            r = run("-", "--all-frames", "--every", 25, "--ffmpeg-option", value,
                    "--output", out, stdin=proc.stdout)
        finally:
            stopped(proc)
            proc.stdout.close()
        assert r.returncode == status, r.stderr
        got = records(out)
        if status == 0:
            assert [g["frame"] for g in got] == [0, 25, 50]
        else:
            assert len(got) == 1 and got[0]["error"].startswith("-: cannot open")


@pytest.mark.parametrize("args, message", [
    (["-", "--resume", "--output", "x.jsonl"],
     "--resume cannot finish a job with live sources (-)"),
    (["rtsp://admin:pw@127.0.0.1:9/x", "--format", "coco", "--output", "x.json"],
     "live sources (rtsp://admin:***@127.0.0.1:9/x) have none"),
    (["-", "-"], "live source '-' given twice"),
    (["-", "--engine", "ray"], "--engine ray poses files only"),
    (["CLIP", "--duration", "3"], "--duration goes with live sources"),
    (["CLIP", "--view"], "--view goes with live sources"),
    (["CLIP", "--ffmpeg-option", "rtsp_transport=tcp"], "--ffmpeg-option goes with live"),
    (["-", "--ffmpeg-option", "rtsp_transport"], "expected KEY=VALUE"),
    (["-", "--duration", "0"], "--duration"),
])
def test_live_usage_errors(args, message, clip, tmp_path):
    args = [str(clip) if a == "CLIP" else a for a in args]
    r = subprocess.run(command(*args), stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr and "pw@" not in r.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_silent_server_fails_and_the_other_source_goes_on(clip, tmp_path):
    """A server that accepts and never sends, beside a stream: after --open-timeout
    its error record, naming it; the stream is posed to the end of --duration; exit 1."""
    server, port = serving(clip, tmp_path)
    out = tmp_path / "silent.jsonl"
    try:
        with SilentServer() as silent:
            quiet = f"tcp://127.0.0.1:{silent.port}"
            r = run(quiet, http_url(port), "--duration", 5, "--open-timeout", 1,
                    "--read-timeout", 1, "--output", out)
    finally:
        server.stop()
    assert r.returncode == 1, r.stderr
    got = records(out)
    failed = [g for g in got if g["error"]]
    assert [g["source"] for g in failed] == [quiet]
    assert failed[0]["error"].startswith(f"{quiet}: cannot open (no answer within ")
    posed = [g for g in got if g["source"] == http_url(port)]
    assert len(posed) >= 3 and failed[0]["latency"] is None
    assert got.index(failed[0]) < got.index(posed[-1])  # the stream went on after it
    assert f"failed: {quiet}: cannot open" in r.stderr


def test_a_source_that_fails_gives_an_error_record_and_exit_1(tmp_path):
    out = tmp_path / "cam.jsonl"
    r = run("/dev/video97", "--output", out)
    assert r.returncode == 1, r.stderr
    assert records(out) == [{"source": "/dev/video97", "frame": None, "time": None,
                             "width": None, "height": None, "poses": [],
                             "error": "/dev/video97: no such V4L2 camera (the device does "
                                      "not exist)", "latency": None}]
    assert "failed: /dev/video97: no such V4L2 camera" in r.stderr


def test_the_progress_line_counts_dropped_frames_per_source(clip, tmp_path):
    """On a terminal the progress line says the frames dropped, per source: a pipe
    read faster than it is posed (not paced) drops most of its frames."""
    pytest.importorskip("pty")
    proc = pipe_of(clip)
    try:
        status, text = stderr_on_a_terminal(command("-", "--output", tmp_path / "o.jsonl"),
                                            stdin=proc.stdout, stdout=subprocess.DEVNULL)
    finally:
        stopped(proc)
        proc.stdout.close()
    assert status == 0
    text = text.replace("\r\n", "\n")  # (the terminal's line ends)
    line = re.findall(r"\r([^\r\n]*)", text)[-1]  # the last drawing of the line
    posed = len(records(tmp_path / "o.jsonl"))
    dropped = CLIP_FRAMES - posed
    assert line.startswith(f"{posed} [") and f", dropped {dropped} (-: {dropped})" in line
    assert f"live sources: dropped {dropped} (-: {dropped})" in text


def test_view_shows_the_live_sources_of_a_job(clip, tmp_path):
    """`posefast run URL URL --view`: the page's stats list both sources as they are
    posed, each source's MJPEG stream gives its frames at the stream's size, and
    the view stops with the job (its port freed)."""
    import io
    import socket
    import urllib.request

    from PIL import Image

    a, pa = serving(clip, tmp_path)
    b, pb = serving(clip, tmp_path, make=tcp_server)
    names = [http_url(pa, "pw"), f"tcp://127.0.0.1:{pb}"]
    out = tmp_path / "viewed.jsonl"
    proc = subprocess.Popen(command(*names, "--duration", 10, "--track", "--view",
                                    "--output", out, *QUICK),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("posefast: live view at http://127.0.0.1:"), line
        url = line.split(" at ")[1].strip()

        def sources():
            with urllib.request.urlopen(url + "stats.json", timeout=10) as response:
                return json.loads(response.read())["sources"]
        wait_for(lambda: len(sources()) == 2 and all(s["posed_fps"] for s in sources()),
                 proc)
        shown = sources()
        assert {s["source"] for s in shown} == {mask(n) for n in names}
        with urllib.request.urlopen(f"{url}stream/{shown[0]['id']}.mjpg",
                                    timeout=10) as response:
            data = b""
            while b"\xff\xd9" not in data:  # a whole JPEG (its end marker)
                data += response.read1(65536)
        jpeg = data[data.index(b"\xff\xd8"):data.index(b"\xff\xd9") + 2]
        assert Image.open(io.BytesIO(jpeg)).size == (640, 480)
        _, err = proc.communicate(timeout=60)
    finally:
        stopped(proc)
        a.stop()
        b.stop()
    assert proc.returncode == 0, err
    assert {r["source"] for r in records(out)} == {mask(n) for n in names}
    port = int(url.rsplit(":", 1)[1].strip("/"))
    with socket.socket() as s:  # the view stopped with the job
        assert s.connect_ex(("127.0.0.1", port)) != 0


def mask(name: str) -> str:
    from posefast.reading.live_names import mask_secrets

    return mask_secrets(name)
