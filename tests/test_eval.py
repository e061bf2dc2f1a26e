"""`posefast eval` and posefast.evaluation on made-up annotations: the numbers COCO's
metric must give (perfect poses, moved poses, missed people, crowd regions, people
with no labelled keypoint), the same numbers from every output format and from both
libraries, and bad input refused with a message."""
from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest

from posefast.cli import main as posefast_main
from posefast.evaluation import EvaluationError, evaluate, load_annotations
from posefast.job.output import CocoWriter, JsonlWriter
from posefast.skeleton import KEYPOINT_NAMES

# COCO's keypoint sigmas (cocoeval.py), for the NumPy reference of OKS below.
SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
                   .87, .87, .89, .89]) / 10.0
LIBRARIES = ("faster-coco-eval", "pycocotools")
ONE = pytest.approx(1.0, abs=1e-12)  # means over thresholds may end 1 ulp short
_MODULES = {"faster-coco-eval": "faster_coco_eval", "pycocotools": "pycocotools"}


def oks(gt: np.ndarray, dt: np.ndarray, area: float) -> float:
    """COCO's object keypoint similarity of (17, 3) keypoints, over the labelled ones."""
    d2 = ((gt[:, :2] - dt[:, :2]) ** 2).sum(axis=1)
    ks = np.exp(-d2 / (2 * area * (2 * SIGMAS) ** 2))
    labelled = gt[:, 2] > 0
    return float(ks[labelled].mean())


def person(rng, x0: float, y0: float, w: float = 120.0, h: float = 240.0) -> np.ndarray:
    """17 keypoints (x, y, v=2) of a made-up person in the box, 2-decimal pixels."""
    xs = np.round(x0 + rng.uniform(0, w, 17), 2)
    ys = np.round(y0 + rng.uniform(0, h, 17), 2)
    return np.stack([xs, ys, np.full(17, 2.0)], axis=1)


class Labels:
    """Made-up annotations of images named img<id>.jpg, 640x480."""

    def __init__(self, images: int) -> None:
        self.images = [{"id": i, "file_name": f"img{i}.jpg", "width": 640, "height": 480}
                       for i in range(1, images + 1)]
        self.people: list[dict] = []

    def add(self, image_id: int, kps: np.ndarray, *, crowd: int = 0,
            labelled: int | None = None) -> dict:
        x0, y0 = kps[:, 0].min(), kps[:, 1].min()
        w, h = kps[:, 0].max() - x0, kps[:, 1].max() - y0
        ann = {"id": len(self.people) + 1, "image_id": image_id, "category_id": 1,
               "keypoints": kps.ravel().tolist(),
               "num_keypoints": int((kps[:, 2] > 0).sum()) if labelled is None else labelled,
               "bbox": [float(x0), float(y0), float(w), float(h)], "area": float(w * h),
               "iscrowd": crowd}
        self.people.append(ann)
        return ann

    def write(self, path) -> str:
        data = {"images": self.images, "annotations": self.people,
                "categories": [{"id": 1, "name": "person", "supercategory": "person",
                                "keypoints": list(KEYPOINT_NAMES), "skeleton": []}]}
        path.write_text(json.dumps(data))
        return str(path)


def record(image_id: int, poses: list[tuple[np.ndarray, float]]) -> dict:
    """A posefast record of img<id>.jpg with these (keypoints (17, 2+), score) poses."""
    return {"source": f"photos/img{image_id}.jpg", "frame": None, "time": None,
            "width": 640, "height": 480, "error": None,
            "poses": [{"score": score,
                       "bbox": [float(k[:, 0].min()), float(k[:, 1].min()),
                                float(np.ptp(k[:, 0])), float(np.ptp(k[:, 1]))],
                       "keypoints": [{"part": n, "x": float(x), "y": float(y), "score": 0.9}
                                     for n, x, y in zip(KEYPOINT_NAMES, k[:, 0], k[:, 1])]}
                      for k, score in poses]}


def write_jsonl(path, records) -> str:
    writer = JsonlWriter(str(path))
    for r in records:
        writer.write(r)
    writer.close()
    return str(path)


