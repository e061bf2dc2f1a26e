"""How good the poses are, in COCO's keypoint metric (``posefast eval``).

    from posefast.evaluation import evaluate
    report = evaluate("poses.jsonl", "person_keypoints_val2017.json")
    report.scores.summary["AP"]

``annotations`` reads and checks the ground truth, ``results`` reads a posefast
output in any of its formats, ``metric`` runs the library that computes the metric,
``breakdown`` gives each image's and each keypoint's share, ``report`` formats it
all and ``plot`` draws it.
"""
from __future__ import annotations

import os
from typing import Sequence

from .annotations import Annotations, EvaluationError, load_annotations
from .breakdown import Breakdown, breakdown
from .metric import LIBRARIES, SUMMARY_NAMES, Match, Scores, score
from .results import Results, load_results

__all__ = ["Annotations", "Breakdown", "EvaluationError", "LIBRARIES", "Match", "Results",
           "SUMMARY_NAMES", "Scores", "breakdown", "evaluate", "load_annotations",
           "load_results", "score"]


def evaluate(results: str | os.PathLike, annotations: str | os.PathLike | Annotations, *,
             image_ids: Sequence[int] | None = None,
             library: str | None = None) -> Breakdown:
    """Score the posefast output ``results`` (JSON Lines, Parquet file or folder, or
    COCO results) against the COCO keypoint file ``annotations``. Raises
    EvaluationError for bad input, naming the file and what was expected."""
    if not isinstance(annotations, Annotations):
        annotations = load_annotations(annotations)
    loaded = load_results(results, annotations)
    return breakdown(annotations, loaded, score(annotations, loaded, image_ids=image_ids,
                                                 library=library))
