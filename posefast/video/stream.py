"""Tracking and smoothing applied to a stream of records, in input order.

The runner emits records in input order whatever the number of workers, so the
frames of one video arrive here one after the other, in frame order: tracking runs
in the main process on that stream and does not depend on how the work was shared
out. A video starts when the source changes (or its frame index goes back: the same
file listed twice); each gets fresh tracker state. Ids restart from 1 per video.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

import numpy as np

from ..skeleton import KEYPOINT_NAMES
from .boxes import keypoint_boxes
from .smoothing import (DEFAULT_BETA, DEFAULT_D_CUTOFF, DEFAULT_MIN_CUTOFF, PoseSmoother)
from .timeline import Timeline
from .tracking import BoxTracker, PoseTracker

Record = dict[str, Any]

#: The frame rate assumed for a frame without a time (a container without timestamps).
FALLBACK_FPS = 30.0


@dataclass(frozen=True)
class TrackingOptions:
    """``tracker``: "oks" (:class:`PoseTracker`) or "iou" (:class:`BoxTracker`);
    ``max_age`` in seconds; ``min_similarity`` in [0, 1]; ``max_tracks``."""

    tracker: Literal["oks", "iou"] = "oks"
    max_age: float = 1.0
    min_similarity: float = 0.15
    max_tracks: int = 18

    def make(self) -> PoseTracker | BoxTracker:
        cls = {"oks": PoseTracker, "iou": BoxTracker}.get(self.tracker)
        if cls is None:
            raise ValueError(f"tracker must be 'oks' or 'iou', got {self.tracker!r}")
        return cls(max_age=self.max_age, min_similarity=self.min_similarity,
                   max_tracks=self.max_tracks)


@dataclass(frozen=True)
class SmoothingOptions:
    """One Euro filter parameters (see :mod:`posefast.video.smoothing`)."""

    min_cutoff: float = DEFAULT_MIN_CUTOFF
    beta: float = DEFAULT_BETA
    d_cutoff: float = DEFAULT_D_CUTOFF


class TrackingStage:
    """Adds ``track_id`` to every pose of every video frame record (``None`` for
    images), smooths the keypoints when ``smoothing`` is given (recomputing the
    pose's ``bbox``), and hands each record on to ``sink``, in the order received.

    Records with an error pass unchanged and do not advance the tracker (a frame
    that failed is like a frame dropped).
    """

    def __init__(self, sink: Callable[[Record], None], tracking: TrackingOptions,
                 smoothing: SmoothingOptions | None = None) -> None:
        self.sink = sink
        self.tracking = tracking
        self.smoothing = smoothing
        self._tracker = tracking.make()  # validates the options up front
        self._smoother = (PoseSmoother(smoothing.min_cutoff, smoothing.beta, smoothing.d_cutoff)
                          if smoothing else None)
        self._source: str | None = None
        self._frame = -1
        self._timeline = Timeline(1 / FALLBACK_FPS)

    def __call__(self, record: Record) -> None:
        self.sink(self.apply(record))

    def apply(self, record: Record) -> Record:
        """The record with tracking (and smoothing) applied; updates the state."""
        if record.get("error") is not None:
            return record
        frame = record.get("frame")
        if frame is None:  # an image: nothing to track it with
            for pose in record["poses"]:
                pose["track_id"] = None
            return record
        if record["source"] != self._source or frame <= self._frame:
            self._tracker = self.tracking.make()
            if self._smoother is not None:
                self._smoother.reset()
            self._timeline = Timeline(1 / FALLBACK_FPS)
        self._source, self._frame = record["source"], frame
        t = record.get("time")
        if t is None:
            t = frame / FALLBACK_FPS
        # Time stamps that go back or leap (joined segments, a damaged file) start a
        # new segment: the tracks go on over one frame interval, the filters afresh.
        t, new_segment = self._timeline(t)
        if new_segment and self._smoother is not None:
            self._smoother.reset()
        poses = record["poses"]
        kps = poses_array(poses)
        ids = self._tracker.update(kps, t, scores=[p["score"] for p in poses])
        if self._smoother is not None and poses:
            alive = self._tracker.active_ids()
            self._smoother.end_tracks(alive)
            smoothed = kps.copy()
            go = [n for n, tid in enumerate(ids) if tid in alive]  # not cut by max_tracks
            boxes = self._tracker.last_boxes
            smoothed[go] = self._smoother.smooth_frame(
                [ids[n] for n in go], kps[go], t,
                [max(boxes[n][2], boxes[n][3], 1.0) for n in go])
            for pose, kp, box in zip(poses, smoothed[:, :, :2].tolist(),
                                     keypoint_boxes(smoothed).tolist()):
                for k, (x, y) in zip(pose["keypoints"], kp):
                    k["x"], k["y"] = x, y
                pose["bbox"] = box
        for pose, tid in zip(poses, ids):
            pose["track_id"] = tid
        return record


def pose_array(pose: dict[str, Any]) -> np.ndarray:
    """A record's pose as a (17, 3) array of x, y (pixels) and score."""
    return poses_array([pose])[0]


def poses_array(poses: list[dict[str, Any]]) -> np.ndarray:
    """A record's poses as an (N, 17, 3) array of x, y (pixels) and score."""
    for pose in poses:
        if len(pose["keypoints"]) != len(KEYPOINT_NAMES):
            raise ValueError(f"a pose has {len(pose['keypoints'])} keypoints, "
                             f"expected {len(KEYPOINT_NAMES)}")
    return np.array([[(k["x"], k["y"], k["score"]) for k in p["keypoints"]] for p in poses],
                    dtype=np.float64).reshape(len(poses), len(KEYPOINT_NAMES), 3)
