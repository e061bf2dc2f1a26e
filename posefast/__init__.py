"""posefast: PoseNet pose decoding at C speed, with pluggable inference backends.

Coordinates are pixels, x before y, unless a docstring says otherwise.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backend import Availability, Backend, InputSpec, ModelOutputs
from .decode import (
    decode_multiple_poses,
    decode_multiple_poses_batch,
    decode_outputs,
    decode_single_pose,
    decode_single_pose_batch,
)
from .pose import Pose
from .quantized import Quantized
from .skeleton import KEYPOINT_NAMES, NUM_EDGES, NUM_KEYPOINTS, SKELETON
from .video import BoxTracker, OneEuroFilter, PoseSmoother, PoseTracker

if TYPE_CHECKING:
    from .estimator import PoseEstimator

__version__ = "0.1.0"

__all__ = [
    "KEYPOINT_NAMES", "SKELETON", "NUM_KEYPOINTS", "NUM_EDGES",
    "Pose", "Quantized",
    "decode_single_pose", "decode_multiple_poses", "decode_outputs",
    "decode_single_pose_batch", "decode_multiple_poses_batch",
    "Backend", "Availability", "InputSpec", "ModelOutputs",
    "PoseEstimator",
    "PoseTracker", "BoxTracker", "OneEuroFilter", "PoseSmoother",
]


def __getattr__(name: str) -> Any:
    # The estimator pulls in Pillow and the backend machinery; decoding alone should not.
    if name == "PoseEstimator":
        from .estimator import PoseEstimator

        return PoseEstimator
    raise AttributeError(f"module 'posefast' has no attribute {name!r}")
