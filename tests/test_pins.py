"""Small exact tests that pin behaviours a single-character bug would change without the
broader tests noticing (each was planted in a copy of the code and went uncaught):
the local-maximum window at the borders, the NMS radius boundary, the reduced-scale JPEG
target of rotated photos, every EXIF orientation, and 16-bit grey images."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

import posefast
from posefast.reading.images import load_image

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES, MODEL_353
from test_cli import posefast as run_posefast

STRIDE = 16


def _decode(hm, **kw):
    h, w, _ = hm.shape
    zeros = np.zeros((h, w, 34), np.float32)
    disp = np.zeros((h, w, 32), np.float32)
    return posefast.decode_multiple_poses(hm, zeros, disp, disp, STRIDE,
                                          **{"max_detections": 50, "score_threshold": 0.01,
                                             "nms_radius": 0.0, **kw})


@pytest.mark.parametrize("shape", [(4, 5), (1, 3), (3, 1), (2, 2)])
def test_every_cells_local_maximum_window_holds_all_its_neighbours(shape):
    """A cell with a higher neighbour, wherever both are (corners and edges included), is
    not a root: exactly one pose, rooted at the neighbour."""
    h, w = shape
    checked = 0
    for y in range(h):
        for x in range(w):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if (dy, dx) == (0, 0) or not (0 <= ny < h and 0 <= nx < w):
                        continue
                    hm = np.full((h, w, 17), -10.0, np.float32)
                    hm[y, x, 0], hm[ny, nx, 0] = 5.0, 6.0
                    poses = _decode(hm)
                    where = [(p.keypoints[0, 1] / STRIDE, p.keypoints[0, 0] / STRIDE)
                             for p in poses]
                    assert where == [(ny, nx)], ((y, x), (ny, nx), where)
                    checked += 1
    assert checked > 0


def test_a_keypoint_exactly_at_the_nms_radius_is_suppressed():
    hm = np.full((3, 5, 17), -10.0, np.float32)
    hm[1, 0, 0], hm[1, 2, 0] = 6.0, 5.0  # two roots two cells (32 pixels) apart
    assert len(_decode(hm, nms_radius=32.0)) == 1       # at the radius: the same person
    assert len(_decode(hm, nms_radius=31.99)) == 2      # just inside it: two
    assert len(_decode(hm, nms_radius=0.0)) == 2


def _rotated_jpeg(tmp_path, orientation):
    stored = Image.open(IMAGES / "couple.jpg")  # 1920x1278 stored
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    stored.save(path, exif=exif, quality=90)
    return path


@pytest.mark.parametrize("orientation", [1, 6])
def test_the_reduced_scale_target_is_that_of_the_upright_photo(shared_data, tmp_path, orientation):
    path = _rotated_jpeg(tmp_path, orientation)
    upright = (1278, 1920) if orientation == 6 else (1920, 1278)
    # the target is (width, height) of the upright image; 1/2 scale still covers it
    target = (upright[0] // 2 - 1, upright[1] // 2 - 1)  # swapped, 1/2 would not cover it
    loaded = load_image(path, target_size=target)
    assert (loaded.width, loaded.height) == upright
    assert loaded.image.size == (upright[0] // 2, upright[1] // 2)  # 1/2, not full size
    assert loaded.image.size[0] >= target[0] and loaded.image.size[1] >= target[1]


# Each orientation, as the EXIF standard defines it, in plain NumPy on the stored pixels.
ORIENTED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", sorted(ORIENTED))
def test_every_exif_orientation_turns_the_pixels_exactly(tmp_path, orientation):
    rng = np.random.default_rng(orientation)
    stored = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)  # lossless PNG: exact pixels
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.png"
    Image.fromarray(stored).save(path, exif=exif)
    loaded = load_image(path)
    expected = ORIENTED[orientation](stored)
    assert (loaded.height, loaded.width) == expected.shape[:2]
    np.testing.assert_array_equal(np.asarray(loaded.image), expected)


def test_a_16_bit_grey_png_is_scaled_to_8_bits(pipeline, tmp_path):
    grey8 = np.asarray(Image.open(IMAGES / "standing.png").convert("L"))
    path = tmp_path / "grey16.png"
    Image.fromarray(grey8.astype(np.uint16) * 257).save(path)  # 0..65535, mode I;16
    assert Image.open(path).mode == "I;16"
    loaded = np.asarray(load_image(path).image)
    np.testing.assert_array_equal(loaded, np.repeat(grey8[:, :, None], 3, axis=2))
    buffer = io.BytesIO()
    Image.fromarray(grey8.astype(np.int32) * 257, "I").save(buffer, "TIFF")
    np.testing.assert_array_equal(np.asarray(load_image(Image.open(buffer)).image)[..., 0], grey8)
    r = run_posefast("predict", path, "--model", MODEL_353)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)[0]["poses"]) == 1  # the person, not a white image
