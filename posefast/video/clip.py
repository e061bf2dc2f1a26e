"""Posing one video in this process (``posefast predict``): every frame's record,
tracked and smoothed when asked, and optionally drawn to an MP4."""
from __future__ import annotations

from typing import Any, Callable

from .stream import SmoothingOptions, TrackingOptions, TrackingStage

Record = dict[str, Any]


def pose_video(estimator, path: str, *, tracking: TrackingOptions | None = None,
               smoothing: SmoothingOptions | None = None, render: str | None = None,
               min_score: float = 0.3, every: int = 1,
               on_error: Callable[[str], None] | None = None) -> list[Record]:
    """The records of every ``every``-th frame of ``path`` (a ``PoseEstimator`` runs
    them), in frame order; a video that cannot be read (or stops part-way) ends with
    an error record naming it. ``render``: the MP4 to draw the poses into."""
    from ..job.records import error_record, make_record
    from ..reading.video import VideoError, iter_frames
    from .annotate import Annotator

    records: list[Record] = []
    sink: Callable[[Record], None] = records.append
    annotator = None
    if render is not None:
        annotator = Annotator(lambda source, video: render, min_score=min_score,
                              on_error=on_error)

        def sink(record: Record, _append=records.append, _draw=annotator.write) -> None:
            _append(record)
            _draw(record)
    if tracking is not None or smoothing is not None:
        sink = TrackingStage(sink, tracking or TrackingOptions(), smoothing)
    try:
        for frame in iter_frames(path, every):
            poses = estimator.estimate(frame.pixels)
            h, w = frame.pixels.shape[:2]
            sink(make_record(path, frame.index, w, h, poses, time=frame.time))
    except VideoError as exc:
        records.append(error_record(path, None, str(exc)))
    finally:
        if annotator is not None:
            annotator.close()
    return records