def write_coco(path, records) -> str:
    writer = CocoWriter(str(path), {r["source"]: int(r["source"][10:-4]) for r in records})
    for r in records:
        writer.write(r)
    writer.close()
    return str(path)


def write_parquet(path, records) -> str:
    from posefast.job.parquet import ParquetWriter

    writer = ParquetWriter(str(path))
    for r in records:
        writer.write(r)
    writer.close()
    return str(path)


def scene(tmp_path, images: int = 4, per_image: int = 3, seed: int = 0):
    """Labels with ``per_image`` people in each image, their keypoints, the annotation file."""
    rng = np.random.default_rng(seed)
    labels = Labels(images)
    truth = {}
    for image_id in range(1, images + 1):
        for p in range(per_image):
            kps = person(rng, 20 + 200 * p, 20 + rng.uniform(0, 200))
            truth[labels.add(image_id, kps)["id"]] = (image_id, kps)
    return labels, truth, labels.write(tmp_path / "labels.json")


def fed_back(truth, moved: float = 0.0, skip=(), seed: int = 1) -> list[dict]:
    """Records holding the labelled people as poses, each keypoint moved ``moved``
    pixels in a fixed random direction, leaving out the annotation ids in ``skip``."""
    rng = np.random.default_rng(seed)
    by_image: dict[int, list] = {}
    for ann_id, (image_id, kps) in truth.items():
        angle = rng.uniform(0, 2 * np.pi, 17)
        k = kps.copy()
        k[:, 0] += moved * np.cos(angle)
        k[:, 1] += moved * np.sin(angle)
        score = round(float(rng.uniform(0.5, 1.0)), 4)
        if ann_id not in skip:
            by_image.setdefault(image_id, []).append((np.round(k, 2), score))
    images = sorted({image_id for image_id, _ in truth.values()})
    return [record(i, by_image.get(i, [])) for i in images]


