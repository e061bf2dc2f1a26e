"""How good the poses are, in COCO's keypoint metric (``posefast eval``).

    from posefast.evaluation import evaluate
    report = evaluate("poses.jsonl", "person_keypoints_val2017.json")
    report.summary["AP"], report.images[0].mean_oks, report.keypoint_reach["nose"]

``annotations`` reads and checks the ground truth, ``results`` reads a posefast
output in any of its formats, ``metric`` runs the library that computes the metric,
``breakdown`` gives each image's and each keypoint's share, ``report`` formats it
all and ``plot`` draws it. Names are imported on first use, as in ``posefast``
itself, so that ``posefast run`` without ``--eval`` loads none of this.
"""
from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from .annotations import Annotations, EvaluationError, load_annotations
    from .breakdown import Breakdown, ImageRow, breakdown
    from .metric import LIBRARIES, SUMMARY_NAMES, Match, Scores, score
    from .results import Results, load_results

_EXPORTS = {
    "Annotations": "annotations", "EvaluationError": "annotations",
    "load_annotations": "annotations",
    "Breakdown": "breakdown", "ImageRow": "breakdown", "breakdown": "breakdown",
    "LIBRARIES": "metric", "SUMMARY_NAMES": "metric", "Match": "metric", "Scores": "metric",
    "score": "metric",
    "Results": "results", "load_results": "results",
}

__all__ = [*_EXPORTS, "evaluate"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def evaluate(results: str | os.PathLike, annotations: str | os.PathLike | Annotations, *,
             image_ids: Sequence[int] | None = None,
             library: str | None = None) -> Breakdown:
    """Score the posefast output ``results`` (JSON Lines, Parquet file or folder, or
    COCO results) against the COCO keypoint file ``annotations`` (or annotations
    already loaded), over ``image_ids`` (default: see ``metric.score``), with
    ``library`` (default: the first installed of LIBRARIES). Raises EvaluationError
    for bad input, naming the file and what was expected."""
    from .annotations import Annotations, load_annotations
    from .breakdown import breakdown
    from .metric import score
    from .results import load_results

    if not isinstance(annotations, Annotations):
        annotations = load_annotations(annotations)
    loaded = load_results(results, annotations)
    return breakdown(annotations, loaded, score(annotations, loaded, image_ids=image_ids,
                                                 library=library))
