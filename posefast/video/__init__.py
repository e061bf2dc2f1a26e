"""Video: tracking people across frames, smoothing their keypoints, boxes, and
drawing the annotated result.

Modules: ``boxes`` (boxes around keypoints, IoU), ``tracking`` (``PoseTracker``,
``BoxTracker``), ``smoothing`` (``OneEuroFilter``, ``PoseSmoother``), ``stream``
(tracking and smoothing over a record stream), ``annotate`` (PNG / MP4 output of the
records), ``writing`` (MP4 encoding through PyAV), ``timeline`` (a clock that only
moves forward over time stamps that restart or leap), ``clip`` (one video posed in
this process, for ``posefast predict``), ``live`` (live sources posed in this
process, newest frame first: ``PoseEstimator.stream``) and ``view`` (the live view:
a local web page showing live sources as they are posed; its page in ``view_page``).
Importing this package loads NumPy only.
"""
from __future__ import annotations

from .boxes import box_iou, keypoint_box
from .smoothing import OneEuroFilter, PoseSmoother
from .tracking import BoxTracker, PoseTracker, Track

__all__ = ["BoxTracker", "OneEuroFilter", "PoseSmoother", "PoseTracker", "Track",
           "box_iou", "keypoint_box"]
