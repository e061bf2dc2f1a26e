"""Tracking: the OKS and IoU trackers against plain-Python references of their
formulas, their rules (matching order, max_age, max_tracks), and real videos made
from the shared photographs with known ground truth."""
from __future__ import annotations

import math

import numpy as np
import pytest

from posefast import PoseTracker
from posefast.video import BoxTracker, box_iou, keypoint_box
from posefast.video.tracking import COCO_SIGMAS

from video_clips import estimator  # noqa: F401  (a fixture)
from video_clips import crossing, pan_zoom, person_crop

# -- the formulas, against plain-Python references ------------------------------------


def ref_oks(det, track, threshold=0.3, min_keypoints=4):
    """tfjs KeypointTracker.oks, written out with loops (pixels instead of normalised)."""
    xs = [k[0] for k in track if k[2] >= threshold]
    ys = [k[1] for k in track if k[2] >= threshold]
    area = ((max(xs) - min(xs)) * (max(ys) - min(ys)) if xs else 0.0) + 1e-6
    total, n = 0.0, 0
    for i in range(17):
        if det[i][2] < threshold or track[i][2] < threshold:
            continue
        n += 1
        d2 = (det[i][0] - track[i][0]) ** 2 + (det[i][1] - track[i][1]) ** 2
        x = 2 * COCO_SIGMAS[i]
        total += math.exp(-d2 / (2 * area * x ** 2))
    return 0.0 if n < min_keypoints else total / n


def _person(rng, x0=100.0, y0=50.0, size=200.0, low=()):
    kp = np.zeros((17, 3))
    kp[:, 0] = x0 + rng.uniform(0, size * 0.4, 17)
    kp[:, 1] = y0 + np.linspace(0, size, 17)
    kp[:, 2] = rng.uniform(0.5, 1.0, 17)
    kp[list(low), 2] = 0.1
    return kp


def test_oks_matches_the_reference():
    rng = np.random.default_rng(0)
    for _ in range(50):
        det = _person(rng, low=rng.choice(17, rng.integers(0, 15), replace=False))
        trk = det.copy()
        trk[:, :2] += rng.normal(0, rng.uniform(0.5, 30), (17, 2))
        trk[rng.choice(17, rng.integers(0, 5), replace=False), 2] = 0.2
        tracker = PoseTracker(predict_motion=False)
        tracker.update([trk], 0.0)
        sim = tracker._similarity(det[None], np.array([keypoint_box(det)]),
                                  trk[None], np.array([keypoint_box(trk)]))
        assert sim[0, 0] == pytest.approx(ref_oks(det.tolist(), trk.tolist()), abs=1e-12)


def test_box_and_iou_match_the_reference():
    kp = np.array([[10, 20, 0.9], [50, 5, 0.8], [30, 90, 0.1]] + [[20, 30, 0.5]] * 14)
    assert keypoint_box(kp) == [10.0, 5.0, 40.0, 25.0]  # the 0.1 keypoint is left out
    kp[:, 2] = 0.1
    assert keypoint_box(kp) == [10.0, 5.0, 40.0, 85.0]  # none above: all of them
    assert box_iou([0, 0, 10, 10], [5, 5, 10, 10]) == pytest.approx(25 / 175)
    assert box_iou([0, 0, 10, 10], [20, 0, 5, 5]) == 0.0
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0


# -- the rules --------------------------------------------------------------------


def test_ids_follow_people_and_are_never_reused_after_max_age():
    rng = np.random.default_rng(1)
    a, b = _person(rng, x0=100), _person(rng, x0=600)
    t = PoseTracker(max_age=0.5)
    assert t.update([a, b], 0.0) == [1, 2]
    assert t.update([b + [3, 0, 0], a + [3, 0, 0]], 0.1) == [2, 1]  # order given kept
    assert t.update([b], 0.3) == [2]
    assert t.update([b, a], 0.6) == [2, 1]  # a unseen for 0.5 s: still alive (<= max_age)
    assert t.update([b], 1.0) == [2]
    assert t.update([b], 1.15) == [2]   # a unseen for 0.55 s > max_age: its track ends
    assert t.active_ids() == {2}
    assert t.update([a, b], 1.3) == [3, 2]  # a again: a new id, never 1


