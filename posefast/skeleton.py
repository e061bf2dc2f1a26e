"""The PoseNet keypoints and the skeleton tree its displacements follow."""
from __future__ import annotations

from typing import Final

#: The 17 keypoints in PoseNet's part-id order (the heatmap channel order).
KEYPOINT_NAMES: Final[tuple[str, ...]] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

#: The 16 (parent, child) edges in the order of the models' displacement channels.
#: Forward displacement channel i points from parent to child of edge i; backward
#: displacement channel i points from child back to parent.
SKELETON: Final[tuple[tuple[int, int], ...]] = (
    (0, 1), (1, 3), (0, 2), (2, 4),
    (0, 5), (5, 7), (7, 9), (5, 11), (11, 13), (13, 15),
    (0, 6), (6, 8), (8, 10), (6, 12), (12, 14), (14, 16),
)

NUM_KEYPOINTS: Final[int] = len(KEYPOINT_NAMES)
NUM_EDGES: Final[int] = len(SKELETON)
