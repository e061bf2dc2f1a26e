"""Videos whose frames or times are not what a plain clip has: no decodable frame,
a stream that starts late, time stamps that restart or leap (joined segments); and
what the commands say about a file that is not a video."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES, MODEL_353
from posefast.reading.video import iter_frames
from test_cli import FAST, posefast, records
from video_clips import crossing, person_crop, write_video, without_keyframes


@pytest.fixture(scope="module")
def still():
    return np.asarray(Image.open(IMAGES / "standing.png").convert("RGB"))


def test_a_video_without_a_decodable_frame_gets_an_error_record(pipeline, still, tmp_path):
    pytest.importorskip("av")
    whole = tmp_path / "whole.mp4"
    write_video(whole, [still] * 6, [i / 25 for i in range(6)])
    cut = without_keyframes(whole, tmp_path / "cut.mp4")
    out = tmp_path / "poses.jsonl"
    r = posefast("run", cut, IMAGES / "standing.png", "--output", out, *FAST)
    assert r.returncode == 1, r.stderr
    got = records(out)
    assert [(rec["source"], rec["frame"]) for rec in got] == [
        (str(cut), None), (str(IMAGES / "standing.png"), None)]
    assert "no frame" in got[0]["error"] and str(cut) in got[0]["error"]
    assert got[1]["error"] is None
    r = posefast("predict", cut, *FAST)
    assert r.returncode == 1, r.stderr
    [rec] = json.loads(r.stdout)
    assert rec["source"] == str(cut) and "no frame" in rec["error"]


def test_a_file_that_is_not_a_video_is_said_so_in_words(pipeline, tmp_path):
    pytest.importorskip("av")
    bad = tmp_path / "noise.mp4"
    bad.write_bytes(bytes(range(256)) * 64)
    out = tmp_path / "poses.jsonl"
    r = posefast("run", bad, "--output", out, *FAST)
    assert r.returncode == 1, r.stderr
    [rec] = records(out)
    assert "not a readable video" in rec["error"] and "Errno" not in rec["error"]
    assert "invalid data" in rec["error"]


MODEL = ["--model", str(MODEL_353)]


def _walker(path, n=12, fps=10.0, times=None):
    """One person walking right over the background, written to ``path`` (the
    container from its extension: .ts streams start at 1.4 s)."""
    person = person_crop(IMAGES, "standing.png", (376, 163, 521, 480))
    return crossing(IMAGES, path, [(person, (20, 120), (380, 120))], n=n, fps=fps,
                    size=(640, 480), times=times)


def _xy(record):
    """The first pose's keypoints, (17, 2) pixels."""
    return np.array([(k["x"], k["y"]) for k in record["poses"][0]["keypoints"]])


def _run(clip, tmp_path, *args):
    out = tmp_path / f"poses{len(list(tmp_path.glob('poses*')))}.jsonl"
    r = posefast("run", clip, "--output", out, *args, *MODEL)
    assert r.returncode == 0, r.stderr
    got = records(out)
    assert all(rec["error"] is None and rec["poses"] for rec in got)
    return got


def _check_smoothed(raw, smooth, restarts):
    """Each segment's first frame passes the filter unchanged; every later one lies
    between the raw keypoints and the filter's last output, moved towards the raw
    ones (neither held still nor passed through)."""
    for i, (r, s) in enumerate(zip(raw, smooth)):
        if i in restarts:
            assert np.allclose(_xy(s), _xy(r), atol=1e-6), f"frame {i} did not start afresh"
            continue
        prev = _xy(smooth[i - 1])
        lo, hi = np.minimum(prev, _xy(r)), np.maximum(prev, _xy(r))
        assert np.all(_xy(s) >= lo - 1e-6) and np.all(_xy(s) <= hi + 1e-6), f"frame {i}"
        assert np.abs(_xy(s) - prev).max() > 0.5, f"frame {i}: the filter held still"
        assert np.abs(_xy(s) - _xy(r)).max() > 1e-3, f"frame {i}: not filtered"


@pytest.mark.parametrize("name, start", [("late.ts", 0.0), ("late.mp4", 2.5)])
def test_a_stream_that_does_not_start_at_0_gives_times_from_its_first_frame(
        pipeline, tmp_path, name, start):
    pytest.importorskip("av")
    clip = _walker(tmp_path / name, times=[start + i / 10 for i in range(12)])
    raw = _run(clip.path, tmp_path, "--track")
    assert [rec["frame"] for rec in raw] == list(range(12))
    assert [rec["time"] for rec in raw] == pytest.approx([i / 10 for i in range(12)],
                                                         abs=1e-3)
    smooth = _run(clip.path, tmp_path, "--smooth")
    assert [rec["time"] for rec in smooth] == [rec["time"] for rec in raw]
    _check_smoothed(raw, smooth, restarts={0})


def test_joined_segments_smooth_afresh_and_every_frame_is_drawn(pipeline, tmp_path):
    pytest.importorskip("av")
    segment = _walker(tmp_path / "part.ts")
    joined = tmp_path / "joined.ts"  # the second part's times start again from 0
    joined.write_bytes(segment.path.read_bytes() * 2)
    raw = _run(joined, tmp_path, "--track")
    assert [rec["frame"] for rec in raw] == list(range(24))
    assert [rec["time"] for rec in raw] == pytest.approx(segment.times * 2, abs=1e-3)
    drawn = tmp_path / "drawn"
    smooth = _run(joined, tmp_path, "--smooth", "--render-dir", drawn)
    _check_smoothed(raw, smooth, restarts={0, 12})  # before: held still from frame 12 on
    frames = [f.time for f in iter_frames(str(drawn / "joined.mp4"))]
    assert frames == pytest.approx([i / 10 for i in range(24)], abs=1e-3)


def test_a_leap_of_the_time_stamps_keeps_every_frame_drawn(pipeline, tmp_path):
    pytest.importorskip("av")
    first = _walker(tmp_path / "a.ts", n=6)
    later = _walker(tmp_path / "b.ts", n=6, times=[10 ** 6 + i / 10 for i in range(6)])
    joined = tmp_path / "leap.ts"
    joined.write_bytes(first.path.read_bytes() + later.path.read_bytes())
    drawn = tmp_path / "drawn"
    got = _run(joined, tmp_path, "--smooth", "--render-dir", drawn)
    assert [rec["frame"] for rec in got] == list(range(12))
    times = [f.time for f in iter_frames(str(drawn / "leap.mp4"))]
    assert times == pytest.approx([i / 10 for i in range(12)], abs=1e-3)