def test_detections_match_in_score_order_and_max_tracks_keeps_the_freshest():
    rng = np.random.default_rng(2)
    a = _person(rng)
    t = PoseTracker(max_tracks=2)
    assert t.update([a], 0.0) == [1]
    # Two detections on the same spot: the higher score takes the track.
    assert t.update([a, a + [1, 0, 0]], 0.1, scores=[0.2, 0.9]) == [2, 1]
    far = _person(rng, x0=2000)
    assert t.update([far], 0.2) == [3]
    assert len(t.tracks) == 2 and t.tracks[0].id == 3  # most recent first


def test_no_detection_below_min_keypoints_or_min_similarity_continues_a_track():
    rng = np.random.default_rng(3)
    a = _person(rng)
    t = PoseTracker()
    t.update([a], 0.0)
    few = a.copy()
    few[4:, 2] = 0.0  # 4 keypoints confident: enough
    assert t.update([few], 0.1) == [1]
    fewer = a.copy()
    fewer[3:, 2] = 0.0  # 3: similarity 0, a new track
    assert t.update([fewer], 0.2) == [2]
    assert PoseTracker(min_similarity=1.0).update([a], 0.0) == [1]


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="max_age"):
        PoseTracker(max_age=-1)
    with pytest.raises(ValueError, match="min_similarity"):
        BoxTracker(min_similarity=2)
    with pytest.raises(ValueError, match="max_tracks"):
        PoseTracker(max_tracks=0)
    t = PoseTracker()
    with pytest.raises(ValueError, match="shape"):
        t.update([np.zeros((5, 3))], 0.0)
    t.update([], 1.0)
    with pytest.raises(ValueError, match="backwards"):
        t.update([], 0.5)
    with pytest.raises(ValueError, match="finite"):
        t.update([], float("nan"))


# -- real videos with known ground truth -------------------------------------------------


def detect(estimator, clip):
    """Each frame's (time, poses) of a clip, read back from its file."""
    from posefast.reading.video import iter_frames

    return [(f.time, estimator.estimate(f.pixels)) for f in iter_frames(str(clip.path))]


def assign(clip, frames, tracker):
    """Per ground-truth person, the ids given to the detection nearest to it, frame by
    frame (None where not visible or not detected); checks the times read back."""
    per_person: list[list[int | None]] = [[] for _ in clip.centres[0]]
    for (t, poses), truth, t_true in zip(frames, clip.centres, clip.times):
        assert t == pytest.approx(t_true, abs=1e-3)
        ids = tracker.update(poses, t)
        got: list[tuple[float, int | None]] = [(80.0, None)] * len(truth)
        for pose, i in zip(poses, ids):  # each detection to the nearest visible person
            x, y, w, h = keypoint_box(pose.keypoints)
            near = [(math.hypot(x + w / 2 - c[0], y + h / 2 - c[1]), k)
                    for k, c in enumerate(truth) if c is not None]
            if near:
                d, k = min(near)
                if d < got[k][0]:  # further than 80 px: someone else, or nobody
                    got[k] = (d, i)
        for k, (_, i) in enumerate(got):
            per_person[k].append(i)
    return per_person


def runs(ids):
    """The distinct ids of each stretch of consecutive detections."""
    out, cur = [], None
    for i in ids + [None]:
        if i is None:
            if cur:
                out.append(cur)
            cur = None
        else:
            cur = (cur or set()) | {i}
    return out


@pytest.fixture(scope="module")
def images(shared_data):
    return shared_data / "images"


def test_pan_and_zoom_with_dropped_frames_keeps_both_ids(estimator, images, tmp_path_factory):
    clip = pan_zoom(images, tmp_path_factory.mktemp("v") / "pan.mp4", n=40,
                    drop={8, 9, 10, 20, 21})
    frames = detect(estimator, clip)
    for tracker in (PoseTracker(), BoxTracker()):
        left, right = assign(clip, frames, tracker)
        seen = [i for i in left if i is not None], [i for i in right if i is not None]
        assert len(seen[0]) > 20 and len(seen[1]) > 25  # the clip shows them
        assert len(set(seen[0])) == 1 and len(set(seen[1])) == 1, (tracker, left, right)
        assert set(seen[0]) != set(seen[1])


TWO_PASS = None


