"""Test videos made from the shared photographs with PyAV, with their ground truth.

Each maker writes an MP4 whose frames are computed from a still photograph (a
moving crop, a pasted person moving over a background), and returns for every
frame written its time and where each person is (pixels of the frame), so that
tests can check tracks against known truth. Written with PyAV directly, not with
posefast's own writer, so the reading side is tested against an independent file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TIME_BASE = Fraction(1, 1000)


@pytest.fixture(scope="module")
def estimator(shared_data):
    """The 353x481 model on the CPU, for tests that pose video frames."""
    pytest.importorskip("av")
    from posefast import PoseEstimator

    with PoseEstimator(model=str(shared_data / "models" /
                                 "posenet_mobilenet_v1_075_353_481_quant.tflite")) as est:
        yield est


@dataclass
class Clip:
    """A written video: its path, and per written frame its time (s) and the centre
    (x, y) of each person in it (pixels of the frame; None where out of view)."""

    path: Path
    times: list[float] = field(default_factory=list)
    centres: list[list[tuple[float, float] | None]] = field(default_factory=list)


def write_video(path: Path, frames, times, fps: float = 25.0) -> None:
    """Write (H, W, 3) uint8 frames shown at ``times`` (seconds) as H.264 MP4."""
    import av

    frames = list(frames)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = TIME_BASE
        stream.time_base = TIME_BASE
        stream.options = {"crf": "18"}
        for px, t in zip(frames, times):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(px), format="rgb24")
            frame.pts, frame.time_base = round(t / TIME_BASE), TIME_BASE
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def pan_zoom(images: Path, path: Path, n: int = 40, fps: float = 25.0,
             drop: set[int] = frozenset(), size=(640, 426)) -> Clip:
    """A camera panning right and zooming in over couple.jpg (1920x1278): a crop
    window from 0.8 to 0.6 of the photo's width, its left edge moving from 0 to the
    right end, resized to ``size``. Frames in ``drop`` are left out (their time is
    skipped). The centres are those of the two people's boxes in the photo, mapped."""
    photo = Image.open(images / "couple.jpg").convert("RGB")
    pw, ph = photo.size
    people = _people_in_couple()
    clip = Clip(path)
    frames = []
    for i in range(n):
        if i in drop:
            continue
        u = i / max(1, n - 1)
        cw = pw * (0.8 - 0.2 * u)
        ch = cw * size[1] / size[0]
        x0 = (pw - cw) * u
        y0 = (ph - ch) * 0.5
        crop = photo.resize(size, Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
        frames.append(np.asarray(crop))
        sx, sy = size[0] / cw, size[1] / ch
        cs = []
        for cx, cy in people:
            fx, fy = (cx - x0) * sx, (cy - y0) * sy
            cs.append((fx, fy) if 0 <= fx < size[0] else None)
        clip.times.append(i / fps)
        clip.centres.append(cs)
    write_video(path, frames, clip.times, fps)
    return clip


def _people_in_couple() -> list[tuple[float, float]]:
    # Centres of the two people in couple.jpg (pixels of the 1920x1278 photo), from
    # the boxes the 721x1281 model finds there (left person first).
    return [(764.0, 678.0), (1117.0, 688.0)]


def person_crop(images: Path, name: str, box: tuple[int, int, int, int]) -> Image.Image:
    """A crop of one of the 640x480 photos around its person (box: left, top, right, bottom)."""
    return Image.open(images / name).convert("RGB").crop(box)


def crossing(images: Path, path: Path, people, n: int = 50, fps: float = 25.0,
             size=(960, 480), drop: set[int] = frozenset(),
             times: list[float] | None = None) -> Clip:
    """People pasted over no_person.jpg moving along straight lines.

    ``people``: (crop image, (x0, y0) start, (x1, y1) end[, hidden frames]) of the
    crop's top-left corner, frame pixels; later entries are drawn over earlier ones;
    a person is not drawn in its hidden frames, and its centre is None there and
    where a third of its crop is covered by a later person's. ``times`` gives
    the frames' times (default i / fps); frames in ``drop`` are left out.
    """
    background = Image.open(images / "no_person.jpg").convert("RGB").resize(size)
    clip = Clip(path)
    frames = []
    for i in range(n):
        if i in drop:
            continue
        u = i / max(1, n - 1)
        canvas = background.copy()
        cs: list[tuple[float, float] | None] = []
        rects: list[tuple[float, float, float, float] | None] = []
        for crop, (ax, ay), (bx, by), *hidden in people:
            if hidden and i in hidden[0]:
                cs.append(None)
                rects.append(None)
                continue
            x, y = ax + (bx - ax) * u, ay + (by - ay) * u
            canvas.paste(crop, (round(x), round(y)))
            cx, cy = x + crop.width / 2, y + crop.height / 2
            cs.append((cx, cy) if 0 <= cx < size[0] else None)
            rects.append((x, y, x + crop.width, y + crop.height))
        for k, r in enumerate(rects):  # a person a third covered by later ones: hidden
            if r is None:
                continue
            area = (r[2] - r[0]) * (r[3] - r[1])
            for q in rects[k + 1:]:
                if q is not None:
                    w = min(r[2], q[2]) - max(r[0], q[0])
                    h = min(r[3], q[3]) - max(r[1], q[1])
                    if w > 0 and h > 0 and w * h > area / 3:
                        cs[k] = None
        frames.append(np.asarray(canvas))
        clip.times.append(times[i] if times is not None else i / fps)
        clip.centres.append(cs)
    write_video(path, frames, clip.times, fps)
    return clip


def without_keyframes(source: Path, path: Path) -> Path:
    """``source``'s packets copied to ``path`` without its keyframes: what a clip cut
    after its first keyframe looks like, every frame referring to a picture that is
    not there. Written with PyAV (remuxed, not encoded again)."""
    import av

    with av.open(str(source)) as inp, av.open(str(path), "w") as out:
        ist = inp.streams.video[0]
        ost = out.add_stream_from_template(ist)
        for packet in inp.demux(ist):
            if packet.dts is None or packet.is_keyframe:
                continue
            packet.stream = ost
            out.mux(packet)
    return path
