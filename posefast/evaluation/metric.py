"""COCO's keypoint metric, computed by a library that implements it: faster-coco-eval
(C++, the default) or pycocotools (COCO's own reference). Both give the same numbers
(the tests hold them to 1e-6); ``benchmarks/bench_eval.py`` measured faster-coco-eval
at 2.3-2.5x pycocotools' speed on 3000-9700 made-up poses (docs/benchmarks.md). Either is installed by the
``eval`` extra: ``pip install 'posefast[eval]'``.

The metric: each pose is matched to a labelled person by object keypoint similarity
(OKS, 0..1: the keypoints' Gaussian closeness, scaled by the person's area and each
keypoint's COCO sigma), greedily in order of pose score; AP averages precision over
recall at OKS thresholds 0.50:0.05:0.95, AR recall, both with up to 20 poses per
image; "medium" people have an area of 32^2..96^2 square pixels, "large" above.
Crowd regions (``iscrowd``) and people with no labelled keypoint
(``num_keypoints == 0``) are ignored: a pose matched to one counts neither way, and
so is a pose matched to no one whose area is outside the range scored (APm, APl):
its ``bbox``'s area where every pose has one (posefast's outputs do: the box of its
keypoints scoring >= 0.3), else its keypoints' extent, as COCO's tools take it from a
results file.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .annotations import Annotations, EvaluationError
from .results import Results

#: The libraries, best first; ``None`` as a choice takes the first installed.
LIBRARIES: tuple[str, ...] = ("faster-coco-eval", "pycocotools")
_MODULES = {"faster-coco-eval": "faster_coco_eval", "pycocotools": "pycocotools"}

#: The summary's names, in COCO's order (``COCOeval.stats`` for keypoints).
SUMMARY_NAMES: tuple[str, ...] = ("AP", "AP50", "AP75", "APm", "APl",
                                  "AR", "AR50", "AR75", "ARm", "ARl")


@dataclass
class Match:
    """A pose matched to a labelled person at OKS >= 0.5 (all areas, up to 20 poses
    per image): ``detection``, its index in ``Results.detections``; ``annotation``,
    the person's annotation id; ``oks`` their similarity."""

    image_id: int
    detection: int
    annotation: int
    oks: float


@dataclass
class Scores:
    """The metric's results. ``summary``: SUMMARY_NAMES -> value (-1 where COCO has
    none, e.g. APm with no medium person); ``precision``: (10, 101) precision at
    OKS thresholds 0.50:0.05:0.95 (rows) and recall 0:0.01:1 (columns), all areas,
    20 poses, -1 where undefined; ``sigmas``: the 17 keypoints' OKS sigmas."""

    library: str
    summary: dict[str, float]
    precision: np.ndarray
    oks_thresholds: np.ndarray
    recall_points: np.ndarray
    sigmas: np.ndarray
    image_ids: list[int]
    #: by image, then by detection
    matches: list[Match] = field(default_factory=list)


def installed_libraries() -> list[str]:
    """The libraries of LIBRARIES importable here, best first."""
    return [name for name in LIBRARIES if importlib.util.find_spec(_MODULES[name]) is not None]


def pick_library(name: str | None = None) -> str:
    """``name`` if installed, else (None) the best installed; EvaluationError saying
    what to install otherwise."""
    installed = installed_libraries()
    if name is None:
        if not installed:
            raise EvaluationError("scoring needs faster-coco-eval or pycocotools: "
                                  "pip install 'posefast[eval]'")
        return installed[0]
    if name not in LIBRARIES:
        raise EvaluationError(f"unknown library {name!r}: expected one of {', '.join(LIBRARIES)}")
    if name not in installed:
        raise EvaluationError(f"{name} is not installed: pip install {name}")
    return name


