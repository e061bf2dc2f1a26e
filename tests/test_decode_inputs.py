"""Known answers from synthetic heatmaps, every input dtype and layout, batches, threads,
and bad arguments."""
from __future__ import annotations

import math
import pickle
import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import posefast
from posefast import ModelOutputs, Pose, Quantized
from posefast.decode import decode_multiple_poses_batch, decode_outputs, decode_single_pose_batch

STRIDE = 16
H, W = 20, 24
# two people: keypoint cells (y, x) of a small upright figure, nose at the top
FIGURE = np.array([(2, 4), (1, 3), (1, 5), (1, 2), (1, 6), (4, 2), (4, 6), (6, 1), (6, 7),
                   (8, 1), (8, 7), (9, 3), (9, 5), (12, 3), (12, 5), (15, 3), (15, 5)])
PEOPLE = [(FIGURE + (1, 1), 4.0), (FIGURE + (2, 13), 2.0)]  # (cells, logit of every keypoint)


def synthetic(people=PEOPLE):
    """HWC float32 tensors holding the given people exactly: peaks at their cells, zero
    short offsets, and displacements that point exactly along each person's edges inside
    the columns that person occupies."""
    hm = np.full((H, W, 17), -8.0, np.float32)
    off = np.zeros((H, W, 34), np.float32)
    fwd = np.zeros((H, W, 32), np.float32)
    bwd = np.zeros((H, W, 32), np.float32)
    for cells, logit in people:
        x0, x1 = cells[:, 1].min() - 1, cells[:, 1].max() + 2
        for k, (y, x) in enumerate(cells):
            hm[y, x, k] = logit
        for e, (p, c) in enumerate(posefast.SKELETON):
            d = (cells[c] - cells[p]) * STRIDE
            fwd[:, x0:x1, e], fwd[:, x0:x1, 16 + e] = d
            bwd[:, x0:x1, e], bwd[:, x0:x1, 16 + e] = -d
    return hm, off, fwd, bwd


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def expected_keypoints(cells, logit):
    return np.column_stack([cells[:, 1] * STRIDE, cells[:, 0] * STRIDE,
                            np.full(17, sigmoid(logit))]).astype(np.float32)


def test_synthetic_people_are_found_exactly():
    poses = posefast.decode_multiple_poses(*synthetic(), STRIDE, max_detections=5,
                                           score_threshold=0.5, nms_radius=20.0)
    assert len(poses) == 2
    for pose, (cells, logit) in zip(poses, PEOPLE):  # the higher logit comes first
        assert pose.score == pytest.approx(sigmoid(logit), abs=1e-6)
        np.testing.assert_allclose(pose.keypoints, expected_keypoints(cells, logit), atol=1e-4)


@pytest.mark.parametrize("logit", [-7.5, -3.0, -0.1, 0.0, 1e-9, 0.1, 1.0, 4.0, 15.0, 36.0,
                                   700.0, 1e30, np.inf])
def test_scores_are_sigmoids_to_float_rounding(logit):
    # every keypoint of the synthetic person at this logit: the pose score is exactly the
    # mean of 17 equal sigmoids
    hm, off, fwd, bwd = synthetic(people=[(PEOPLE[0][0], logit)])
    v = float(np.float32(logit))
    want = 1.0 / (1.0 + math.exp(-v)) if v < 700 else 1.0
    multi = posefast.decode_multiple_poses(hm, off, fwd, bwd, STRIDE, max_detections=1,
                                           score_threshold=0.0)
    single = posefast.decode_single_pose(hm, off, STRIDE)
    assert multi[0].score == pytest.approx(want, rel=1e-15, abs=0)
    assert single.score == pytest.approx(want, rel=1e-15, abs=0)
    np.testing.assert_array_equal(multi[0].keypoints[:, 2], np.float32(want))


NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("layout", ["hwc", "chw"])
def test_a_nan_neighbour_neither_suppresses_a_root_nor_hides_a_larger_one(dtype, layout):
    # keypoint 0 at the centre of a 3x3 grid has a NaN neighbour and a larger one: the
    # larger one is the only root, wherever the two are (but not where the NaN is in the
    # bilinear footprint of the root's own sample, which makes that logit NaN, as in the
    # reference: 0 * NaN)
    # (big_at None: no larger neighbour, the centre is the root)
    for nan_at in NEIGHBOURS:
        for big_at in NEIGHBOURS + [None]:
            root = (0, 0) if big_at is None else big_at
            if nan_at in (root, (root[0], root[1] + 1), (root[0] + 1, root[1]),
                          (root[0] + 1, root[1] + 1)):
                continue
            hm = np.full((3, 3, 17), -10.0)
            hm[1, 1, 0] = 1.0
            hm[1 + nan_at[0], 1 + nan_at[1], 0] = np.nan
            if big_at is not None:
                hm[1 + big_at[0], 1 + big_at[1], 0] = 2.0
            tensors = [hm, np.zeros((3, 3, 34)), np.zeros((3, 3, 32)), np.zeros((3, 3, 32))]
            if layout == "chw":
                tensors = [t.transpose(2, 0, 1) for t in tensors]
            tensors = [np.ascontiguousarray(t, dtype=dtype) for t in tensors]
            poses = posefast.decode_multiple_poses(*tensors, STRIDE, layout=layout,
                                                   score_threshold=0.01, nms_radius=0.0)
            assert len(poses) == 1, (nan_at, big_at)
            assert poses[0].keypoints[0, :2].tolist() == [(1 + root[1]) * STRIDE,
                                                          (1 + root[0]) * STRIDE]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("width", [3, 4, 5, 8, 13])
def test_nan_keys_elsewhere_in_a_row_hide_no_root_of_that_row(dtype, width):
    # The scan of float32 HWC rows keeps running maxima over each row, lane by lane;
    # they once started from the row's last keys, so that a NaN there stayed in its lane
    # and hid every later key of that lane: a person rooted in that row was lost. Here
    # a whole cell of NaN (every lane) stands at the end of the row, or at its start
    # when the root is in the last cell, and the root's pose must be found as without.
    for y in range(3):
        for x in range(width):
            for k in (0, 1, 2, 3, 16):
                hm = np.full((3, width, 17), -10.0)
                hm[y, x, k] = 5.0
                hm[y, 0 if x == width - 1 else width - 1] = np.nan
                tensors = [np.ascontiguousarray(t, dtype=dtype) for t in (
                    hm, np.zeros((3, width, 34)), np.zeros((3, width, 32)),
                    np.zeros((3, width, 32)))]
                poses = posefast.decode_multiple_poses(*tensors, STRIDE,
                                                       score_threshold=0.01, nms_radius=0.0)
                assert len(poses) == 1, (y, x, k)
                assert poses[0].keypoints[k, :2].tolist() == [x * STRIDE, y * STRIDE]


def test_max_detections_and_threshold_limit_the_result():
    tensors = synthetic()
    assert len(posefast.decode_multiple_poses(*tensors, STRIDE, max_detections=1)) == 1
    assert len(posefast.decode_multiple_poses(*tensors, STRIDE, max_detections=0)) == 0
    # sigmoid(2) = 0.88 < 0.9 < sigmoid(4) = 0.98: only the first person stays
    assert len(posefast.decode_multiple_poses(*tensors, STRIDE, score_threshold=0.9)) == 1
    # more than the grid has roots: the work space is sized by the grid, not the argument
    many = posefast.decode_multiple_poses(*tensors, STRIDE, max_detections=10**30)
    assert [p.score for p in many] == [p.score for p in posefast.decode_multiple_poses(
        *tensors, STRIDE, max_detections=H * W * 17)]
    assert len(many) == 2


def test_empty_heatmaps_give_no_poses():
    hm, off, fwd, bwd = synthetic(people=[])
    assert posefast.decode_multiple_poses(hm, off, fwd, bwd, STRIDE) == []


