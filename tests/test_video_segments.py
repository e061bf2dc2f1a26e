"""Videos whose frames or times are not what a plain clip has: no decodable frame,
a stream that starts late, time stamps that restart or leap (joined segments); and
what the commands say about a file that is not a video."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES
from test_cli import FAST, posefast, records
from video_clips import write_video, without_keyframes


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
