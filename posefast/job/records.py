"""The result record of one image or video frame, as ``predict`` and ``run`` write it.

One record is a plain JSON object::

    {"source": "photos/a.jpg", "frame": null, "time": null, "width": 640, "height": 480,
     "poses": [{"score": 0.71, "bbox": [280.2, 75.0, 90.4, 310.8],
                "keypoints": [{"part": "nose", "x": 312.5, "y": 80.1, "score": 0.93}, ...]},
               ...],
     "error": null}

``frame`` is the frame index in a video (0-based, counting every frame of the
file) or null for an image; ``time`` is the frame's presentation time in seconds
(null for an image); ``bbox`` is ``[x, y, width, height]`` around the pose's
keypoints scoring >= 0.3 (all of them if none does), pixels of the original
image; with tracking each pose also has ``track_id`` (null for images);
``width``/``height`` are the original image size in pixels (null when the input
could not be read) and keypoints are pixels of it;
``error`` is null unless the input failed, then it names the file and the reason
and ``poses`` is empty.
"""
from __future__ import annotations

from typing import Any, Sequence

from ..pose import Pose


def make_record(source: str, frame: int | None, width: int | None, height: int | None,
                poses: Sequence[Pose] = (), error: str | None = None,
                time: float | None = None) -> dict[str, Any]:
    """A record in the documented key order."""
    return {
        "source": source,
        "frame": frame,
        "time": time,
        "width": width,
        "height": height,
        "poses": [_pose_dict(p) for p in poses],
        "error": error,
    }


def _pose_dict(pose: Pose) -> dict[str, Any]:
    d = pose.to_dict()
    return {"score": d["score"], "bbox": pose.bbox, "keypoints": d["keypoints"]}


def error_record(source: str, frame: int | None, reason: str) -> dict[str, Any]:
    """The record of an input that failed: no size, no poses, and why."""
    return make_record(source, frame, None, None, (), reason)


def failure_reason(exc: BaseException) -> str:
    """Why an input failed, from the exception its loading or inference raised."""
    from ..reading.images import ImageLoadError

    if isinstance(exc, ImageLoadError):  # names the file and says why already
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def failed_record(source: str, frame: int | None, reason: str) -> dict[str, Any]:
    """:func:`error_record` with ``reason`` led by the input's name (file, and frame
    of a video) unless it names the file already: every error names its input."""
    if not reason.startswith(source):
        name = source if frame is None else f"{source} frame {frame}"
        reason = f"{name}: {reason}"
    return error_record(source, frame, reason)


def record_key(record: dict[str, Any]) -> tuple[str, int | None]:
    """What identifies a record's input: (source, frame)."""
    return record["source"], record["frame"]
