"""``posefast eval --plot``: the precision-recall curves and each keypoint's share
within OKS reach, in one PNG (matplotlib, from the ``eval`` extra)."""
from __future__ import annotations

import os

import numpy as np

from .annotations import EvaluationError
from .breakdown import REACH, Breakdown


def _curve(precision: np.ndarray) -> np.ndarray:
    """Precision at each recall point; NaN where COCO has none (-1)."""
    return np.where(precision < 0, np.nan, precision)


def plot(report: Breakdown, path: str | os.PathLike) -> None:
    """Draw ``report`` into the image file ``path`` (its format from its suffix,
    e.g. .png): left, precision against recall at OKS 0.5, 0.75 and averaged over
    0.5:0.95 (all areas, 20 poses an image); right, a bar per keypoint, the share of
    its labelled instances within reach. Raises EvaluationError if matplotlib is
    missing or the file cannot be written."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise EvaluationError("--plot needs matplotlib: pip install 'posefast[eval]'") from None
    s = report.scores
    thresholds = list(np.round(s.oks_thresholds, 2))
    recall = s.recall_points
    with np.errstate(invalid="ignore"):
        curves = {
            f"OKS 0.50 (AP50 {s.summary['AP50']:.3f})": _curve(s.precision[thresholds.index(0.5)]),
            f"OKS 0.75 (AP75 {s.summary['AP75']:.3f})": _curve(s.precision[thresholds.index(0.75)]),
            f"OKS 0.50:0.95 (AP {s.summary['AP']:.3f})": np.nanmean(_curve(s.precision), axis=0)
            if not np.isnan(_curve(s.precision)).all() else np.full(len(recall), np.nan),
        }
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5), width_ratios=(1, 1.4))
    try:
        for label, curve in curves.items():
            left.plot(recall, curve, label=label)
        left.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
                 title="precision-recall, all areas")
        left.grid(alpha=0.3)
        left.legend(loc="lower left")
        names = list(report.keypoint_reach)
        shares = [report.keypoint_reach[n] or 0.0 for n in names]
        right.bar(range(len(names)), shares, color="tab:blue")
        right.set_xticks(range(len(names)), [n.replace("_", " ") for n in names],
                         rotation=60, ha="right")
        right.set(ylim=(0, 1), ylabel="share of labelled keypoints",
                  title=f"keypoints within reach (keypoint similarity >= {REACH})")
        right.grid(axis="y", alpha=0.3)
        figure.tight_layout()
        try:
            figure.savefig(os.fspath(path), dpi=100)
        except (OSError, ValueError) as exc:
            raise EvaluationError(f"--plot {os.fspath(path)}: "
                                  f"{getattr(exc, 'strerror', None) or exc}") from None
    finally:
        plt.close(figure)
