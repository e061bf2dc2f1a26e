"""The Cython core against the plain NumPy reference (tests/reference.py), on random
tensors and on the real model's outputs for the shared images."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import posefast
from posefast import Quantized

import reference
from conftest import IMAGES, MODEL_481
from posenet_outputs import run_posenet

MULTI_ARGS = dict(max_detections=20, score_threshold=0.2, nms_radius=10.0, refine_steps=5)


def assert_same(poses, ref):
    assert len(poses) == len(ref), f"{len(poses)} poses, reference {len(ref)}"
    for pose, (score, kps) in zip(poses, ref):
        assert pose.score == pytest.approx(score, abs=1e-5)
        np.testing.assert_allclose(pose.keypoints[:, :2], kps[:, :2], rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(pose.keypoints[:, 2], kps[:, 2], atol=1e-5)


def random_outputs(rng, h, w, dtype=np.float32):
    # smooth-ish blobs of high logits so that poses pass the threshold
    hm = rng.normal(-3.0, 2.5, (h, w, 17))
    off = rng.normal(0.0, 12.0, (h, w, 34))
    mid = rng.normal(0.0, 30.0, (h, w, 64))
    return hm.astype(dtype), off.astype(dtype), mid.astype(dtype)


@pytest.mark.parametrize("seed", range(12))
def test_multi_matches_reference_on_random_tensors(seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 14, 2))
    hm, off, mid = random_outputs(rng, h, w)
    args = dict(max_detections=int(rng.integers(1, 15)),
                score_threshold=float(rng.uniform(0.05, 0.6)),
                nms_radius=float(rng.uniform(0.0, 40.0)), refine_steps=int(rng.integers(0, 4)))
    poses = posefast.decode_multiple_poses(hm, off, mid[..., :32], mid[..., 32:], 8, **args)
    assert_same(poses, reference.multiple_poses(hm, off, mid[..., :32], mid[..., 32:], 8, **args))


@pytest.mark.parametrize("seed", range(6))
def test_multi_matches_reference_on_quantized_tensors_with_ties(seed):
    # few distinct uint8 values: many equal logits, so tie-breaking is exercised
    rng = np.random.default_rng(100 + seed)
    h, w = 9, 11
    hm = Quantized(rng.integers(120, 136, (h, w, 17)).astype(np.uint8), 0.25, 128)
    off = Quantized(rng.integers(0, 256, (h, w, 34)).astype(np.uint8), 0.1, 128)
    mid = rng.integers(0, 256, (h, w, 64)).astype(np.uint8)
    fwd, bwd = Quantized(mid[..., :32], 0.7, 117), Quantized(mid[..., 32:], 0.7, 117)
    args = dict(max_detections=12, score_threshold=0.3, nms_radius=12.0, refine_steps=2)
    poses = posefast.decode_multiple_poses(hm, off, fwd, bwd, 16, **args)
    assert poses
    assert_same(poses, reference.multiple_poses(hm, off, fwd, bwd, 16, **args))


@pytest.mark.parametrize("seed", range(6))
def test_single_matches_reference_on_random_tensors(seed):
    rng = np.random.default_rng(200 + seed)
    h, w = (int(v) for v in rng.integers(1, 14, 2))
    hm, off, _ = random_outputs(rng, h, w)
    pose = posefast.decode_single_pose(hm, off, 16)
    assert_same([pose], [reference.single_pose(hm, off, 16)])


@pytest.mark.parametrize("image", ["couple.jpg", "standing.png", "kneeling.png", "no_person.jpg"])
def test_real_outputs_match_reference(shared_data, image):
    out = run_posenet(MODEL_481, IMAGES / image)
    hm, off, fwd, bwd = out["heatmaps"], out["offsets"], out["fwd"], out["bwd"]
    poses = posefast.decode_multiple_poses(hm, off, fwd, bwd, 16, **MULTI_ARGS)
    assert_same(poses, reference.multiple_poses(hm, off, fwd, bwd, 16, **MULTI_ARGS))
    assert_same([posefast.decode_single_pose(hm, off, 16)], [reference.single_pose(hm, off, 16)])


def test_real_couple_finds_the_two_people(shared_data):
    out = run_posenet(MODEL_481, IMAGES / "couple.jpg")
    poses = posefast.decode_multiple_poses(out["heatmaps"], out["offsets"], out["fwd"],
                                           out["bwd"], 16, **MULTI_ARGS)
    confident = [p for p in poses if p.score > 0.5]
    assert len(confident) == 2
    # two people side by side: their noses are apart horizontally, inside the 641x481 input
    noses = sorted(p.keypoints[0, 0] for p in confident)
    assert noses[1] - noses[0] > 30
    for p in poses:
        assert np.all((p.keypoints[:, 0] >= 0) & (p.keypoints[:, 0] <= 640))
        assert np.all((p.keypoints[:, 1] >= 0) & (p.keypoints[:, 1] <= 480))


def _quantized(rng, shape, dtype, lo, hi, scale, zp):
    return Quantized(rng.integers(lo, hi, shape).astype(dtype), scale, zp)


def _stored(t, how):
    """The same tensor (H, W, C) stored another way: each selects a different read loop
    of the core (dense HWC runs, padded rows, cells of more channels, dense CHW planes,
    padded CHW rows)."""
    arr = t.array if isinstance(t, Quantized) else t
    h, w, c = arr.shape
    if how == "hwc":
        out, layout = np.ascontiguousarray(arr), "hwc"
    elif how == "hwc-padded-rows":
        big = np.zeros((h, w + 3, c), arr.dtype)
        big[:, :w] = arr
        out, layout = big[:, :w], "hwc"
    elif how == "hwc-padded-cells":  # a view of the first c of more channels
        big = np.zeros((h, w, c + 3), arr.dtype)
        big[..., :c] = arr
        out, layout = big[..., :c], "hwc"
    elif how == "chw":
        out, layout = np.ascontiguousarray(arr.transpose(2, 0, 1)), "chw"
    else:  # chw-padded-rows
        big = np.zeros((c, h, w + 5), arr.dtype)
        big[:, :, :w] = arr.transpose(2, 0, 1)
        out, layout = big[:, :, :w], "chw"
    return (t._replace(array=out) if isinstance(t, Quantized) else out), layout


@pytest.mark.parametrize("how", ["hwc", "hwc-padded-rows", "hwc-padded-cells", "chw",
                                 "chw-padded-rows"])
@pytest.mark.parametrize("kind", ["uint8", "int8", "float16", "float32", "float64"])
def test_every_storage_and_dtype_matches_reference(kind, how):
    # a grid wider than one 32-key block per row and with rows and planes that end
    # mid-block, so that the vectorised scans' block edges and tails are crossed
    rng = np.random.default_rng(zlib.crc32(f"{kind}-{how}".encode()))
    h, w = 7, 45
    if kind == "uint8":
        hm = _quantized(rng, (h, w, 17), np.uint8, 100, 140, 0.25, 128)
        off = _quantized(rng, (h, w, 34), np.uint8, 0, 256, 0.1, 128)
        fwd, bwd = (_quantized(rng, (h, w, 32), np.uint8, 0, 256, 0.7, 117) for _ in range(2))
    elif kind == "int8":
        hm = _quantized(rng, (h, w, 17), np.int8, -28, 12, 0.25, 0)
        off = _quantized(rng, (h, w, 34), np.int8, -128, 128, 0.1, 0)
        fwd, bwd = (_quantized(rng, (h, w, 32), np.int8, -128, 128, 0.7, -11) for _ in range(2))
    else:
        hm, off, mid = random_outputs(rng, h, w, np.dtype(kind))
        fwd, bwd = mid[..., :32], mid[..., 32:]
    stored = [_stored(t, how) for t in (hm, off, fwd, bwd)]
    layout = stored[0][1]
    args = dict(max_detections=15, score_threshold=0.1, nms_radius=12.0, refine_steps=2)
    poses = posefast.decode_multiple_poses(*(s for s, _ in stored), 16, layout=layout, **args)
    assert poses
    assert_same(poses, reference.multiple_poses(hm, off, fwd, bwd, 16, **args))
    single = posefast.decode_single_pose(stored[0][0], stored[1][0], 16, layout=layout)
    assert_same([single], [reference.single_pose(hm, off, 16)])


@pytest.mark.parametrize("seed, radius", [(0, 0.0), (1, 5.0), (2, 16.0), (3, 40.0), (4, 16.0)])
def test_many_poses_match_reference(seed, radius):
    """Hundreds of poses (threshold 0): root NMS and rescoring go through the per-keypoint
    bucket index (near_index.pxd) once more than 16 poses are placed; every decision
    must be the one the reference makes comparing each pose with every earlier one.
    Quantised tensors put many keypoints on exactly the same positions (radius 0 then
    suppresses only exact duplicates) and at exactly the radius from each other."""
    rng = np.random.default_rng(seed)
    h, w = (9, 12) if radius < 10 else (16, 24)
    hm, off, mid = random_outputs(rng, h, w)
    q = lambda a, s: Quantized(np.clip(np.round(a / s) + 128, 0, 255).astype(np.uint8), s, 128)  # noqa: E731
    args = (q(hm, 0.5), q(off, 2.0), q(mid[..., :32], 4.0), q(mid[..., 32:], 4.0))
    if seed == 4:  # float64: positions off the quantisation lattice
        args = (hm.astype(np.float64), off.astype(np.float64), mid[..., :32].astype(np.float64),
                mid[..., 32:].astype(np.float64))
    kw = dict(max_detections=300, score_threshold=0.0, nms_radius=radius, refine_steps=2)
    poses = posefast.decode_multiple_poses(*args, 16, **kw)
    assert len(poses) > 40
    assert_same(poses, reference.multiple_poses(*args, 16, **kw))


@pytest.mark.parametrize("scale", [0.25, 1e307])
def test_uint8_roots_in_the_same_order_from_hwc_and_chw(shared_data, scale):
    """uint8 HWC heatmaps have their candidate roots put in order by a counting sort on
    the keys (candidates.sort_by_key_u8), every other storage by the heap: both must
    take the roots in the same sequence (logit descending, equal logits in scan order),
    so the same tensors give the same poses bit for bit, at a thousand poses with
    ties everywhere. With a scale whose logits overflow to inf, keys no longer order
    as the logits do and the HWC path too falls back to the heap."""
    outs = run_posenet(MODEL_481, IMAGES / "couple.jpg")
    hwc = [outs[k] for k in ("heatmaps", "offsets", "fwd", "bwd")]
    hwc[0] = Quantized(hwc[0].array, scale, hwc[0].zero_point)
    chw = [t._replace(array=np.ascontiguousarray(t.array[0].transpose(2, 0, 1))) for t in hwc]
    kw = dict(max_detections=1000, score_threshold=0.0, nms_radius=8.0)
    a = posefast.decode_multiple_poses(*hwc, 16, **kw)
    b = posefast.decode_multiple_poses(*chw, 16, layout="chw", **kw)
    assert len(a) > 300
    assert [p.score for p in a] == [p.score for p in b]
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.keypoints, q.keypoints)


def _frames(rng, n, h, w):
    return [random_outputs(rng, h, w) for _ in range(n)]


@pytest.mark.parametrize("strided", ["bwd", "fwd", "offsets", "heatmaps"])
def test_batch_tensors_of_different_frame_strides_match_the_reference(strided):
    """Each batch tensor is read with its own frame stride: here ``strided`` is every
    third frame of a batch three times as long (its frame stride tripled, nothing else), and
    every frame differs, so reading one tensor's frames with another's stride gives
    other poses than the reference's for every frame after the first."""
    rng = np.random.default_rng(zlib.crc32(strided.encode()))
    n, h, w = 4, 9, 13
    frames = _frames(rng, n, h, w)
    tensors = {"heatmaps": np.stack([f[0] for f in frames]),
               "offsets": np.stack([f[1] for f in frames]),
               "fwd": np.stack([f[2][..., :32] for f in frames]),
               "bwd": np.stack([f[2][..., 32:] for f in frames])}
    longer = rng.normal(0.0, 30.0, (3 * n,) + tensors[strided].shape[1:]).astype(np.float32)
    longer[::3] = tensors[strided]  # between its frames: what a wrong stride reads
    tensors[strided] = longer[::3]
    others = [tensors[k].strides[0] for k in tensors if k != strided]
    assert tensors[strided].strides[0] not in others
    args = dict(max_detections=10, score_threshold=0.05, nms_radius=10.0, refine_steps=2)
    got = posefast.decode_multiple_poses_batch(tensors["heatmaps"], tensors["offsets"],
                                               tensors["fwd"], tensors["bwd"], 16, **args)
    assert len(got) == n
    for i in range(n):
        frame = [tensors[k][i] for k in ("heatmaps", "offsets", "fwd", "bwd")]
        ref = reference.multiple_poses(*frame, 16, **args)
        assert ref, i
        assert_same(got[i], ref)
    single = posefast.decode_single_pose_batch(tensors["heatmaps"], tensors["offsets"], 16)
    for i in range(n):
        assert_same([single[i]], [reference.single_pose(tensors["heatmaps"][i],
                                                        tensors["offsets"][i], 16)])


