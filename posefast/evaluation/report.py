"""The scores as text: COCO's summary as a table, the per-image listing, and JSON."""
from __future__ import annotations

from typing import Any

from .breakdown import Breakdown

#: Each summary name's line in the table: what COCO's own summary prints.
_ROWS = {
    "AP": ("Average Precision", "0.50:0.95", "all"),
    "AP50": ("Average Precision", "0.50", "all"),
    "AP75": ("Average Precision", "0.75", "all"),
    "APm": ("Average Precision", "0.50:0.95", "medium"),
    "APl": ("Average Precision", "0.50:0.95", "large"),
    "AR": ("Average Recall", "0.50:0.95", "all"),
    "AR50": ("Average Recall", "0.50", "all"),
    "AR75": ("Average Recall", "0.75", "all"),
    "ARm": ("Average Recall", "0.50:0.95", "medium"),
    "ARl": ("Average Recall", "0.50:0.95", "large"),
}


def _value(v: float) -> str:
    return "   n/a" if v < 0 else f"{v:6.3f}"


def summary_table(report: Breakdown) -> str:
    """COCO's keypoint summary, one metric a line (n/a: no person of that size)."""
    s = report.scores
    people = sum(row.people for row in report.images)
    poses = sum(row.poses for row in report.images)
    lines = [f"{len(s.image_ids)} images, {people} people, {poses} poses "
             f"(OKS keypoint metric by {s.library}, up to 20 poses an image)",
             f"{'metric':6s}  {'':17s}  {'OKS':9s}  {'area':6s}  {'value':>6s}"]
    for name, value in s.summary.items():
        what, oks, area = _ROWS[name]
        lines.append(f"{name:6s}  {what:17s}  {oks:9s}  {area:6s}  {_value(value)}")
    return "\n".join(lines)


def per_image_table(report: Breakdown) -> str:
    """One line per image: its id, file name, people, poses, matched, mean OKS."""
    lines = [f"{'image_id':>12s}  {'people':>6s}  {'poses':>5s}  {'matched':>7s}  "
             f"{'mean OKS':>8s}  file_name"]
    for row in report.images:
        oks = "-" if row.mean_oks is None else f"{row.mean_oks:.3f}"
        lines.append(f"{row.image_id:12d}  {row.people:6d}  {row.poses:5d}  {row.matched:7d}  "
                     f"{oks:>8s}  {row.file_name or ''}")
    return "\n".join(lines)


def keypoint_table(report: Breakdown) -> str:
    """Each keypoint's share within OKS reach, of its labelled instances."""
    lines = [f"{'keypoint':15s}  {'labelled':>8s}  {'in reach':>8s}"]
    for name, share in report.keypoint_reach.items():
        value = "-" if share is None else f"{share:.3f}"
        lines.append(f"{name:15s}  {report.keypoint_labelled[name]:8d}  {value:>8s}")
    return "\n".join(lines)


def to_json(report: Breakdown, per_image: bool = False) -> dict[str, Any]:
    """The report for machines: ``summary`` (the 10 numbers, -1 where COCO has none),
    ``library``, ``images``, ``people``, ``poses``, ``keypoint_reach``, and with
    ``per_image`` the ``per_image`` rows."""
    s = report.scores
    out: dict[str, Any] = {
        "summary": dict(s.summary),
        "library": s.library,
        "results_format": report.results_format,
        "images": len(s.image_ids),
        "people": sum(row.people for row in report.images),
        "poses": sum(row.poses for row in report.images),
        "failed": list(report.failed),
        "keypoint_reach": dict(report.keypoint_reach),
    }
    if per_image:
        out["per_image"] = [row.to_dict() for row in report.images]
    return out
