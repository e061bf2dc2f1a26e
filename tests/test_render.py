"""Drawing poses: the right size, drawn where the keypoints are, low scores hidden."""
from __future__ import annotations

import numpy as np
from PIL import Image

from posefast import Pose
from posefast.render import LEFT_COLOUR, RIGHT_COLOUR, draw_poses, side


def _pose(score_left_wrist=0.9):
    kp = np.zeros((17, 3), np.float32)
    kp[:, 0] = np.linspace(20, 180, 17)
    kp[:, 1] = np.linspace(20, 130, 17)
    kp[:, 2] = 0.9
    kp[9] = (190, 10, score_left_wrist)  # off the diagonal the others lie on
    return Pose(0.8, kp)


def test_draws_keypoints_coloured_by_side_and_keeps_the_input(tmp_path):
    image = Image.new("RGB", (200, 150), (0, 0, 0))
    out = draw_poses(image, [_pose()], radius=3, width=2)
    assert out.size == (200, 150) and out is not image
    assert np.asarray(image).max() == 0  # the input is not drawn on
    px = np.asarray(out)
    kp = _pose().keypoints
    assert tuple(px[round(kp[5, 1]), round(kp[5, 0])]) == LEFT_COLOUR   # left shoulder
    assert tuple(px[round(kp[6, 1]), round(kp[6, 0])]) == RIGHT_COLOUR  # right shoulder
    path = tmp_path / "out.png"
    out.save(path)
    assert Image.open(path).size == (200, 150)


def test_low_scores_are_hidden():
    image = Image.new("RGB", (200, 150))
    kp = _pose(score_left_wrist=0.1).keypoints
    px = np.asarray(draw_poses(image, [_pose(0.1)], min_score=0.3, radius=3, width=2))
    x, y = round(kp[9, 0]), round(kp[9, 1])
    assert px[y - 1:y + 2, x - 1:x + 2].max() == 0  # wrist hidden, and the forearm to it
    nothing = np.asarray(draw_poses(image, [_pose()], min_score=1.0))
    assert nothing.max() == 0


def test_sides():
    assert side(0) == "centre" and side(5) == "left" and side(16) == "right"