@pytest.mark.parametrize("kind", ["uint8", "int8"])
@pytest.mark.parametrize("zero_points", [(117, 140), (140, 117), (0, 1)])
def test_displacements_sharing_a_scale_but_not_a_zero_point(kind, zero_points):
    """Forward and backward displacements are usually views of one tensor, and the
    core shares their value table when their quantisation is the same; with the same
    scale and another zero point each must be read with its own."""
    rng = np.random.default_rng(zlib.crc32(f"{kind}{zero_points}".encode()))
    h, w = 9, 11
    dtype, lo, hi, zp_hm = ((np.uint8, 0, 256, 128) if kind == "uint8"
                            else (np.int8, -128, 128, 0))
    zf, zb = zero_points if kind == "uint8" else (zero_points[0] - 60, zero_points[1] - 60)
    hm = _quantized(rng, (h, w, 17), dtype, zp_hm - 16, zp_hm + 12, 0.25, zp_hm)
    off = _quantized(rng, (h, w, 34), dtype, lo, hi, 0.1, zp_hm)
    mid = rng.integers(lo, hi, (h, w, 64)).astype(dtype)
    fwd, bwd = Quantized(mid[..., :32], 0.7, zf), Quantized(mid[..., 32:], 0.7, zb)
    args = dict(max_detections=12, score_threshold=0.1, nms_radius=12.0, refine_steps=2)
    poses = posefast.decode_multiple_poses(hm, off, fwd, bwd, 16, **args)
    ref = reference.multiple_poses(hm, off, fwd, bwd, 16, **args)
    assert len(ref) >= 3
    assert_same(poses, ref)
    batch = posefast.decode_multiple_poses_batch(
        *(t._replace(array=t.array[None]) for t in (hm, off, fwd, bwd)), 16, **args)
    assert_same(batch[0], ref)
