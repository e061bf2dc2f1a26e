"""The two builds of the decoding kernels on x86-64: the baseline (posefast._core, SSE2)
and the AVX2 one (posefast._core_avx2), loaded by posefast.decode where the CPU has
AVX2. Both must give the same poses bit for bit, on real model outputs and on tensors
full of NaN, infinities and ties, in every layout and element type."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

import posefast
import posefast.decode
from posefast import Quantized, _core

from conftest import IMAGES, MODEL_481, MODELS
from posenet_outputs import dequantized, run_posenet


def _avx2_build():
    try:
        return importlib.import_module("posefast._core_avx2")
    except ImportError:
        return None


AVX2 = _avx2_build()
both_builds = pytest.mark.skipif(
    AVX2 is None or not _core.cpu_has_avx2(),
    reason="needs the AVX2 build of the kernels (x86-64, GCC or Clang) and a CPU with AVX2")


def test_the_kernels_in_use_are_the_best_build_this_cpu_runs():
    module = AVX2 if AVX2 is not None and _core.cpu_has_avx2() else _core
    assert posefast.decode.SIMD == module.SIMD
    assert posefast.decode_multiple_poses is module.decode_multiple_poses
    assert posefast.decode_single_pose_batch is module.decode_single_pose_batch
    assert _core.SIMD in ("sse2", "neon", "none")
    if AVX2 is not None:  # ("none": both built with -DPOSEFAST_NO_SIMD)
        assert AVX2.SIMD == ("avx2" if _core.SIMD == "sse2" else "none")


def test_posefast_simd_baseline_keeps_the_baseline_build():
    code = "import posefast.decode as d, posefast._core as c; print(d.SIMD, d.SIMD == c.SIMD)"
    env = dict(os.environ, POSEFAST_SIMD="baseline")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == [_core.SIMD, "True"]


def assert_same_bits(a, b, what):
    assert len(a) == len(b), what
    for p, q in zip(a, b):
        assert p.score == q.score, what
        assert np.array_equal(p.keypoints, q.keypoints), what


SETTINGS = [dict(max_detections=20, score_threshold=0.2, nms_radius=10.0),
            dict(max_detections=10, score_threshold=0.5, nms_radius=20.0),
            dict(max_detections=500, score_threshold=0.0, nms_radius=20.0),
            dict(max_detections=300, score_threshold=0.0, nms_radius=0.0, refine_steps=2)]


def layouts(tensors):
    """The same tensors as HWC, CHW and HWC views of wider arrays (strided)."""
    yield "hwc", tensors
    yield "chw", [np.ascontiguousarray(np.moveaxis(t, -1, 0)) for t in tensors]
    wide = [np.concatenate([t, t[..., :3]], axis=-1)[..., :t.shape[-1]] for t in tensors]
    yield "hwc", wide


def decode_both(tensors, layout, **args):
    a = _core.decode_multiple_poses(*tensors, 16, layout=layout, **args)
    b = AVX2.decode_multiple_poses(*tensors, 16, layout=layout, **args)
    return a, b


@both_builds
@pytest.mark.skipif(not MODELS.is_dir() or not IMAGES.is_dir(), reason="needs ../shared")
@pytest.mark.parametrize("image", ["couple.jpg", "standing_doorway.png", "no_person.jpg"])
def test_both_builds_agree_on_real_outputs(image):
    out = run_posenet(MODEL_481, IMAGES / image)
    quantized = [out[k] for k in ("heatmaps", "offsets", "fwd", "bwd")]
    for args in SETTINGS:
        assert_same_bits(*decode_both(quantized, "hwc", **args), (image, "uint8", args))
        floats = [np.ascontiguousarray(dequantized(t)[0]) for t in quantized]
        for dtype in (np.float32, np.float64, np.float16):
            for layout, tensors in layouts([t.astype(dtype) for t in floats]):
                assert_same_bits(*decode_both(tensors, layout, **args),
                                 (image, dtype.__name__, layout, args))
    hm, off = quantized[0], quantized[1]
    assert_same_bits([_core.decode_single_pose(hm, off, 16)],
                     [AVX2.decode_single_pose(hm, off, 16)], (image, "single"))


@both_builds
@pytest.mark.parametrize("seed", range(8))
def test_both_builds_agree_on_hostile_tensors(seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 40, 2))
    hm = rng.normal(-2.0, 3.0, (h, w, 17))
    off = rng.normal(0.0, 20.0, (h, w, 34))
    mid = rng.normal(0.0, 40.0, (h, w, 64))
    for t in (hm, off, mid):
        # NaN, infinities and huge values in a few percent of the keys
        bad = rng.random(t.shape) < 0.03
        t[bad] = rng.choice([np.nan, np.inf, -np.inf, 1e30, -1e30], bad.sum())
    hm[rng.random(hm.shape) < 0.2] = 1.5     # ties
    for args in SETTINGS:
        for dtype in (np.float32, np.float64, np.float16):
            with np.errstate(over="ignore"):
                tensors = [t.astype(dtype) for t in (hm, off, mid[..., :32], mid[..., 32:])]
            for layout, views in layouts(tensors):
                assert_same_bits(*decode_both(views, layout, **args),
                                 (seed, h, w, dtype.__name__, layout, args))
    q = [Quantized(rng.integers(0, 256, (h, w, c)).astype(np.uint8), 0.3, 128)
         for c in (17, 34, 32, 32)]
    for args in SETTINGS:
        assert_same_bits(*decode_both(q, "hwc", **args), (seed, "uint8", args))
