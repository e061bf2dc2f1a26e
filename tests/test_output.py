"""JSON Lines output that survives interruption, and COCO results."""
from __future__ import annotations

import json

import numpy as np
import pytest

from posefast import Pose
from posefast.job.output import CocoWriter, JsonlWriter, read_done
from posefast.job.records import error_record, make_record


def _pose(score=0.7):
    kp = np.tile(np.array([[10.0, 20.0, 0.9]], np.float32), (17, 1))
    return Pose(score, kp)


def test_read_done_counts_records_and_drops_a_cut_last_line(tmp_path):
    out = tmp_path / "out.jsonl"
    w = JsonlWriter(str(out))
    w.write(make_record("a.jpg", None, 10, 10, [_pose()]))
    w.write(make_record("a.jpg", None, 10, 10))  # the same input listed twice
    w.write(error_record("bad.jpg", None, "bad.jpg: empty file"))
    w.write(make_record("v.mp4", 3, 10, 10))
    w.close()
    whole = out.read_bytes()
    out.write_bytes(whole + b'{"source": "c.jpg", "fra')  # killed while writing a line
    done = read_done(out)
    assert done == {("a.jpg", None): 2, ("bad.jpg", None): 1, ("v.mp4", 3): 1}
    assert out.read_bytes() == whole  # the partial line is gone; appending is safe
    w = JsonlWriter(str(out), append=True)
    w.write(make_record("c.jpg", None, 1, 1))
    w.close()
    assert [json.loads(line)["source"] for line in out.read_text().splitlines()] == \
        ["a.jpg", "a.jpg", "bad.jpg", "v.mp4", "c.jpg"]


def test_read_done_drops_garbage_lines_and_accepts_a_missing_file(tmp_path):
    out = tmp_path / "out.jsonl"
    assert read_done(out) == {}
    good = json.dumps(make_record("a.jpg", None, 1, 1))
    out.write_text(f"{good}\nnot json\n{{\"no\": \"source\"}}\n{good}\n")
    assert read_done(out) == {("a.jpg", None): 2}
    assert out.read_text() == f"{good}\n{good}\n"


def test_coco_results_use_numeric_stems_as_image_ids_when_they_can(tmp_path):
    path = tmp_path / "res.json"
    w = CocoWriter(str(path))
    w.write(make_record("val/000000000139.jpg", None, 640, 480, [_pose(0.9), _pose(0.6)]))
    w.write(make_record("val/000000000285.jpg", None, 640, 480))
    w.close()
    res = json.loads(path.read_text())
    assert [r["image_id"] for r in res] == [139, 139]
    assert res[0]["category_id"] == 1 and len(res[0]["keypoints"]) == 51
    assert res[0]["keypoints"][:3] == [10.0, 20.0, 0.9] and res[0]["score"] == 0.9

    w = CocoWriter(str(path))
    for src in ("a.jpg", "b.jpg"):
        w.write(make_record(src, None, 640, 480, [_pose()]))
    w.close()
    assert [r["image_id"] for r in json.loads(path.read_text())] == [0, 1]


def test_coco_results_load_in_pycocotools(tmp_path):
    coco_mod = pytest.importorskip("pycocotools.coco")
    path = tmp_path / "res.json"
    w = CocoWriter(str(path))
    w.write(make_record("000000000001.jpg", None, 640, 480, [_pose(0.9)]))
    w.close()
    gt = coco_mod.COCO()
    gt.dataset = {"images": [{"id": 1, "width": 640, "height": 480}], "annotations": [],
                  "categories": [{"id": 1, "name": "person", "keypoints": [], "skeleton": []}]}
    gt.createIndex()
    dt = gt.loadRes(str(path))
    ann = dt.loadAnns(dt.getAnnIds(imgIds=[1]))
    assert len(ann) == 1 and ann[0]["score"] == 0.9 and ann[0]["area"] >= 0
