"""`posefast run ../shared/images --eval labels.json`: the job, then its score, in one
command, for each output format. There is no labelled image set in ../shared, so the
labels are made up from the poses a first job found on the shared images (then the
job scores 1.0), and moved (then it scores less, the same as `posefast eval` says)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES
from posefast.skeleton import KEYPOINT_NAMES
from test_cli import FAST, posefast, records


def labels_from(poses_jsonl, path, moved: float = 0.0, seed: int = 0) -> str:
    """A COCO keypoint annotation file of the shared images whose people are the
    poses of ``poses_jsonl``, each keypoint moved ``moved`` pixels; image ids that
    are not the files' numbers, so that matching by file name is what is tested."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for n, rec in enumerate(records(poses_jsonl)):
        image_id = 7000 + 3 * n
        images.append({"id": image_id, "file_name": os.path.basename(rec["source"]),
                       "width": rec["width"], "height": rec["height"]})
        for pose in rec["poses"]:
            k = np.array([[p["x"], p["y"]] for p in pose["keypoints"]])
            angle = rng.uniform(0, 2 * np.pi, len(k))
            k += moved * np.stack([np.cos(angle), np.sin(angle)], axis=1)
            (x0, y0), (x1, y1) = k.min(axis=0), k.max(axis=0)
            kps = np.concatenate([k, np.full((len(k), 1), 2.0)], axis=1)
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1,
                         "keypoints": kps.ravel().tolist(), "num_keypoints": len(k),
                         "bbox": [x0, y0, x1 - x0, y1 - y0],
                         "area": (x1 - x0) * (y1 - y0), "iscrowd": 0})
    data = {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": list(KEYPOINT_NAMES)}]}
    with open(path, "w") as f:
        json.dump(data, f)
    return str(path)


@pytest.fixture(scope="module")
def first_job(pipeline, tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval-run")
    out = folder / "first.jsonl"
    r = posefast("run", IMAGES, "--output", out, *FAST)
    assert r.returncode == 0, r.stderr
    assert sum(len(rec["poses"]) for rec in records(out)) >= 5
    return folder, out


def summary(stdout: str) -> dict[str, str]:
    rows = [line.split() for line in stdout.splitlines()]
    return {row[0]: row[-1] for row in rows if row and row[0].startswith(("AP", "AR"))}


def test_run_eval_scores_the_job_in_every_format(first_job):
    folder, first = first_job
    labels = labels_from(first, folder / "labels.json")
    tables = {}
    for fmt in ("jsonl", "coco", "parquet"):
        out = folder / f"out.{fmt}"
        r = posefast("run", IMAGES, "--format", fmt, "--output", out, "--eval", labels, *FAST)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
        tables[fmt] = r.stdout
        got = summary(r.stdout)
        assert [got[k] for k in ("AP", "AP50", "AP75", "AR")] == ["1.000"] * 4, r.stdout
    assert tables["jsonl"] == tables["coco"] == tables["parquet"]
    assert tables["jsonl"].startswith("7 images, ")


def test_moved_labels_score_less_and_eval_says_the_same(first_job):
    folder, first = first_job
    labels = labels_from(first, folder / "moved.json", moved=12.0)
    out = folder / "moved.jsonl"
    r = posefast("run", IMAGES, "--output", out, "--eval", labels, "-q", *FAST)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # -q: no summary, no "scoring" line
    ap = float(summary(r.stdout)["AP"])
    assert 0.0 < ap < 0.9
    e = posefast("eval", out, "--annotations", labels, "--json")
    assert e.returncode == 0, e.stderr
    assert json.loads(e.stdout)["summary"]["AP"] == pytest.approx(ap, abs=5e-4)


def test_run_eval_refuses_images_the_labels_lack_before_any_work(first_job):
    folder, first = first_job
    data = json.loads(open(labels_from(first, folder / "some.json")).read())
    data["images"] = [i for i in data["images"] if i["file_name"] != "sitting.png"]
    data["annotations"] = [a for a in data["annotations"]
                           if a["image_id"] in {i["id"] for i in data["images"]}]
    (folder / "some.json").write_text(json.dumps(data))
    out = folder / "never.jsonl"
    r = posefast("run", IMAGES, "--output", out, "--eval", folder / "some.json", *FAST)
    assert r.returncode == 2 and "'sitting.png'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
    r = posefast("run", IMAGES / "standing.png", "--eval", folder / "some.json", *FAST)
    assert r.returncode == 2 and "--eval needs --output FILE" in r.stderr


def test_coco_annotations_and_eval_giving_other_ids_is_refused(first_job):
    """--format coco takes its image ids from --coco-annotations; --eval scores by its
    own file's ids. Two files that number the images differently would score each
    result as another image: refused before any work. Files that agree are fine."""
    folder, first = first_job
    a = labels_from(first, folder / "a.json")
    data = json.loads(open(a).read())
    for image in data["images"]:
        image["id"] += 1
    for ann in data["annotations"]:
        ann["image_id"] += 1
    b = folder / "b.json"
    b.write_text(json.dumps(data))
    out = folder / "ids.json"
    r = posefast("run", IMAGES, "--format", "coco", "--output", out,
                 "--coco-annotations", a, "--eval", b, *FAST)
    assert r.returncode == 2, r.stderr
    assert f"--coco-annotations {a} gives" in r.stderr and f"--eval {b} gives it" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
    same = folder / "a-copy.json"
    same.write_text(open(a).read())
    r = posefast("run", IMAGES, "--format", "coco", "--output", out,
                 "--coco-annotations", a, "--eval", same, *FAST)
    assert r.returncode == 0, r.stderr
    assert summary(r.stdout)["AP"] == "1.000"
