"""Property test: whatever the tensors hold (NaN, inf, huge offsets, 1x1 grids, nothing
above threshold), the decoders return poses with finite coordinates inside the input,
or an empty list, and never crash. The properties run in a child process (tests/child.py),
so that a crash fails these tests rather than ending the run."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import posefast
from posefast import Quantized

from child import run_in_child

SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0, 5.0, -5.0])


@st.composite
def outputs(draw):
    h = draw(st.integers(1, 6))
    w = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64]))

    def tensor(c, scale):
        base = draw(hnp.arrays(np.float64, (h, w, c), elements=st.floats(-1, 1)))
        arr = base * scale
        mask = draw(hnp.arrays(np.bool_, (h, w, c)))
        specials = draw(hnp.arrays(np.float64, (h, w, c), elements=SPECIAL))
        with np.errstate(over="ignore"):
            return np.where(mask, specials, arr).astype(dtype)

    return h, w, tensor(17, 10.0), tensor(34, 1e4), tensor(32, 1e6), tensor(32, 50.0)


@st.composite
def quantized_outputs(draw):
    """Raw uint8/int8 tensors with any scale and zero point, in HWC or CHW storage."""
    h = draw(st.integers(1, 9))
    w = draw(st.integers(1, 9))
    dtype = draw(st.sampled_from([np.uint8, np.int8]))
    chw = draw(st.booleans())
    info = np.iinfo(dtype)

    def tensor(c):
        arr = draw(hnp.arrays(dtype, (h, w, c)))
        scale = draw(st.floats(1e-6, 1e4))
        zp = draw(st.integers(int(info.min), int(info.max)))
        if chw:
            arr = np.ascontiguousarray(arr.transpose(2, 0, 1))
        return Quantized(arr, scale, zp)

    return h, w, "chw" if chw else "hwc", tensor(17), tensor(34), tensor(32), tensor(32)


def assert_inside(pose, h, w, stride):
    kp = pose.keypoints
    assert np.all(np.isfinite(kp[:, :2]))
    assert np.all((kp[:, 0] >= 0) & (kp[:, 0] <= (w - 1) * stride))
    assert np.all((kp[:, 1] >= 0) & (kp[:, 1] <= (h - 1) * stride))


# (too_slow: generating the examples is slow under emulation, e.g. qemu for aarch64)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outputs(), st.floats(0.0, 1.0), st.floats(0.0, 100.0), st.integers(0, 3))
def check_decoders_stay_inside_the_input(data, threshold, radius, refine):
    h, w, hm, off, fwd, bwd = data
    stride = 8
    poses = posefast.decode_multiple_poses(hm, off, fwd, bwd, stride, 5, threshold, radius,
                                           refine)
    assert len(poses) <= 5
    for pose in poses:
        assert_inside(pose, h, w, stride)
        assert threshold <= pose.score <= 1.0
    single = posefast.decode_single_pose(hm, off, stride)
    assert_inside(single, h, w, stride)
    assert 0.0 <= single.score <= 1.0


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quantized_outputs(), st.floats(0.0, 1.0), st.floats(0.0, 100.0), st.integers(0, 3))
def check_quantized_decoders_stay_inside_the_input(data, threshold, radius, refine):
    h, w, layout, hm, off, fwd, bwd = data
    stride = 16
    poses = posefast.decode_multiple_poses(hm, off, fwd, bwd, stride, 5, threshold, radius,
                                           refine, layout=layout)
    assert len(poses) <= 5
    for pose in poses:
        assert_inside(pose, h, w, stride)
        assert threshold <= pose.score <= 1.0
    single = posefast.decode_single_pose(hm, off, stride, layout=layout)
    assert_inside(single, h, w, stride)
    assert 0.0 <= single.score <= 1.0


@pytest.mark.parametrize("check", ["check_decoders_stay_inside_the_input",
                                   "check_quantized_decoders_stay_inside_the_input"])
def test_property_in_a_child_process(check):
    run_in_child(f"import test_decode_robust as t; t.{check}()")
