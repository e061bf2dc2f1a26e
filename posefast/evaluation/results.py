"""The poses to score: a posefast output in any of its formats, as COCO keypoint
results matched to the annotations' images.

- JSON Lines (``posefast run``'s default): one record per image or frame (the header
  line that older versions wrote first is skipped);
- Parquet (``--format parquet``): one file, or a folder of files (``--engine ray``);
- COCO results (``--format coco``): a JSON array of ``{"image_id", "keypoints",
  "score", ...}``.

The format is told from the content (a folder or a file starting ``PAR1`` is
Parquet, a JSON array is COCO results, anything else JSON Lines), not the name.
Records are matched to images by file name (the source's last path component, as
``posefast run --coco-annotations`` matches them), COCO results by ``image_id``.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..skeleton import NUM_KEYPOINTS
from .annotations import Annotations, EvaluationError, read_json

FORMATS = ("jsonl", "parquet", "coco")


@dataclass
class Results:
    """What a results file holds, in the annotations' terms.

    ``detections``: COCO keypoint results (``image_id``, ``category_id``,
    ``keypoints`` ``[x, y, score] * 17`` in pixels of the original image, ``score``,
    and ``bbox`` ``[x, y, width, height]`` where the pose has one);
    ``image_ids``: the images the file says were posed (JSON Lines and Parquet hold
    a record for an image with no person too), None for COCO results, which hold
    only images with a pose; ``failed``: sources whose record is an error.
    """

    path: str
    format: str
    detections: list[dict[str, Any]]
    image_ids: list[int] | None
    failed: list[str] = field(default_factory=list)


def detect_format(path: str) -> str:
    """"parquet", "coco" or "jsonl", from what ``path`` holds."""
    if os.path.isdir(path):
        return "parquet"
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise EvaluationError(f"results {path}: {exc.strerror or exc}") from None
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.lstrip(b" \t\r\n\xef\xbb\xbf").startswith(b"["):
        return "coco"
    return "jsonl"


def load_results(path: str | os.PathLike, annotations: Annotations,
                 fmt: str | None = None) -> Results:
    """Read ``path`` (format ``fmt``, or told from its content) and match it to
    ``annotations``. Raises EvaluationError for an unreadable or malformed file, an
    empty one, a video's frames, or an image the annotations do not have."""
    path = os.fspath(path)
    fmt = fmt or detect_format(path)
    if fmt == "coco":
        return _coco(path, annotations)
    records = _parquet_records(path) if fmt == "parquet" else _jsonl_records(path)
    return _from_records(path, fmt, records, annotations)


def _jsonl_records(path: str) -> list[dict[str, Any]]:
    from ..job.output import is_header

    records = []
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    except OSError as exc:
        raise EvaluationError(f"results {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            raise EvaluationError(f"results {path} line {number} is not JSON: expected a "
                                  f"posefast output (JSON Lines, Parquet or COCO results)"
                                  ) from None
        if number == 1 and is_header(obj):
            continue
        records.append((number, obj))
    return [_checked_record(obj, f"results {path} line {number}") for number, obj in records]


def _parquet_records(path: str) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq

        from ..job.parquet import table_to_records
    except ImportError:
        raise EvaluationError(f"results {path} is Parquet, which needs pyarrow: "
                              f"pip install 'posefast[parquet]'") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow's errors: ArrowInvalid, OSError, ...
        raise EvaluationError(f"results {path}: not a readable Parquet file or folder "
                              f"({exc})") from None
    missing = {"source", "frame", "poses", "error"} - set(table.column_names)
    if missing:
        raise EvaluationError(f"results {path}: not a posefast Parquet output (no column "
                              f"{', '.join(sorted(missing))})")
    try:
        rows = table_to_records(table)
    except (KeyError, TypeError) as exc:
        raise EvaluationError(f"results {path}: not a posefast Parquet output ({exc})") from None
    return [_checked_record(row, f"results {path} row {n}") for n, row in enumerate(rows)]