@pytest.mark.parametrize("height, width", [(1, 1), (1, 2), (2, 3), (3, 1), (3, 5), (4, 7)])
def test_a_lone_peak_is_found_wherever_it_is(height, width):
    # uint8 HWC takes the vectorised scans (rows tested 16 keys at a time, the last 16 of
    # a row overlapping); every key position of every row must still be seen, borders too.
    zero = np.zeros((1, height, width, 34), np.uint8)
    off = Quantized(zero + 128, 0.5, 128)
    mid = Quantized(np.zeros((1, height, width, 32), np.uint8) + 128, 0.5, 128)
    for y in range(height):
        for x in range(width):
            for k in range(17):
                keys = np.zeros((1, height, width, 17), np.uint8)
                keys[0, y, x, k] = 255
                hm = Quantized(keys, 0.1, 128)  # logits -12.8, and 12.7 at the peak
                poses = posefast.decode_multiple_poses(hm, off, mid, mid, STRIDE,
                                                       score_threshold=0.01)
                assert len(poses) == 1, (y, x, k)
                assert poses[0].keypoints[k, :2].tolist() == [x * STRIDE, y * STRIDE]
                assert poses[0].keypoints[k, 2] > 0.99


def test_single_pose_known_answer():
    hm, off, _, _ = synthetic()
    off[..., :17], off[..., 17:] = 3.0, -2.0
    pose = posefast.decode_single_pose(hm, off, STRIDE)
    cells, logit = PEOPLE[0]
    want = expected_keypoints(cells, logit) + np.array([-2.0, 3.0, 0.0], np.float32)
    np.testing.assert_allclose(pose.keypoints, want, atol=1e-5)
    assert pose.score == pytest.approx(sigmoid(logit), abs=1e-6)


def quantize(t, dtype):
    info = np.iinfo(dtype)
    scale = max(float(np.abs(t).max()), 1.0) / 127  # symmetric around the zero point
    zp = 0 if dtype == np.int8 else 128
    return Quantized(np.clip(np.round(t / scale) + zp, info.min, info.max).astype(dtype), scale, zp)


def as_input(t, kind):
    if kind in ("uint8", "int8"):
        return quantize(t, np.dtype(kind).type)
    return t.astype(kind)


@pytest.mark.parametrize("kind", ["float16", "float32", "float64", "uint8", "int8"])
def test_every_dtype_decodes_the_synthetic_people(kind):
    tensors = [as_input(t, kind) for t in synthetic()]
    poses = posefast.decode_multiple_poses(*tensors, STRIDE, nms_radius=20.0)
    assert len(poses) == 2
    # quantisation steps (~1.4 px for displacements) add up along the skeleton
    tol = 3.0 if kind in ("uint8", "int8") else 0.05
    for pose, (cells, logit) in zip(poses, PEOPLE):
        np.testing.assert_allclose(pose.keypoints[:, :2], expected_keypoints(cells, logit)[:, :2],
                                   atol=tol)
    single = posefast.decode_single_pose(tensors[0], tensors[1], STRIDE)
    np.testing.assert_allclose(single.keypoints[:, :2],
                               expected_keypoints(*PEOPLE[0])[:, :2], atol=tol)