def score(annotations: Annotations, results: Results, *,
          image_ids: Sequence[int] | None = None, library: str | None = None) -> Scores:
    """Score ``results`` against ``annotations`` over ``image_ids`` (default: the
    images the results say were posed, else every annotated image, as COCO does)."""
    library = pick_library(library)
    if image_ids is None:
        image_ids = results.image_ids if results.image_ids is not None else annotations.image_ids
    image_ids = sorted(set(image_ids))
    # The libraries add keys to the dicts they get (ignore, tp, ...), and change no
    # list in them: a copy of each dict keeps the annotations as they were, at a
    # fraction of a deep copy's time (3000 images: 0.43 s in all instead of 0.57 s).
    gt_data = {key: [dict(entry) for entry in entries]
               for key, entries in annotations.dataset.items()}
    detections = [dict(d) for d in results.detections]
    if not all("bbox" in d for d in detections):
        # the libraries read every result as the first one: a box for all, or none
        for d in detections:
            d.pop("bbox", None)
    run = _faster if library == "faster-coco-eval" else _pycocotools
    with contextlib.redirect_stdout(io.StringIO()):  # the libraries print as they go
        evaluator, matches = run(gt_data, detections, image_ids, annotations.category_id)
    matches.sort(key=lambda m: (m.image_id, m.detection))
    p = evaluator.params
    precision = np.asarray(evaluator.eval["precision"])[:, :, 0, 0, -1]  # one category,
    stats = [float(v) for v in evaluator.stats[:len(SUMMARY_NAMES)]]     # all areas, 20
    return Scores(library=library, summary=dict(zip(SUMMARY_NAMES, stats)),
                  precision=precision.copy(), oks_thresholds=np.asarray(p.iouThrs),
                  recall_points=np.asarray(p.recThrs),
                  sigmas=np.asarray(p.kpt_oks_sigmas, dtype=np.float64),
                  image_ids=image_ids, matches=matches)


def _configure(evaluator: Any, image_ids: list[int], category_id: int) -> None:
    evaluator.params.imgIds = list(image_ids)
    evaluator.params.catIds = [category_id]


def _pycocotools(gt_data: dict, detections: list[dict], image_ids: list[int],
                 category_id: int) -> tuple[Any, list[Match]]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO()
    gt.dataset = gt_data
    gt.createIndex()
    if detections:
        dt = gt.loadRes(detections)
    else:  # loadRes reads the first entry of what it is given
        dt = COCO()
        dt.dataset = {"images": gt_data["images"], "categories": gt_data["categories"],
                      "annotations": []}
        dt.createIndex()
    evaluator = COCOeval(gt, dt, "keypoints")
    _configure(evaluator, image_ids, category_id)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    p = evaluator.params
    matches = []
    for entry in evaluator.evalImgs:
        if entry is None or entry["aRng"] != p.areaRng[0] or entry["maxDet"] != p.maxDets[-1]:
            continue
        key = (entry["image_id"], entry["category_id"])
        columns = [g["id"] for g in evaluator._gts[key]]
        ious = evaluator.ious[key]
        for row, (dt_id, gt_id, ignored) in enumerate(zip(
                entry["dtIds"], entry["dtMatches"][0], entry["dtIgnore"][0])):
            if gt_id > 0 and not ignored:
                matches.append(Match(int(entry["image_id"]), int(dt_id) - 1, int(gt_id),
                                     float(ious[row, columns.index(gt_id)])))
    return evaluator, matches


def _faster(gt_data: dict, detections: list[dict], image_ids: list[int],
            category_id: int) -> tuple[Any, list[Match]]:
    from faster_coco_eval import COCO, COCOeval_faster

    gt = COCO(gt_data)
    if detections:
        dt = gt.loadRes(detections)
    else:
        dt = COCO({"images": gt_data["images"], "categories": gt_data["categories"],
                   "annotations": []})
    evaluator = COCOeval_faster(gt, dt, "keypoints", extra_calc=True,
                                print_function=lambda *args: None)
    _configure(evaluator, image_ids, category_id)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    ignored = {a["id"] for a in gt_data["annotations"]
               if a["iscrowd"] or a["num_keypoints"] == 0 or a.get("ignore")}
    matches = []
    for pair, oks in evaluator.eval.get("matched", {}).items():
        dt_id, gt_id = (int(v) for v in pair.split("_", 1))
        if gt_id not in ignored:
            image_id = dt.anns[dt_id]["image_id"]
            matches.append(Match(image_id, dt_id - 1, gt_id, float(oks)))
    return evaluator, matches
