"""Drawing poses over an image so a person can look at the result."""
from __future__ import annotations

from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

from .pose import Pose
from .skeleton import KEYPOINT_NAMES

#: The bones drawn: the limbs, the torso and the face (keypoint id pairs). This is the
#: body's anatomy, not the decoder's tree (which joins the nose to the shoulders).
BONES: tuple[tuple[int, int], ...] = (
    (5, 7), (7, 9), (6, 8), (8, 10),          # arms
    (11, 13), (13, 15), (12, 14), (14, 16),   # legs
    (5, 6), (11, 12), (5, 11), (6, 12),       # torso
    (0, 1), (0, 2), (1, 3), (2, 4),           # face
)

#: RGB colours by side of the body (the person's left and right, not the viewer's).
LEFT_COLOUR = (0, 160, 255)
RIGHT_COLOUR = (255, 120, 0)
CENTRE_COLOUR = (240, 240, 240)


def side(keypoint: int) -> str:
    """"left", "right" or "centre" for a keypoint id."""
    name = KEYPOINT_NAMES[keypoint]
    return "left" if name.startswith("left_") else "right" if name.startswith("right_") else "centre"


def _colour(*keypoints: int) -> tuple[int, int, int]:
    sides = {side(k) for k in keypoints}
    if sides == {"left"}:
        return LEFT_COLOUR
    if sides == {"right"}:
        return RIGHT_COLOUR
    return CENTRE_COLOUR


def draw_poses(image: Image.Image, poses: Sequence[Pose], *, min_score: float = 0.3,
               radius: float | None = None, width: int | None = None,
               colours: Sequence[tuple[int, int, int] | None] | None = None,
               labels: Sequence[str | None] | None = None) -> Image.Image:
    """A copy of ``image`` (RGB) with the poses' keypoints and bones drawn over it.

    Keypoints scoring below ``min_score`` are hidden, and so is every bone touching
    one. Keypoint coordinates are pixels of ``image``. ``radius`` (dot size) and
    ``width`` (line width) default to a size that reads at the image's scale.
    ``colours`` (one RGB per pose, or None) draws a pose in one colour instead of by
    side of the body (a tracked person); ``labels`` (one per pose, or None) writes a
    text above the pose's head, in its colour.
    """
    out = image.convert("RGB")  # always a copy, even when already RGB
    if out is image:
        out = image.copy()
    scale = max(out.size) / 640.0
    radius = radius if radius is not None else max(2.0, 4.0 * scale)
    width = width if width is not None else max(1, round(3 * scale))
    draw = ImageDraw.Draw(out)
    for i, pose in enumerate(poses):
        kp = pose.keypoints
        visible = kp[:, 2] >= min_score
        own = colours[i] if colours is not None else None
        for a, b in BONES:
            if visible[a] and visible[b]:
                draw.line([(float(kp[a, 0]), float(kp[a, 1])), (float(kp[b, 0]), float(kp[b, 1]))],
                          fill=own or _colour(a, b), width=width)
        for k in range(len(kp)):
            if visible[k]:
                x, y = float(kp[k, 0]), float(kp[k, 1])
                draw.ellipse([x - radius, y - radius, x + radius, y + radius],
                             fill=own or _colour(k), outline=(0, 0, 0))
        if labels is not None and labels[i] and visible.any():
            _label(draw, kp, visible, labels[i], own or CENTRE_COLOUR, scale, radius)
    return out


def _label(draw: ImageDraw.ImageDraw, kp, visible, text: str, colour, scale: float,
           radius: float) -> None:
    # Above the head (the face keypoints), else above the highest visible keypoint.
    head = [k for k in range(5) if visible[k]] or [k for k in range(len(kp)) if visible[k]]
    x = sum(float(kp[k, 0]) for k in head) / len(head)
    y = min(float(kp[k, 1]) for k in head) - 2 * radius
    font = ImageFont.load_default(size=max(12, round(18 * scale)))
    draw.text((x, y), text, fill=colour, font=font, anchor="md",
              stroke_width=max(1, round(scale)), stroke_fill=(0, 0, 0))