def same(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert p.score == q.score
        np.testing.assert_array_equal(p.keypoints, q.keypoints)


@pytest.mark.parametrize("kind", ["float32", "uint8"])
def test_chw_and_views_read_in_place_give_the_same_poses(kind):
    rng = np.random.default_rng(3)
    hm, off, fwd, bwd = synthetic()
    hm = hm + rng.normal(0, 0.5, hm.shape).astype(np.float32)
    tensors = [as_input(t, kind) for t in (hm, off, fwd, bwd)]
    want = posefast.decode_multiple_poses(*tensors, STRIDE, 10, 0.3, 10.0)
    assert want

    def chw(t):  # a transposed view, not a copy
        if isinstance(t, Quantized):
            return t._replace(array=t.array.transpose(2, 0, 1))
        return t.transpose(2, 0, 1)

    same(posefast.decode_multiple_poses(*map(chw, tensors), STRIDE, 10, 0.3, 10.0,
                                        layout="chw"), want)
    same([posefast.decode_single_pose(chw(tensors[0]), chw(tensors[1]), STRIDE, layout="chw")],
         [posefast.decode_single_pose(tensors[0], tensors[1], STRIDE)])

    def padded(t):  # channels and columns interleaved with junk: a strided view
        arr = t.array if isinstance(t, Quantized) else t
        big = np.zeros((arr.shape[0], arr.shape[1] * 2, arr.shape[2] * 3), arr.dtype)
        big[:, ::2, 1::3] = arr
        view = big[:, ::2, 1::3]
        return t._replace(array=view) if isinstance(t, Quantized) else view

    same(posefast.decode_multiple_poses(*map(padded, tensors), STRIDE, 10, 0.3, 10.0), want)
    batched = [t._replace(array=t.array[None]) if isinstance(t, Quantized) else t[None]
               for t in tensors]
    same(posefast.decode_multiple_poses(*batched, STRIDE, 10, 0.3, 10.0), want)


def frames(n, seed=0):
    rng = np.random.default_rng(seed)
    hm, off, fwd, bwd = synthetic()
    hms = np.stack([hm + rng.normal(0, 1.0, hm.shape).astype(np.float32) for _ in range(n)])
    return hms, np.stack([off] * n), np.stack([fwd] * n), np.stack([bwd] * n)


def test_batch_equals_per_frame():
    hms, offs, fwds, bwds = frames(4)
    batch = decode_multiple_poses_batch(hms, offs, fwds, bwds, STRIDE, 10, 0.3, 10.0)
    assert len(batch) == 4
    for i in range(4):
        same(batch[i], posefast.decode_multiple_poses(hms[i], offs[i], fwds[i], bwds[i],
                                                      STRIDE, 10, 0.3, 10.0))
    singles = decode_single_pose_batch(hms, offs, STRIDE)
    for i in range(4):
        same([singles[i]], [posefast.decode_single_pose(hms[i], offs[i], STRIDE)])
    chw = [t.transpose(0, 3, 1, 2) for t in (hms, offs, fwds, bwds)]
    out = ModelOutputs(*chw, output_stride=STRIDE, layout="chw")
    got = decode_outputs(out, max_detections=10, score_threshold=0.3, nms_radius=10.0)
    for a, b in zip(got, batch):
        same(a, b)
    got = decode_outputs(out, mode="single")
    assert [len(g) for g in got] == [1] * 4
    same([g[0] for g in got], singles)


def test_poses_are_ordinary_pose_objects_over_one_keypoint_block():
    """The decoders build poses without Pose's constructor (its checks cost more than the
    decoding of a thousand poses): they must still be Pose dataclasses whose keypoints are
    float32 (17, 3) C-contiguous views, independent of one another, that outlive the call."""
    hms, offs, fwds, bwds = frames(3)
    batch = decode_multiple_poses_batch(hms, offs, fwds, bwds, STRIDE, 10, 0.3, 10.0)
    poses = [p for frame in batch for p in frame]
    assert len(poses) >= 3
    for pose in poses:
        assert type(pose) is posefast.Pose and type(pose.score) is float
        kp = pose.keypoints
        assert type(kp) is np.ndarray and kp.dtype == np.float32 and kp.shape == (17, 3)
        assert kp.flags.c_contiguous and kp.flags.writeable and not kp.flags.owndata
        assert not hasattr(pose, "__dict__")  # slots, filled by the decoder itself
        assert {name: getattr(pose, name) for name in Pose.__slots__} == \
            {"score": pose.score, "keypoints": kp}
        copied = pickle.loads(pickle.dumps(pose))
        assert type(copied) is Pose and copied.score == pose.score
        np.testing.assert_array_equal(copied.keypoints, kp)
        with pytest.raises(AttributeError):
            pose.score = 1.0  # still frozen
        assert pose == pose and Pose.from_dict(pose.to_dict()).score == pose.score
    # one block for the call: views of the same base, none overlapping another
    assert len({id(p.keypoints.base) for p in poses}) == 1
    starts = sorted(p.keypoints.__array_interface__["data"][0] for p in poses)
    assert all(b - a >= 17 * 3 * 4 for a, b in zip(starts, starts[1:]))
    before = poses[0].keypoints.copy()
    poses[1].keypoints[:] = -1.0
    np.testing.assert_array_equal(poses[0].keypoints, before)
    del batch
    np.testing.assert_array_equal(poses[0].keypoints, before)  # the base lives on
    # and goes with the last pose: the decoder took no reference it does not give back
    views = [weakref.ref(p.keypoints) for p in poses]
    base = weakref.ref(poses[0].keypoints.base)
    del poses, pose, kp, copied
    assert all(view() is None for view in views) and base() is None


def test_threads_give_identical_results():
    hms, offs, fwds, bwds = frames(8, seed=1)
    want = [posefast.decode_multiple_poses(hms[i], offs[i], fwds[i], bwds[i], STRIDE, 10, 0.3)
            for i in range(8)]

    def work(i):
        return posefast.decode_multiple_poses(hms[i], offs[i], fwds[i], bwds[i], STRIDE, 10, 0.3)

    with ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            for got, exp in zip(pool.map(work, range(8)), want):
                same(got, exp)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_memory_stays_flat_over_many_calls():
    # Random logits around 0 give hundreds of candidate roots per frame, more than the
    # kernel's stack buffer holds, so the heap path of the candidate list runs too; a
    # leak of it (or of the per-call work space) would grow the process by megabytes.
    rng = np.random.default_rng(7)
    hm = rng.normal(0.0, 1.0, (H, W, 17)).astype(np.float32)
    _, off, fwd, bwd = synthetic()
    batch = [t[None].repeat(2, axis=0) for t in (hm, off, fwd, bwd)]
    assert len(posefast.decode_multiple_poses(hm, off, fwd, bwd, STRIDE, 3, 0.05)) == 3

    def calls(n):
        for _ in range(n):
            posefast.decode_multiple_poses(hm, off, fwd, bwd, STRIDE, 3, 0.05)
            decode_multiple_poses_batch(*batch, STRIDE, 3, 0.05)
            posefast.decode_single_pose(hm, off, STRIDE)

    calls(300)  # warm up allocator pools
    before = _rss_bytes()
    calls(3000)
    grown = _rss_bytes() - before
    assert grown < 2 * 1024 * 1024, f"resident memory grew by {grown} bytes over 9000 calls"


GOOD = dict(zip(("heatmaps", "offsets", "displacements_fwd", "displacements_bwd"), synthetic()))


def call(**changes):
    kw = dict(GOOD, output_stride=STRIDE)
    kw.update(changes)
    return posefast.decode_multiple_poses(**kw)


@pytest.mark.parametrize("changes, message", [
    (dict(offsets=np.zeros((H, W, 30), np.float32)),
     rf"offsets must have 34 channels \(H, W, 34\) matching heatmaps \({H}, {W}, 17\), "
     rf"got \({H}, {W}, 30\)"),
    (dict(displacements_fwd=np.zeros((H, W + 1, 32), np.float32)), "displacements_fwd must"),
    (dict(displacements_bwd=np.zeros((H, W, 34), np.float32)), "displacements_bwd must"),
    (dict(heatmaps=np.zeros((H, W, 16), np.float32)), r"heatmaps must have 17 channels"),
    (dict(heatmaps=np.zeros((0, W, 17), np.float32)), r"heatmaps must have a grid"),
    (dict(heatmaps=np.zeros((2, H, W, 17), np.float32)), r"heatmaps must have shape"),
    (dict(heatmaps=np.zeros((W, 17), np.float32)), r"heatmaps must have shape"),
    (dict(heatmaps=np.zeros((H, W, 17), np.int32)), r"heatmaps must be float16"),
    (dict(heatmaps=np.zeros((H, W, 17), np.uint8)), r"heatmaps must be float16"),
    (dict(heatmaps=[[0.0]]), r"heatmaps must be a numpy array"),
    (dict(offsets=Quantized(np.zeros((H, W, 34), np.float32), 1.0, 0)),
     r"offsets: Quantized.array must be uint8 or int8"),
    (dict(offsets=Quantized(np.zeros((H, W, 34), np.uint8), 0.0, 0)),
     r"offsets: Quantized.scale must be"),
    (dict(offsets=Quantized(np.zeros((H, W, 34), np.uint8), float("nan"), 0)),
     r"offsets: Quantized.scale must be"),
    (dict(offsets=np.zeros((H, W, 34), ">f4")), r"offsets must be aligned and in native"),
    (dict(output_stride=0), r"output_stride must be an integer in \[1, 65536\]"),
    (dict(output_stride=16.5), r"output_stride must be an integer in \[1, 65536\]"),
    (dict(max_detections=-1), r"max_detections must be"),
    (dict(score_threshold=1.5), r"score_threshold must be in \[0, 1\]"),
    (dict(score_threshold=float("nan")), r"score_threshold must be in \[0, 1\]"),
    (dict(nms_radius=-1.0), r"nms_radius must be"),
    (dict(nms_radius=float("inf")), r"nms_radius must be"),
    # the wrong type is a ValueError naming the argument too, not Cython's TypeError
    (dict(score_threshold="0.5"), r"score_threshold must be in \[0, 1\] \(a number\), got '0.5'"),
    (dict(score_threshold=None), r"score_threshold must be in \[0, 1\]"),
    (dict(score_threshold=True), r"score_threshold must be in \[0, 1\]"),
    (dict(nms_radius="20"), r"nms_radius must be a finite number >= 0 \(pixels\), got '20'"),
    (dict(nms_radius=[20.0]), r"nms_radius must be"),
    (dict(nms_radius=10 ** 400), r"nms_radius must be"),
    (dict(max_detections="10"), r"max_detections must be"),
    (dict(max_detections=2.0), r"max_detections must be"),
    (dict(refine_steps="5"), r"refine_steps must be"),
    (dict(output_stride="16"), r"output_stride must be"),
    (dict(refine_steps=-1), r"refine_steps must be"),
    (dict(layout="nhwc"), r"layout must be 'hwc' or 'chw'"),
])
def test_bad_arguments_raise_value_error_naming_them(changes, message):
    with pytest.raises(ValueError, match=message) as info:
        call(**changes)
    assert not isinstance(info.value, TypeError)
    tensors = ("heatmaps", "offsets", "displacements_fwd", "displacements_bwd")
    if not set(changes) & set(tensors):  # the batch decoder checks the same way
        kw = dict(GOOD, output_stride=STRIDE)
        kw.update(changes)
        with pytest.raises(ValueError, match=message) as info:
            batch = [kw.pop(k)[None] for k in tensors]
            posefast.decode_multiple_poses_batch(*batch, **kw)
        assert not isinstance(info.value, TypeError)


def test_bad_mode_and_single_pose_arguments():
    out = ModelOutputs(*(t[None] for t in synthetic()), output_stride=STRIDE)
    with pytest.raises(ValueError, match="mode must be 'multi' or 'single'"):
        decode_outputs(out, mode="both")
    with pytest.raises(ValueError, match=r"offsets must have 34 channels \(34, H, W\)"):
        posefast.decode_single_pose(np.zeros((17, 3, 4)), np.zeros((30, 3, 4)), 16, layout="chw")
