"""Resizing to the network input and mapping keypoints back to original pixels."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from posefast import Pose
from posefast.backend import InputSpec
from posefast.preprocess import Transform, fit, normalise, to_input

SPEC = InputSpec(height=97, width=129, dtype=np.dtype(np.uint8))


def _dot_image(width, height, x, y):
    """A black image with a white 5x5 square centred on pixel (x, y)."""
    a = np.zeros((height, width, 3), np.uint8)
    a[y - 2:y + 3, x - 2:x + 3] = 255
    return Image.fromarray(a)


def _centroid(pixels):
    w = pixels[..., 0].astype(np.float64)
    ys, xs = np.indices(w.shape)
    return np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])


@pytest.mark.parametrize("mode", ["stretch", "letterbox"])
@pytest.mark.parametrize("size, dot", [((400, 300), (37, 251)), ((300, 700), (250, 60)),
                                       ((129, 97), (64, 48))])
def test_a_dot_maps_back_to_where_it_was(mode, size, dot):
    # Where the resize puts the dot in the network input, the transform must take it
    # back to the dot's original pixel: this checks scale, padding and the
    # pixel-centre convention together, independently of any model.
    image = _dot_image(*size, *dot)
    pixels, transform = to_input(image, *size, SPEC, mode)
    assert pixels.shape == (97, 129, 3) and pixels.dtype == np.uint8
    found = _centroid(pixels)
    back = transform.apply(found)
    # within a tenth of the scale factor: resampling spreads the dot a little
    tol = 0.1 * max(transform.scale_x, transform.scale_y) + 0.05
    np.testing.assert_allclose(back, dot, atol=tol)
    np.testing.assert_allclose(transform.inverse(back), found, atol=1e-9)


def test_letterbox_keeps_the_aspect_ratio_and_centres():
    f = fit(1920, 1080, 641, 481, "letterbox")
    assert (f.width, f.height) == (641, 361) and (f.left, f.top) == (0, 60)
    f = fit(480, 640, 641, 481, "letterbox")
    assert (f.width, f.height) == (361, 481) and (f.left, f.top) == (140, 0)
    assert fit(1920, 1080, 641, 481, "stretch") == fit(10, 10, 641, 481, "stretch")
    with pytest.raises(ValueError, match="resize must be one of"):
        fit(10, 10, 5, 5, "crop")


def test_letterbox_pads_with_black_and_keeps_the_image():
    image = Image.new("RGB", (200, 100), (200, 100, 50))
    pixels, t = to_input(image, 200, 100, SPEC, "letterbox")
    assert (pixels[:10] == 0).all() and (pixels[-10:] == 0).all()  # bands above and below
    assert (pixels[48, :, 0] == 200).all()


def test_pose_transform_agrees_with_apply():
    t = Transform(3.0, 2.5, pad_x=4, pad_y=7)
    kp = np.random.default_rng(0).uniform(0, 100, (17, 3)).astype(np.float32)
    moved = t.pose(Pose(0.5, kp))
    np.testing.assert_allclose(moved.keypoints[:, :2], t.apply(kp[:, :2]), rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(moved.keypoints[:, 2], kp[:, 2])


def test_normalise_follows_the_input_spec():
    p = np.array([[[0, 127, 255]]], np.uint8)
    assert normalise(p, SPEC) is p  # raw uint8 models: no copy
    f = normalise(p, InputSpec(1, 1, np.dtype(np.float32), 1 / 127.5, -1.0))
    np.testing.assert_allclose(f, [[[-1.0, 127 / 127.5 - 1, 1.0]]], atol=1e-6)
    assert f.dtype == np.float32
    i8 = normalise(p, InputSpec(1, 1, np.dtype(np.int8), 1.0, -128.0))
    np.testing.assert_array_equal(i8, [[[-128, -1, 127]]])
