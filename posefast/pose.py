"""The result type: one person's pose."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .skeleton import KEYPOINT_NAMES, NUM_KEYPOINTS


# slots: the decoders make a Pose for every person found, up to thousands per call, and a
# slotted object is made, set and freed with about half the instructions of one with a dict
@dataclass(frozen=True, eq=False, slots=True)
class Pose:
    """One detected person.

    Attributes:
        score: pose confidence in [0, 1].
        keypoints: float32 array of shape (17, 3); row k is keypoint k of
            ``KEYPOINT_NAMES`` and its columns are x, y (pixels; of the network
            input when returned by the decoders, of the original image when
            returned by ``PoseEstimator``) and the keypoint score in [0, 1].
        bbox: (a property) ``[x, y, width, height]`` in the keypoints' pixels around
            the keypoints scoring >= 0.3 (all of them if none does).
    """

    score: float
    keypoints: np.ndarray

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints, dtype=np.float32)
        if kp.shape != (NUM_KEYPOINTS, 3):
            raise ValueError(
                f"Pose.keypoints must have shape ({NUM_KEYPOINTS}, 3), got {kp.shape}"
            )
        object.__setattr__(self, "keypoints", kp)
        object.__setattr__(self, "score", float(self.score))

    def __reduce__(self) -> tuple[type, tuple[float, np.ndarray]]:
        # Python 3.10.0's slotted frozen dataclasses cannot be unpickled by default
        return (Pose, (self.score, self.keypoints))

    @property
    def bbox(self) -> list[float]:
        """The box ``[x, y, width, height]`` (pixels, x right, y down, (x, y) the top-left
        corner) around the keypoints scoring >= 0.3, or around all of them when none
        does: the ``bbox`` of this pose's record in ``posefast run``'s output. See
        ``posefast.video.boxes.keypoint_box``."""
        from .video.boxes import keypoint_box  # (posefast.video: not needed to decode)

        return keypoint_box(self.keypoints)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: ``{"score": s, "keypoints": [{"part", "x", "y", "score"}, ...]}``."""
        return {
            "score": self.score,
            "keypoints": [
                {"part": name, "x": float(x), "y": float(y), "score": float(s)}
                for name, (x, y, s) in zip(KEYPOINT_NAMES, self.keypoints.tolist())
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Pose":
        """Inverse of :meth:`to_dict`."""
        kps = data["keypoints"]
        arr = np.array([[k["x"], k["y"], k["score"]] for k in kps], dtype=np.float32)
        return cls(score=data["score"], keypoints=arr)

    def transformed(self, scale_x: float, scale_y: float,
                    shift_x: float = 0.0, shift_y: float = 0.0) -> "Pose":
        """A copy with x' = x * scale_x + shift_x and y' = y * scale_y + shift_y (pixels)."""
        kp = self.keypoints.copy()
        kp[:, 0] = kp[:, 0] * scale_x + shift_x
        kp[:, 1] = kp[:, 1] * scale_y + shift_y
        return Pose(self.score, kp)

    def __repr__(self) -> str:
        return f"Pose(score={self.score:.3f}, keypoints=<17x3 float32>)"