def installed(library: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(_MODULES[library]) is not None


@pytest.fixture(params=LIBRARIES)
def library(request):
    if not installed(request.param):
        pytest.skip(f"{request.param} is not installed")
    return request.param


# -- the numbers ---------------------------------------------------------------------

def test_the_annotations_fed_back_score_1(tmp_path, library):
    _, truth, labels = scene(tmp_path)
    report = evaluate(write_jsonl(tmp_path / "p.jsonl", fed_back(truth)), labels,
                      library=library)
    s = report.summary
    assert [s[k] for k in ("AP", "AP50", "AP75", "AR", "APl")] == [ONE] * 5
    assert s["APm"] == -1.0  # no medium person: COCO says -1
    assert all(row.matched == row.people == 3 and row.mean_oks == 1.0 for row in report.images)
    assert all(share == 1.0 for share in report.keypoint_reach.values())


def test_moving_keypoints_further_lowers_ap_monotonically(tmp_path, library):
    _, truth, labels = scene(tmp_path, images=6)
    aps = []
    for moved in (0, 2, 4, 8, 12, 16, 24, 32, 48):
        path = write_jsonl(tmp_path / f"m{moved}.jsonl", fed_back(truth, moved))
        aps.append(evaluate(path, labels, library=library).summary["AP"])
    assert aps[0] == ONE and aps[-1] < 0.05
    assert all(a >= b for a, b in zip(aps, aps[1:])), aps
    assert len(set(aps)) >= 6, aps  # it falls by steps, not at one cliff


def test_a_missed_person_lowers_ar_as_by_hand(tmp_path, library):
    _, truth, labels = scene(tmp_path, images=2, per_image=2)  # 4 people
    report = evaluate(write_jsonl(tmp_path / "p.jsonl", fed_back(truth, skip={3})), labels,
                      library=library)
    s = report.summary
    # 3 of 4 people found exactly, no false pose: recall 3/4 at every threshold; precision
    # 1 at the 76 recall points 0.00..0.75 of COCO's 101, none beyond
    assert s["AR"] == pytest.approx(0.75, abs=1e-12)
    assert s["AR50"] == s["AR75"] == pytest.approx(0.75, abs=1e-12)
    assert s["AP"] == pytest.approx(76 / 101, abs=1e-12)
    assert [(row.people, row.matched) for row in report.images] == [(2, 2), (2, 1)]


def test_an_output_where_no_one_was_found_scores_0(tmp_path, library):
    _, truth, labels = scene(tmp_path, images=2)
    records = [dict(r, poses=[]) for r in fed_back(truth)]
    report = evaluate(write_jsonl(tmp_path / "p.jsonl", records), labels, library=library)
    assert report.summary["AP"] == 0 and report.summary["AR"] == 0
    assert [(row.people, row.poses, row.matched) for row in report.images] == [(3, 0, 0)] * 2


def test_per_image_oks_is_the_numpy_oks(tmp_path, library):
    labels, truth, path = scene(tmp_path, images=3, per_image=1)
    records = fed_back(truth, moved=6.0)
    report = evaluate(write_jsonl(tmp_path / "p.jsonl", records), path, library=library)
    for row, rec, ann in zip(report.images, records, labels.people):
        gt = np.asarray(ann["keypoints"]).reshape(17, 3)
        dt = np.array([[k["x"], k["y"]] for k in rec["poses"][0]["keypoints"]])
        assert row.matched == 1
        assert row.mean_oks == pytest.approx(oks(gt, dt, ann["area"]), abs=1e-12)


def test_crowd_regions_follow_cocos_rules(tmp_path, library):
    rng = np.random.default_rng(5)
    labels = Labels(1)
    real = person(rng, 20, 20)
    crowd = person(rng, 300, 100)
    labels.add(1, real)
    labels.add(1, crowd, crowd=1)
    path = labels.write(tmp_path / "crowd.json")
    # the crowd region missed: no loss of recall; a pose on it, scored first: no false pose
    for poses in ([(real, 0.9)], [(crowd, 0.95), (real, 0.9)]):
        res = write_jsonl(tmp_path / "r.jsonl", [record(1, poses)])
        report = evaluate(res, path, library=library)
        assert report.summary["AP"] == ONE and report.summary["AR"] == ONE
        assert report.images[0].people == 1 and report.images[0].matched == 1
    # the same region as a person: missed, it halves recall; found, it is matched
    labels.people[1]["iscrowd"] = 0
    plain = labels.write(tmp_path / "plain.json")
    res = write_jsonl(tmp_path / "r.jsonl", [record(1, [(real, 0.9)])])
    assert evaluate(res, plain, library=library).summary["AR"] == pytest.approx(0.5)


def test_people_with_no_labelled_keypoint_are_ignored(tmp_path, library):
    rng = np.random.default_rng(6)
    labels = Labels(1)
    real = person(rng, 20, 20)
    unlabelled = person(rng, 300, 100)
    unlabelled[:, 2] = 0  # num_keypoints == 0: COCO ignores the person
    labels.add(1, real)
    labels.add(1, unlabelled)
    path = labels.write(tmp_path / "zero.json")
    # missed: no loss; a pose on its box, scored first: matched to it, so no false pose
    inside = np.stack([np.full(17, 360.0), np.full(17, 200.0)], axis=1)
    for poses in ([(real, 0.9)], [(inside, 0.95), (real, 0.9)]):
        res = write_jsonl(tmp_path / "r.jsonl", [record(1, poses)])
        report = evaluate(res, path, library=library)
        assert report.summary["AP"] == ONE and report.summary["AR"] == ONE, poses
        assert report.images[0].people == 1
    # a pose far from anyone, scored first, is a false pose
    far = np.stack([np.full(17, 600.0), np.full(17, 470.0)], axis=1)
    res = write_jsonl(tmp_path / "r.jsonl", [record(1, [(far, 0.95), (real, 0.9)])])
    assert evaluate(res, path, library=library).summary["AP"] < 1.0


def test_the_three_formats_give_the_same_numbers(tmp_path, library):
    _, truth, labels = scene(tmp_path, images=5)
    records = fed_back(truth, moved=7.0, skip={2, 9})
    folder = tmp_path / "ray-parquet"
    folder.mkdir()
    write_parquet(folder / "part-0.parquet", records[:2])
    write_parquet(folder / "part-1.parquet", records[2:])
    outputs = [write_jsonl(tmp_path / "p.jsonl", records),
               write_coco(tmp_path / "p.json", records),
               write_parquet(tmp_path / "p.parquet", records), str(folder)]
    reports = [evaluate(path, labels, library=library) for path in outputs]
    assert [r.results_format for r in reports] == ["jsonl", "coco", "parquet", "parquet"]
    first = reports[0]
    assert 0.2 < first.summary["AP"] < 0.95  # a score with something to differ in
    for other in reports[1:]:
        assert other.summary == first.summary
        assert np.array_equal(other.scores.precision, first.scores.precision)
        assert [r.to_dict() for r in other.images] == [r.to_dict() for r in first.images]


def made_up(tmp_path, images: int = 200, seed: int = 3):
    """A busier set for comparing the libraries: noise, misses, false poses, crowds,
    unlabelled keypoints and people, all sizes."""
    rng = np.random.default_rng(seed)
    labels = Labels(images)
    records = []
    for image_id in range(1, images + 1):
        poses = []
        for _ in range(rng.integers(0, 5)):
            w, h = rng.uniform(10, 250), rng.uniform(20, 400)
            kps = person(rng, rng.uniform(0, 640 - w), rng.uniform(0, 480 - h), w, h)
            kps[:, 2] = rng.choice([0, 1, 2], 17, p=[0.25, 0.15, 0.6])
            kps[kps[:, 2] == 0, :2] = 0
            labels.add(image_id, kps, crowd=int(rng.uniform() < 0.05))
            if rng.uniform() < 0.85:
                noisy = np.round(kps[:, :2] + rng.normal(0, rng.uniform(0.5, 20), (17, 2)), 2)
                noisy[kps[:, 2] == 0] = rng.uniform(0, 400, (int((kps[:, 2] == 0).sum()), 2))
                poses.append((np.round(noisy, 2), round(float(rng.uniform(0.1, 1)), 4)))
        for _ in range(rng.integers(0, 3)):
            poses.append((np.round(rng.uniform(0, 480, (17, 2)), 2),
                          round(float(rng.uniform(0, 0.6)), 4)))
        records.append(record(image_id, poses))
    return labels.write(tmp_path / "busy.json"), write_jsonl(tmp_path / "busy.jsonl", records)


def test_the_two_libraries_agree(tmp_path):
    for name in LIBRARIES:
        if not installed(name):
            pytest.skip(f"{name} is not installed")
    labels, results = made_up(tmp_path)
    fast, reference = (evaluate(results, labels, library=name) for name in LIBRARIES)
    assert 0.1 < reference.summary["AP"] < 0.9
    for key, value in reference.summary.items():
        assert fast.summary[key] == pytest.approx(value, abs=1e-6), key
    np.testing.assert_allclose(fast.scores.precision, reference.scores.precision, atol=1e-6)
    assert [(m.detection, m.annotation) for m in fast.scores.matches] == \
        [(m.detection, m.annotation) for m in reference.scores.matches]
    np.testing.assert_allclose([m.oks for m in fast.scores.matches],
                               [m.oks for m in reference.scores.matches], atol=1e-6)
    assert fast.keypoint_reach == pytest.approx(reference.keypoint_reach, abs=1e-12)


# -- the command ---------------------------------------------------------------------

def run_cli(capsys, *args):
    status = posefast_main(["eval", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def test_the_command_prints_the_summary_per_image_and_json(tmp_path, capsys):
    _, truth, labels = scene(tmp_path, images=2)
    res = write_jsonl(tmp_path / "p.jsonl", fed_back(truth, moved=5.0, skip={1}))
    status, out, _ = run_cli(capsys, res, "--annotations", labels, "--per-image", "--keypoints")
    assert status == 0
    names = [line.split()[0] for line in out.splitlines()[2:12]]
    assert names == ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    assert "img1.jpg" in out and "img2.jpg" in out and "right_ankle" in out
    status, out, _ = run_cli(capsys, res, "--annotations", labels, "--json", "--per-image")
    data = json.loads(out)
    report = evaluate(res, labels)
    assert data["summary"] == report.summary
    assert data["per_image"] == [r.to_dict() for r in report.images]
    assert [(r["people"], r["matched"]) for r in data["per_image"]] == [(3, 2), (3, 3)]
    assert data["images"] == 2 and data["people"] == 6 and data["poses"] == 5


def test_the_plot_is_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from PIL import Image

    _, truth, labels = scene(tmp_path)
    res = write_jsonl(tmp_path / "p.jsonl", fed_back(truth, moved=9.0))
    status, _, err = run_cli(capsys, res, "--annotations", labels, "--plot", tmp_path / "e.png")
    assert status == 0, err
    with Image.open(tmp_path / "e.png") as image:
        assert image.format == "PNG" and image.size == (1300, 500)
        # not blank: the curves and bars are drawn in colour
        assert len(image.convert("RGB").getcolors(1 << 20)) > 50


def test_the_results_of_a_failed_image_count_as_no_one_found(tmp_path, capsys):
    _, truth, labels = scene(tmp_path, images=2, per_image=1)
    records = fed_back(truth)
    records[1] = {**records[1], "poses": [], "error": "cannot read photos/img2.jpg"}
    status, out, err = run_cli(capsys, write_jsonl(tmp_path / "p.jsonl", records),
                               "--annotations", labels, "--json")
    assert status == 0 and "1 image(s)" in err and "failed" in err
    assert json.loads(out)["summary"]["AR"] == 0.5


def bad(tmp_path, capsys, *args, expect: str):
    status, out, err = run_cli(capsys, *args)
    assert status == 2, (out, err)
    assert expect in err, err
    assert out == ""


def test_annotations_without_keypoints_are_refused(tmp_path, capsys):
    _, truth, labels = scene(tmp_path, images=1)
    res = write_jsonl(tmp_path / "p.jsonl", fed_back(truth))
    instances = json.loads(open(labels).read())
    del instances["categories"][0]["keypoints"]
    for ann in instances["annotations"]:
        del ann["keypoints"], ann["num_keypoints"]
    (tmp_path / "instances.json").write_text(json.dumps(instances))
    bad(tmp_path, capsys, res, "--annotations", tmp_path / "instances.json",
        expect="no category has keypoints")
    one_without = json.loads(open(labels).read())
    del one_without["annotations"][1]["keypoints"]
    (tmp_path / "one.json").write_text(json.dumps(one_without))
    bad(tmp_path, capsys, res, "--annotations", tmp_path / "one.json",
        expect="annotations[1] (id 2) has no \"keypoints\"")
    nobody = json.loads(open(labels).read())
    for ann in nobody["annotations"]:
        ann["num_keypoints"] = 0
    (tmp_path / "nobody.json").write_text(json.dumps(nobody))
    bad(tmp_path, capsys, res, "--annotations", tmp_path / "nobody.json",
        expect="no person has a labelled keypoint")


def test_results_of_other_images_are_refused(tmp_path, capsys):
    _, truth, labels = scene(tmp_path, images=2)
    records = fed_back(truth)
    others = [{**r, "source": r["source"].replace("img", "other")} for r in records]
    bad(tmp_path, capsys, write_jsonl(tmp_path / "o.jsonl", others), "--annotations", labels,
        expect="none of its images is in --annotations")
    bad(tmp_path, capsys, write_jsonl(tmp_path / "h.jsonl", others[:1] + records[1:]),
        "--annotations", labels, expect="1 of its 2 entries are not in --annotations")
    twice = records + [{**records[0], "source": "elsewhere/img1.jpg"}]
    bad(tmp_path, capsys, write_jsonl(tmp_path / "t.jsonl", twice), "--annotations", labels,
        expect="photos/img1.jpg and elsewhere/img1.jpg are both image 'img1.jpg'")
    coco = json.loads(open(write_coco(tmp_path / "c.json", records)).read())
    for entry in coco:
        entry["image_id"] += 1000
    (tmp_path / "c.json").write_text(json.dumps(coco))
    bad(tmp_path, capsys, tmp_path / "c.json", "--annotations", labels,
        expect="none of its images is in --annotations")


@pytest.mark.parametrize("content, expect", [
    (b"", "holds no records"),
    (b'{"posefast": {"version": "0.1.0", "cwd": "/", "settings": {}}}\n', "holds no records"),
    (b"[]\n", "holds no poses"),
    (b"not json at all\n", "line 1 is not JSON"),
    (b'[{"image_id": 1, "keypoints": [1, 2]}]', "\"keypoints\" is not 51 finite numbers"),
    (b'{"source": "img1.jpg", "frame": 3, "poses": [], "error": null}\n', "frame 3 of the video"),
    (b'{"source": "img1.jpg", "frame": null, "poses": [{"score": 1}], "error": null}\n',
     "a pose without a score and 17 keypoints"),
    (b"PAR1 not really", "not a readable Parquet file"),
])
def test_empty_and_malformed_results_are_refused(tmp_path, capsys, content, expect):
    _, _, labels = scene(tmp_path, images=1)
    (tmp_path / "r").write_bytes(content)
    bad(tmp_path, capsys, tmp_path / "r", "--annotations", labels, expect=expect)


def test_unreadable_files_are_refused(tmp_path, capsys):
    _, truth, labels = scene(tmp_path, images=1)
    res = write_jsonl(tmp_path / "p.jsonl", fed_back(truth))
    bad(tmp_path, capsys, tmp_path / "missing.jsonl", "--annotations", labels,
        expect="missing.jsonl: No such file")
    bad(tmp_path, capsys, res, "--annotations", tmp_path / "missing.json",
        expect="--annotations")
    (tmp_path / "broken.json").write_text('{"images": [')
    bad(tmp_path, capsys, res, "--annotations", tmp_path / "broken.json",
        expect="not valid JSON")
    bad(tmp_path, capsys, tmp_path, "--annotations", labels,
        expect="not a readable Parquet file or folder")
    bad(tmp_path, capsys, res, "--annotations", labels, "--plot", tmp_path / "no" / "e.png",
        expect="--plot")


def test_a_missing_library_is_named(tmp_path, capsys, monkeypatch):
    import posefast.evaluation.metric as metric

    _, truth, labels = scene(tmp_path, images=1)
    res = write_jsonl(tmp_path / "p.jsonl", fed_back(truth))
    monkeypatch.setattr(metric, "installed_libraries", lambda: [])
    bad(tmp_path, capsys, res, "--annotations", labels,
        expect="pip install 'posefast[eval]'")
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    bad(tmp_path, capsys, res, "--annotations", labels, "--plot", tmp_path / "e.png",
        expect="--plot needs matplotlib: pip install 'posefast[eval]'")


def test_load_annotations_fills_in_what_coco_derives(tmp_path):
    rng = np.random.default_rng(9)
    labels = Labels(1)
    kps = person(rng, 10, 10)
    kps[:3, 2] = 0
    ann = labels.add(1, kps)
    del ann["area"], ann["num_keypoints"], ann["iscrowd"]
    loaded = load_annotations(labels.write(tmp_path / "l.json"))
    got = loaded.dataset["annotations"][0]
    assert got["num_keypoints"] == 14 and got["iscrowd"] == 0
    assert math.isclose(got["area"], ann["bbox"][2] * ann["bbox"][3])
    with pytest.raises(EvaluationError, match="two images share an id"):
        labels.images.append(dict(labels.images[0], file_name="x.jpg"))
        load_annotations(labels.write(tmp_path / "l.json"))


def test_the_command_line_imports_no_evaluation_until_asked():
    """Every command parses the whole command line: eval's options must not make
    `posefast run` import the metric, NumPy's share of it, or its libraries."""
    import subprocess

    from posefast.cli.eval import LIBRARIES as SPELLED_OUT
    from posefast.evaluation.metric import LIBRARIES as METRIC_LIBRARIES

    assert SPELLED_OUT == METRIC_LIBRARIES
    code = ("import sys; from posefast.cli import build_parser; build_parser(); "
            "import posefast.cli.run, posefast.evaluation.annotations; "
            "print(sorted(m for m in sys.modules if m.startswith(('posefast.evaluation.m', "
            "'posefast.evaluation.b', 'faster_coco_eval', 'pycocotools', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_eval_explains_itself_with_examples(capsys):
    with pytest.raises(SystemExit):
        posefast_main(["eval", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "posefast eval poses.jsonl --annotations" in text


def test_run_eval_without_a_library_is_refused_before_the_job(tmp_path):
    import subprocess

    from PIL import Image

    _, _, labels = scene(tmp_path, images=1)
    Image.new("RGB", (64, 48)).save(tmp_path / "img1.jpg")
    code = ("import sys; sys.modules.update(faster_coco_eval=None, pycocotools=None); "
            "from posefast.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "run", str(tmp_path / "img1.jpg"),
                        "--output", str(tmp_path / "p.jsonl"), "--eval", labels],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "pip install 'posefast[eval]'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "p.jsonl").exists()


def test_the_score_is_cocos_own_on_the_raw_files(tmp_path, capsys):
    """COCO's reference, used as COCO's users do (pycocotools on the files as they
    are: segmentation polygons, crowd RLEs, images with no one, info and licenses),
    gives the numbers `posefast eval` prints, whichever library it runs."""
    pytest.importorskip("pycocotools")
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    labels, results = made_up(tmp_path, images=60, seed=11)
    data = json.loads(open(labels).read())
    data["info"], data["licenses"] = {"year": 2017}, [{"id": 1, "name": "x"}]
    data["images"] += [{"id": 9001, "file_name": "empty.jpg", "width": 640, "height": 480,
                        "coco_url": "http://example/empty.jpg"}]
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        ann["segmentation"] = ({"counts": [0, 10, 100], "size": [480, 640]} if ann["iscrowd"]
                               else [[x, y, x + w, y, x + w, y + h, x, y + h]])
    (tmp_path / "raw.json").write_text(json.dumps(data))
    records = [json.loads(line) for line in open(results).read().splitlines()]
    for rec in records:  # boxes that are not the keypoints' extent, as posefast's are not
        for pose in rec["poses"]:
            x, y, w, h = pose["bbox"]
            pose["bbox"] = [round(x, 2), round(y, 2), round(w / 3, 2), round(h / 3, 2)]
    records.append(record(9001, [(np.full((17, 2), 50.0), 0.7)])
                   | {"source": "photos/empty.jpg"})
    coco_results = write_coco(tmp_path / "res.json", [r for r in records
                                                     if r["source"] != "photos/empty.jpg"])
    entries = json.loads(open(coco_results).read())
    entries.append({"image_id": 9001, "category_id": 1, "score": 0.7,
                    "keypoints": [50.0, 50.0, 1.0] * 17, "bbox": [50.0, 50.0, 0.0, 0.0]})
    (tmp_path / "res.json").write_text(json.dumps(entries))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(tmp_path / "raw.json"))
        E = COCOeval(gt, gt.loadRes(str(tmp_path / "res.json")), "keypoints")
        E.evaluate()
        E.accumulate()
        E.summarize()
    assert 0.1 < E.stats[0] < 0.9
    for name in LIBRARIES:
        if not installed(name):
            continue
        for path in (tmp_path / "res.json", write_jsonl(tmp_path / "all.jsonl", records)):
            status, out, err = run_cli(capsys, path, "--annotations", tmp_path / "raw.json",
                                       "--json", "--library", name)
            assert status == 0, err
            got = json.loads(out)["summary"]
            assert list(got.values()) == pytest.approx(list(E.stats), abs=1e-6), (name, path)