def _two_pass(images, folder):
    a = person_crop(images, "standing.png", (376, 163, 521, 480))
    b = person_crop(images, "standing_doorway.png", (310, 140, 470, 400))
    # a walks right, b walks left in front of it: b hides a for a few frames.
    return crossing(images, folder / "cross.mp4",
                    [(a, (0, 100), (800, 100)), (b, (780, 180), (20, 180))], n=40)


def test_two_people_passing_never_swap_ids(estimator, images, tmp_path_factory):
    clip = _two_pass(images, tmp_path_factory.mktemp("v"))
    frames = detect(estimator, clip)
    for tracker in (PoseTracker(), BoxTracker()):
        behind, front = assign(clip, frames, tracker)
        # The person in front is always visible: one id all along.
        assert len(runs(front)) == 1 and len(runs(front)[0]) == 1, (tracker, front)
        # The one behind keeps an id per stretch in view (it may get a new one after
        # being hidden), and no id ever covers both people.
        assert all(len(r) == 1 for r in runs(behind)), (tracker, behind)
        assert not set().union(*runs(behind)) & runs(front)[0], (tracker, behind, front)
    # The clip is a real test: tfjs's tracker without motion prediction swaps here.
    behind, front = assign(clip, frames, PoseTracker(predict_motion=False))
    assert len(set(i for i in front if i is not None)) > 1


def test_an_id_is_not_given_to_someone_else_after_max_age(estimator, images, tmp_path_factory):
    a = person_crop(images, "standing.png", (376, 163, 521, 480))
    b = person_crop(images, "standing_far.png", (361, 88, 490, 345))
    # a stands still and leaves for 0.4 s (frames 10-19), then for good at frame 30;
    # b appears at the same place at frame 60 (1.2 s later: beyond max_age = 1 s).
    clip = crossing(images, tmp_path_factory.mktemp("v") / "leave.mp4",
                    [(a, (400, 100), (400, 100), set(range(10, 20)) | set(range(30, 70))),
                     (b, (410, 150), (410, 150), set(range(60)))], n=70)
    frames = detect(estimator, clip)
    first, second = assign(clip, frames, PoseTracker(max_age=1.0))
    a_ids = {i for i in first if i is not None}
    b_ids = {i for i in second if i is not None}
    assert len(a_ids) == 1, first            # back within max_age: the same id
    assert len(b_ids) == 1 and not a_ids & b_ids, (first, second)


def test_one_pose_box_is_the_many_pose_box():
    """keypoint_box (plain Python, one pose) and keypoint_boxes (NumPy, many): the same
    numbers, whatever the keypoints hold."""
    from posefast.video.boxes import keypoint_boxes

    rng = np.random.default_rng(7)
    special = [np.nan, np.inf, -np.inf, 0.0, 0.3, -5.0, 1e300]
    for _ in range(300):
        kp = rng.uniform(-50, 700, (17, 3))
        kp[:, 2] = rng.uniform(0, 1, 17)
        for _ in range(rng.integers(0, 12)):
            kp[rng.integers(17), rng.integers(3)] = special[rng.integers(len(special))]
        assert keypoint_box(kp) == keypoint_boxes(kp[None])[0].tolist()
        assert keypoint_box(kp, 0.9) == keypoint_boxes(kp[None], 0.9)[0].tolist()
    nothing = np.full((17, 3), np.nan)
    assert keypoint_box(nothing) == [0.0, 0.0, 0.0, 0.0] == keypoint_boxes(nothing[None])[0].tolist()


def test_max_age_0_ends_a_track_at_the_first_frame_it_misses():
    """Issue 24: ``--max-age 0`` gave every frame new ids (no track is matched at the
    very time of the next frame). A track matched in the previous frame always meets
    this one; max_age bounds only the time it goes unmatched."""
    rng = np.random.default_rng(2)
    a, b = _person(rng, x0=100), _person(rng, x0=600)
    for cls in (PoseTracker, BoxTracker):
        t = cls(max_age=0.0)
        assert t.update([a, b], 0.0) == [1, 2]
        assert t.update([a + [2, 0, 0], b], 0.04) == [1, 2]
        assert t.update([b], 0.08) == [2]            # a missed a frame: its track ends
        assert t.update([a, b], 0.12) == [3, 2]
        # a frame interval longer than max_age is no gap either; a frame missed is
        slow = cls(max_age=0.01)
        assert [slow.update([a], i * 0.5) for i in (0, 1, 2, 4)] == [[1], [1], [1], [2]]