def _checked_record(obj: Any, at: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or not isinstance(obj.get("source"), str):
        raise EvaluationError(f"{at} is not a posefast record (no \"source\")")
    if obj.get("frame") is not None:
        raise EvaluationError(f"{at} is frame {obj['frame']} of the video {obj['source']}; "
                              f"COCO keypoint annotations are of images")
    poses = obj.get("poses") or []
    if not isinstance(poses, list):
        raise EvaluationError(f"{at}: \"poses\" is not a list")
    for pose in poses:
        kps = pose.get("keypoints") if isinstance(pose, dict) else None
        ok = (isinstance(kps, list) and len(kps) == NUM_KEYPOINTS
              and all(isinstance(k, dict) and _finite(k.get("x"), k.get("y"), k.get("score"))
                      for k in kps)
              and _finite(pose.get("score")))
        if not ok:
            raise EvaluationError(f"{at}: a pose without a score and {NUM_KEYPOINTS} keypoints "
                                  f"of finite x, y and score")
    return obj


def _finite(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in values)


def _from_records(path: str, fmt: str, records: list[dict[str, Any]],
                  annotations: Annotations) -> Results:
    if not records:
        raise EvaluationError(f"results {path} holds no records: nothing to score")
    detections = []
    image_ids: dict[int, None] = {}
    failed = []
    unknown = []
    sources: dict[int, str] = {}
    for record in records:
        name = os.path.basename(record["source"])
        image_id = annotations.ids_by_name.get(name)
        if image_id is None:
            unknown.append(record["source"])
            continue
        if sources.setdefault(image_id, record["source"]) != record["source"]:
            # two files of one name, or one file posed twice: its poses would count twice
            raise EvaluationError(
                f"results {path}: {sources[image_id]} and {record['source']} are both image "
                f"{name!r} of the annotations; score one output per set of images")
        image_ids[image_id] = None
        if record.get("error"):
            failed.append(record["source"])
        for pose in record.get("poses") or []:
            kps: list[float] = []
            for k in pose["keypoints"]:
                kps += [k["x"], k["y"], k["score"]]
            detections.append(_detection(image_id, annotations.category_id, kps,
                                         pose["score"], pose.get("bbox")))
    _refuse_unknown(path, unknown, len(records), annotations, "file name")
    return Results(path, fmt, detections, list(image_ids), failed)


def _detection(image_id: int, category_id: int, keypoints: list[float], score: float,
               bbox: Any) -> dict[str, Any]:
    """A COCO keypoint result; with the pose's ``bbox`` where it has a valid one, as
    COCO's tools read it from a results file: its area, not the keypoints' extent,
    is the pose's for the area ranges (see ``metric``)."""
    detection = {"image_id": image_id, "category_id": category_id, "keypoints": keypoints,
                 "score": score}
    if isinstance(bbox, list) and len(bbox) == 4 and _finite(*bbox) and min(bbox[2:]) >= 0:
        detection["bbox"] = list(bbox)
    return detection


def _refuse_unknown(path: str, unknown: list, total: int, annotations: Annotations,
                    by: str) -> None:
    if not unknown:
        return
    some = ("none of its images is" if len(unknown) == total
            else f"{len(unknown)} of its {total} entries are not")
    raise EvaluationError(
        f"results {path}: {some} in {annotations.option} {annotations.path} "
        f"(matched by {by}; the first missing: {unknown[0]}): score the images the "
        f"annotations label, with the annotation file they come from")


def _coco(path: str, annotations: Annotations) -> Results:
    data = read_json(path, "results")
    if not isinstance(data, list):
        raise EvaluationError(f"results {path}: expected COCO keypoint results, a JSON array")
    if not data:
        raise EvaluationError(f"results {path} holds no poses: nothing to score")
    known = set(annotations.image_ids)
    detections = []
    unknown = []
    for n, entry in enumerate(data):
        at = f"results {path}: entry {n}"
        if not isinstance(entry, dict) or isinstance(entry.get("image_id"), bool) \
                or not isinstance(entry.get("image_id"), int):
            raise EvaluationError(f"{at} has no integer \"image_id\"")
        kps = entry.get("keypoints")
        if not (isinstance(kps, list) and len(kps) == 3 * NUM_KEYPOINTS and _finite(*kps)):
            raise EvaluationError(f"{at}: \"keypoints\" is not {3 * NUM_KEYPOINTS} finite "
                                  f"numbers ([x, y, score] * {NUM_KEYPOINTS})")
        if not _finite(entry.get("score")):
            raise EvaluationError(f"{at} has no finite \"score\"")
        if entry["image_id"] not in known:
            unknown.append(entry["image_id"])
            continue
        detections.append(_detection(entry["image_id"], annotations.category_id, list(kps),
                                     entry["score"], entry.get("bbox")))
    _refuse_unknown(path, [f"image_id {i}" for i in unknown], len(data), annotations,
                    "image_id")
    return Results(path, "coco", detections, None)


def ids_of_sources(sources: Iterable[str], annotations: Annotations) -> list[int]:
    """The image ids of image files (by file name), for scoring a job's own inputs."""
    return [annotations.ids_by_name[os.path.basename(s)] for s in sources
            if os.path.basename(s) in annotations.ids_by_name]
