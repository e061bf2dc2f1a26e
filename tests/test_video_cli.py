"""Video end to end through the commands: times, boxes, track ids, annotated output,
videos in folders, variable frame rates, and the options' errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES, MODEL_353
from test_cli import FAST, posefast, records
from video_clips import crossing, person_crop, write_video

MODEL = ["--model", str(MODEL_353)]


@pytest.fixture(scope="module")
def two_people(tmp_path_factory, shared_data):
    pytest.importorskip("av")
    folder = tmp_path_factory.mktemp("clips")
    a = person_crop(IMAGES, "standing.png", (376, 163, 521, 480))
    b = person_crop(IMAGES, "standing_doorway.png", (310, 140, 470, 400))
    return crossing(IMAGES, folder / "walk.mp4",
                    [(a, (0, 100), (800, 100)), (b, (780, 180), (20, 180))], n=24, fps=12.0)


def _frames(path):
    from posefast.reading.video import frame_rate, iter_frames

    return [(f.index, f.time) for f in iter_frames(str(path))], frame_rate(str(path))


def test_run_tracks_smooths_and_draws(pipeline, two_people, tmp_path):
    out, drawn = tmp_path / "poses.jsonl", tmp_path / "drawn"
    r = posefast("run", two_people.path, IMAGES / "couple.jpg", "--smooth", "--render-dir",
                 drawn, "--output", out, "--workers", 2, *MODEL)
    assert r.returncode == 0, r.stderr
    got = records(out)
    video, image = got[:-1], got[-1]
    assert [rec["time"] for rec in video] == pytest.approx(two_people.times, abs=1e-3)
    assert image["time"] is None and image["frame"] is None
    assert all(p["track_id"] is None for p in image["poses"])
    for rec in video:
        for p in rec["poses"]:
            assert isinstance(p["track_id"], int) and p["track_id"] >= 1
            kp = np.array([(k["x"], k["y"], k["score"]) for k in p["keypoints"]])
            sure = kp[kp[:, 2] >= 0.3]
            x, y, w, h = p["bbox"]  # around the smoothed keypoints scoring >= 0.3
            assert x == pytest.approx(sure[:, 0].min()) and y == pytest.approx(sure[:, 1].min())
            assert x + w == pytest.approx(sure[:, 0].max())
            assert y + h == pytest.approx(sure[:, 1].max())
    assert len({p["track_id"] for p in video[0]["poses"]}) == 2
    # The drawings: a PNG for the image, an MP4 with every frame at its time and rate.
    assert Image.open(drawn / "couple.png").size == Image.open(IMAGES / "couple.jpg").size
    frames, fps = _frames(drawn / "walk.mp4")
    assert [t for _, t in frames] == pytest.approx(two_people.times, abs=1e-3)
    assert fps == pytest.approx(12.0, rel=0.01)


def test_tracking_does_not_depend_on_the_worker_count(pipeline, two_people, tmp_path):
    one, three = tmp_path / "one.jsonl", tmp_path / "three.jsonl"
    for out, n in ((one, 1), (three, 3)):
        r = posefast("run", two_people.path, "--track", "--output", out, "--workers", n, *FAST)
        assert r.returncode == 0, r.stderr
    assert records(one) == records(three)


def test_every_keeps_times_and_the_drawing_keeps_every_frame(pipeline, two_people, tmp_path):
    out, drawn = tmp_path / "poses.jsonl", tmp_path / "drawn"
    r = posefast("run", two_people.path, "--every", 5, "--track", "--render-dir", drawn,
                 "--output", out, *FAST)
    assert r.returncode == 0, r.stderr
    got = records(out)
    assert [rec["frame"] for rec in got] == [0, 5, 10, 15, 20]
    assert [rec["time"] for rec in got] == pytest.approx(two_people.times[::5], abs=1e-3)
    frames, _ = _frames(drawn / "walk.mp4")
    assert len(frames) == len(two_people.times)


def test_a_variable_frame_rate_keeps_true_times(pipeline, tmp_path):
    pytest.importorskip("av")
    times = [0.0, 0.04, 0.05, 0.2, 0.21, 0.6, 0.64, 1.5]
    still = np.asarray(Image.open(IMAGES / "standing.png").convert("RGB"))
    path = tmp_path / "vfr.mp4"
    write_video(path, [still] * len(times), times)
    out, drawn = tmp_path / "poses.jsonl", tmp_path / "drawn"
    r = posefast("run", path, "--every", 2, "--render-dir", drawn, "--output", out, *FAST)
    assert r.returncode == 0, r.stderr
    assert [rec["time"] for rec in records(out)] == pytest.approx(times[::2], abs=1e-3)
    frames, _ = _frames(drawn / "vfr.mp4")
    assert [t for _, t in frames] == pytest.approx(times, abs=1e-3)


def test_folders_include_videos(pipeline, two_people, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.png").write_bytes((IMAGES / "standing.png").read_bytes())
    (folder / "b.mp4").write_bytes(two_people.path.read_bytes())
    out = tmp_path / "poses.jsonl"
    r = posefast("run", folder, "--every", 10, "--output", out, *FAST)
    assert r.returncode == 0, r.stderr
    assert [(Path(rec["source"]).name, rec["frame"]) for rec in records(out)] == [
        ("a.png", None), ("b.mp4", 0), ("b.mp4", 10), ("b.mp4", 20)]


def test_coco_results_carry_the_boxes(pipeline, tmp_path):
    jsonl, coco = tmp_path / "poses.jsonl", tmp_path / "results.json"
    image = tmp_path / "000000000001.jpg"  # COCO image ids come from the file's number
    image.write_bytes((IMAGES / "couple.jpg").read_bytes())
    for out, fmt in ((jsonl, "jsonl"), (coco, "coco")):
        r = posefast("run", image, "--format", fmt, "--output", out, *FAST)
        assert r.returncode == 0, r.stderr
    want = [[round(v, 2) for v in p["bbox"]] for p in records(jsonl)[0]["poses"]]
    assert [e["bbox"] for e in json.loads(coco.read_text())] == want and want


def test_predict_draws_a_video(pipeline, two_people, tmp_path):
    out = tmp_path / "drawn.mp4"
    r = posefast("predict", two_people.path, IMAGES / "standing.png", "--track", "--render",
                 out, *FAST)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    image = got.pop()
    assert image["source"] == str(IMAGES / "standing.png")
    assert [p["track_id"] for p in image["poses"]] == [None]
    assert Image.open(tmp_path / "drawn-1.png").size == (640, 480)
    out = tmp_path / "drawn-0.mp4"
    assert [rec["frame"] for rec in got] == list(range(len(two_people.times)))
    assert all("track_id" in p for rec in got for p in rec["poses"])
    frames, fps = _frames(out)
    assert len(frames) == len(two_people.times) and fps == pytest.approx(12.0, rel=0.01)


@pytest.mark.parametrize("args, message", [
    (["--track", "--resume", "--output", "x.jsonl"], "--resume cannot be combined"),
    (["--render-dir", "d", "--resume", "--output", "x.jsonl"], "--resume cannot be combined"),
    (["--tracker", "kalman"], "--tracker"),
    (["--min-similarity", "1.5"], "[0, 1]"),
    (["--max-age", "-1"], ">= 0"),
    (["--min-cutoff", "0"], "> 0"),
    (["--beta", "nan"], "--beta"),
])
def test_bad_video_options_exit_2_and_say_why(pipeline, tmp_path, args, message):
    r = posefast("run", IMAGES / "standing.png", *args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr


def test_a_video_that_cannot_be_drawn_loses_no_record(pipeline, two_people, tmp_path):
    out, drawn = tmp_path / "poses.jsonl", tmp_path / "drawn"
    (drawn / "walk.mp4").mkdir(parents=True)  # the MP4 cannot be written there
    r = posefast("run", two_people.path, IMAGES / "standing.png", "--every", 6, "--track",
                 "--render-dir", drawn, "--output", out, *FAST)
    assert r.returncode == 1, r.stderr  # every record written, but a drawing is missing
    # One message, naming the video (the file fails when PyAV first writes to it).
    assert r.stderr.count(f"posefast run: {two_people.path}: could not") == 1, r.stderr
    assert [rec["frame"] for rec in records(out)] == [0, 6, 12, 18, None]
    assert (drawn / "standing.png").is_file()  # the next input is drawn
