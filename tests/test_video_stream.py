"""The record-stream stage (tracking and smoothing over records in input order) and
the annotated output's pieces: naming, track colours and labels, failures reported."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from posefast import Pose
from posefast.job.records import error_record, make_record
from posefast.render import draw_poses
from posefast.video.annotate import Annotator, RenderDir, track_colour
from posefast.video.stream import (FALLBACK_FPS, SmoothingOptions, TrackingOptions,
                                   TrackingStage)


def _pose(x0, score=0.9):
    kp = np.zeros((17, 3), np.float32)
    kp[:, 0] = x0 + np.linspace(0, 40, 17)
    kp[:, 1] = np.linspace(20, 200, 17)
    kp[:, 2] = score
    return Pose(score, kp)


def _frame(source, index, xs, time=None):
    return make_record(source, index, 640, 480, [_pose(x) for x in xs],
                       time=index / 10 if time is None else time)


def test_each_video_gets_fresh_tracks_and_other_records_pass():
    out: list = []
    stage = TrackingStage(out.append, TrackingOptions())
    stage(_frame("a.mp4", 0, [100, 400]))
    stage(_frame("a.mp4", 1, [102, 402]))
    stage(error_record("a.mp4", 2, "a.mp4 frame 2: inference failed"))
    stage(make_record("photo.jpg", None, 640, 480, [_pose(10)]))
    stage(_frame("b.mp4", 0, [400]))                       # another video: ids from 1
    stage(_frame("b.mp4", 0, [100]))                       # the same file again: afresh
    ids = [[p.get("track_id") for p in r["poses"]] for r in out]
    assert ids == [[1, 2], [1, 2], [], [None], [1], [1]]
    assert out[2]["error"] and "track_id" not in str(out[2])


def test_a_frame_without_time_counts_at_the_fallback_rate():
    out: list = []
    stage = TrackingStage(out.append, TrackingOptions(max_age=1.5 / FALLBACK_FPS))
    for i in (0, 1, 3):  # frame 2 missing: 2 frame periods > max_age
        rec = _frame("a.mp4", i, [100])
        rec["time"] = None
        stage(rec)
    assert [r["poses"][0]["track_id"] for r in out] == [1, 1, 2]


def test_a_timestamp_going_back_does_not_stop_the_stream():
    out: list = []
    stage = TrackingStage(out.append, TrackingOptions(), SmoothingOptions())
    for i, t in enumerate([0.0, 0.1, 0.05, 0.2]):  # damaged timestamps, frames in order
        stage(_frame("a.mp4", i, [100 + i], time=t))
    assert [r["poses"][0]["track_id"] for r in out] == [1, 1, 1, 1]


def test_smoothing_moves_the_keypoints_and_the_box_with_them():
    out: list = []
    stage = TrackingStage(out.append, TrackingOptions(), SmoothingOptions())
    stage(_frame("a.mp4", 0, [100]))
    stage(_frame("a.mp4", 1, [110]))
    pose = out[1]["poses"][0]
    xs = [k["x"] for k in pose["keypoints"]]
    assert 100 < xs[0] < 110  # filtered: between the old and the new place
    assert pose["bbox"][0] == pytest.approx(min(xs))


def test_render_dir_names_are_unique():
    names = RenderDir("out")
    assert names("a/clip.mp4", True).endswith("clip.mp4")
    assert names("b/clip.mp4", True).endswith("clip-2.mp4")
    assert names("b/clip.png", False).endswith("clip.png")
    assert names("c/clip.jpg", False).endswith("clip-2.png")


def test_tracks_are_drawn_in_their_colour_with_their_id_above_the_head():
    image = Image.new("RGB", (300, 260))
    pose = _pose(100)
    out = np.asarray(draw_poses(image, [pose], colours=[track_colour(3)], labels=["3"],
                                radius=3, width=2))
    kp = pose.keypoints
    assert tuple(out[round(kp[11, 1]), round(kp[11, 0])]) == track_colour(3)
    head_top = int(kp[:5, 1].min())
    label = out[:head_top, 80:160]
    assert (label == track_colour(3)).all(-1).any()  # the id's text, above the head
    assert track_colour(1) != track_colour(2)


def test_a_drawing_that_fails_is_reported_and_the_rest_goes_on(tmp_path, shared_data):
    messages: list[str] = []
    good = tmp_path / "ok.png"
    paths = iter([str(tmp_path / "missing" / "x.png"), str(good)])
    annotator = Annotator(lambda source, video: next(paths), on_error=messages.append)
    img = str(shared_data / "images" / "standing.png")
    annotator(make_record(img, None, 640, 480, [_pose(100)]))
    annotator(make_record(img, None, 640, 480, [_pose(100)]))
    annotator.close()
    assert len(messages) == 1 and img in messages[0]
    assert Image.open(good).size == (640, 480)
