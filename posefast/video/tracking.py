"""Tracking people across video frames: each pose gets an id that stays the same
for as long as the person stays in view.

The algorithm follows tfjs pose-detection's ``KeypointTracker`` (and its
bounding-box variant). For each frame, at time ``t`` (seconds):

1. Tracks last matched more than ``max_age`` seconds before ``t`` are dropped, unless
   matched in the previous frame with none missed since (a gap of at most 1.5 of the
   shortest seen): ``max_age=0`` ends a track at the first frame it misses. Their ids
   are never given out again.
2. Each remaining track is moved to where it should be at ``t`` at its velocity
   (``predict_motion``, on by default; not in tfjs): its box centre's speed in
   pixels per second, averaged over its matches (each new measurement weighs 1/2).
   Without it, two people passing each other swap ids: when one hides the other,
   the hidden one's stale track can match the visible person better than the
   visible person's own track does (measured on a test clip; see tests/test_tracking.py).
3. The similarity of every detection with every remaining (moved) track is
   computed: the object keypoint similarity (OKS) for :class:`PoseTracker`, the
   IoU of the boxes around the keypoints for :class:`BoxTracker`.
4. Detections are taken in decreasing pose score; each is matched to the unmatched
   track most similar to it, if that similarity is ``>= min_similarity`` (ties go
   to the track matched most recently). A matched track takes the detection's
   keypoints, box and time.
5. Each unmatched detection opens a new track with the next id (1, 2, 3, ...).
6. Tracks are ordered from most to least recently matched and only the first
   ``max_tracks`` are kept.

OKS between a detection ``d`` and a track ``T``, over the keypoints ``i`` whose score
is ``>= keypoint_threshold`` in both (``n`` of them)::

    OKS = (1/n) * sum_i exp(-|d_i - T_i|^2 / (2 * A * (2 * sigma_i)^2))

``A`` is the area (pixels^2, plus 1e-6) of the box around the track's keypoints
scoring ``>= keypoint_threshold`` and ``sigma_i`` the COCO keypoint sigma. OKS is 0
when ``n < min_keypoints``. Coordinates are pixels; OKS does not depend on the unit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from ..pose import Pose
from ..skeleton import NUM_KEYPOINTS
from .boxes import BOX_MIN_SCORE, iou_matrix, keypoint_boxes

#: COCO's per-keypoint sigmas (the keypoint evaluation's falloff), in KEYPOINT_NAMES order.
COCO_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)

Detection = Union[Pose, np.ndarray]


@dataclass
class Track:
    """A tracked person: its id, its last matched keypoints ((17, 3): x, y pixels and
    score), their box ``[x, y, w, h]`` and when it was first and last matched (seconds)."""

    id: int
    keypoints: np.ndarray
    box: list[float]
    first_time: float
    last_time: float
    velocity: tuple[float, float] = (0.0, 0.0)  # of the box centre, pixels per second
    matches: int = 1

    def moved(self, time: float) -> tuple[np.ndarray, list[float]]:
        """Keypoints and box shifted to where the velocity puts them at ``time``."""
        dt = time - self.last_time
        dx, dy = self.velocity[0] * dt, self.velocity[1] * dt
        if dx == 0 and dy == 0:
            return self.keypoints, self.box
        kp = self.keypoints.copy()
        kp[:, 0] += dx
        kp[:, 1] += dy
        return kp, [self.box[0] + dx, self.box[1] + dy, self.box[2], self.box[3]]

    def match(self, keypoints: np.ndarray, box: list[float], time: float) -> None:
        """Take a detection seen at ``time``; update the velocity estimate."""
        dt = time - self.last_time
        if dt > 0:
            vx = (box[0] + box[2] / 2 - self.box[0] - self.box[2] / 2) / dt
            vy = (box[1] + box[3] / 2 - self.box[1] - self.box[3] / 2) / dt
            if self.matches == 1:
                self.velocity = (vx, vy)
            else:
                self.velocity = ((self.velocity[0] + vx) / 2, (self.velocity[1] + vy) / 2)
            self.matches += 1
        self.keypoints, self.box, self.last_time = keypoints, box, time


class _Tracker:
    """The mechanics shared by the trackers; subclasses define ``_similarity``."""

    def __init__(self, *, max_age: float, min_similarity: float, max_tracks: int,
                 keypoint_threshold: float, predict_motion: bool) -> None:
        if not (max_age >= 0 and np.isfinite(max_age)):
            raise ValueError(f"max_age must be a finite number of seconds >= 0, got {max_age}")
        if not 0.0 <= min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be in [0, 1], got {min_similarity}")
        if int(max_tracks) != max_tracks or max_tracks < 1:
            raise ValueError(f"max_tracks must be an integer >= 1, got {max_tracks}")
        if not 0.0 <= keypoint_threshold <= 1.0:
            raise ValueError(f"keypoint_threshold must be in [0, 1], got {keypoint_threshold}")
        self.max_age = float(max_age)
        self.min_similarity = float(min_similarity)
        self.max_tracks = int(max_tracks)
        self.keypoint_threshold = float(keypoint_threshold)
        self.predict_motion = bool(predict_motion)
        self._tracks: list[Track] = []
        self._next_id = 1
        self._last_time: float | None = None
        self._interval: float | None = None  # the shortest time between two updates
        self.last_boxes: list[list[float]] = []

    @property
    def tracks(self) -> list[Track]:
        """The live tracks, most recently matched first."""
        return list(self._tracks)

    def active_ids(self) -> set[int]:
        """The ids of the live tracks."""
        return {t.id for t in self._tracks}

    def reset(self) -> None:
        """Forget every track (a new video); ids go on from where they were."""
        self._tracks = []
        self._last_time = None
        self._interval = None

    def update(self, poses: Sequence[Detection], time: float,
               scores: Sequence[float] | None = None) -> list[int]:
        """Track one frame's poses, seen at ``time`` (seconds, not decreasing from
        call to call); returns the track id of each pose, in the order given.

        ``poses`` are ``Pose`` objects or (17, 3) arrays (x, y in pixels, score);
        ``scores`` orders the matching (default: each ``Pose.score``, or the mean
        keypoint score of an array).
        """
        time = float(time)
        if not np.isfinite(time):
            raise ValueError(f"time must be a finite number of seconds, got {time}")
        if self._last_time is not None and time < self._last_time:
            raise ValueError(f"time went backwards: {time} s after {self._last_time} s "
                             f"(call reset() between videos)")
        previous, self._last_time = self._last_time, time
        gap = None if previous is None else time - previous
        next_frame = gap is not None and (self._interval is None or gap <= 1.5 * self._interval)
        if gap is not None and gap > 0:
            self._interval = gap if self._interval is None else min(self._interval, gap)
        kps, order_scores = _as_arrays(poses, scores)
        stacked = np.stack(kps) if kps else np.zeros((0, NUM_KEYPOINTS, 3))
        boxes = keypoint_boxes(stacked, BOX_MIN_SCORE).tolist()
        #: The box of each pose of the last update (pixels), for the caller's use.
        self.last_boxes = boxes

        # max_age bounds the time a track goes unmatched, not the frame interval: a
        # track matched in the previous update always meets this one when no frame
        # was missed in between (at most 1.5 of the shortest interval seen), so that
        # max_age 0 ends a track at the first frame it misses, not at every frame
        self._tracks = [t for t in self._tracks if time - t.last_time <= self.max_age
                        or (next_frame and t.last_time == previous)]
        ids = [0] * len(kps)
        if len(kps) == 0:
            return ids
        free = list(range(len(self._tracks)))
        unmatched: list[int] = []
        if self._tracks:
            moved = [t.moved(time) if self.predict_motion else (t.keypoints, t.box)
                     for t in self._tracks]
            sim = self._similarity(stacked, np.array(boxes),
                                   np.stack([m[0] for m in moved]),
                                   np.array([m[1] for m in moved]))
        for d in sorted(range(len(kps)), key=lambda i: -order_scores[i]):  # stable sort
            best, best_sim = -1, -1.0
            for j in free:
                s = sim[d, j]
                if s >= self.min_similarity and s > best_sim:
                    best, best_sim = j, s
            if best < 0:
                unmatched.append(d)
                continue
            free.remove(best)
            track = self._tracks[best]
            track.match(kps[d], boxes[d], time)
            ids[d] = track.id
        for d in unmatched:
            track = Track(self._next_id, kps[d], boxes[d], time, time)
            self._next_id += 1
            self._tracks.append(track)
            ids[d] = track.id
        self._tracks.sort(key=lambda t: -t.last_time)  # stable: ties keep their order
        del self._tracks[self.max_tracks:]
        return ids

    def _similarity(self, keypoints: np.ndarray, boxes: np.ndarray,
                    track_keypoints: np.ndarray, track_boxes: np.ndarray) -> np.ndarray:
        """(detections, tracks) similarities: detections' (N, 17, 3) keypoints and
        (N, 4) boxes against the tracks' (M, 17, 3) and (M, 4)."""
        raise NotImplementedError


class PoseTracker(_Tracker):
    """Tracks people by the object keypoint similarity (OKS) of their keypoints.

    Parameters: ``max_age`` (seconds a track lives on without a match),
    ``min_similarity`` (the least OKS that matches), ``max_tracks`` (tracks kept),
    ``keypoint_threshold`` (a keypoint counts when its score reaches it),
    ``min_keypoints`` (fewer keypoints counted in both: similarity 0), ``sigmas``
    (per keypoint falloff, COCO's by default) and ``predict_motion`` (move tracks at
    their velocity before comparing; False: tfjs's tracker exactly). See the module
    docstring.

    Example::

        tracker = PoseTracker()
        for frame in frames:
            ids = tracker.update(estimator.estimate(frame.pixels), frame.time)
    """

    def __init__(self, *, max_age: float = 1.0, min_similarity: float = 0.15,
                 max_tracks: int = 18, keypoint_threshold: float = 0.3,
                 min_keypoints: int = 4, sigmas: Sequence[float] = COCO_SIGMAS,
                 predict_motion: bool = True) -> None:
        super().__init__(max_age=max_age, min_similarity=min_similarity,
                         max_tracks=max_tracks, keypoint_threshold=keypoint_threshold,
                         predict_motion=predict_motion)
        if int(min_keypoints) != min_keypoints or not 1 <= min_keypoints <= NUM_KEYPOINTS:
            raise ValueError(f"min_keypoints must be an integer in [1, {NUM_KEYPOINTS}], "
                             f"got {min_keypoints}")
        sig = np.asarray(sigmas, dtype=np.float64)
        if sig.shape != (NUM_KEYPOINTS,) or not np.all(sig > 0):
            raise ValueError(f"sigmas must be {NUM_KEYPOINTS} positive numbers")
        self.min_keypoints = int(min_keypoints)
        self._falloff = 2.0 * (2.0 * sig) ** 2  # the 2 * (2 sigma)^2 of the OKS exponent

    def _similarity(self, keypoints: np.ndarray, boxes: np.ndarray,
                    track_keypoints: np.ndarray, track_boxes: np.ndarray) -> np.ndarray:
        return oks_matrix(keypoints, track_keypoints, self._falloff, self.keypoint_threshold,
                          self.min_keypoints)


class BoxTracker(_Tracker):
    """Tracks people by the IoU of the boxes around their keypoints (scoring
    ``>= 0.3``); the same mechanics as :class:`PoseTracker` otherwise."""

    def __init__(self, *, max_age: float = 1.0, min_similarity: float = 0.15,
                 max_tracks: int = 18, keypoint_threshold: float = 0.3,
                 predict_motion: bool = True) -> None:
        super().__init__(max_age=max_age, min_similarity=min_similarity,
                         max_tracks=max_tracks, keypoint_threshold=keypoint_threshold,
                         predict_motion=predict_motion)

    def _similarity(self, keypoints: np.ndarray, boxes: np.ndarray,
                    track_keypoints: np.ndarray, track_boxes: np.ndarray) -> np.ndarray:
        return iou_matrix(boxes, track_boxes)


def oks_matrix(detections: np.ndarray, tracks: np.ndarray, falloff: np.ndarray,
               threshold: float, min_keypoints: int) -> np.ndarray:
    """OKS of each detection (N, 17, 3) with each track (M, 17, 3): (N, M).

    ``falloff`` is ``2 * (2 * sigma)^2`` per keypoint (17,).
    """
    tk = tracks
    conf_t = tk[:, :, 2] >= threshold                                  # (M, 17)
    big = np.where(conf_t[..., None], tk[:, :, :2], np.nan)
    with np.errstate(invalid="ignore"):
        span = np.nanmax(big, axis=1) - np.nanmin(big, axis=1)         # (M, 2); NaN if none
    area = np.nan_to_num(span[:, 0] * span[:, 1], nan=0.0) + 1e-6      # (M,)
    valid = (detections[:, None, :, 2] >= threshold) & conf_t[None]    # (N, M, 17)
    d2 = ((detections[:, None, :, :2] - tk[None, :, :, :2]) ** 2).sum(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(-d2 / (area[None, :, None] * falloff[None, None, :]))
    e = np.where(valid & np.isfinite(e), e, 0.0)
    n = valid.sum(-1)
    return np.where(n >= min_keypoints, e.sum(-1) / np.maximum(n, 1), 0.0)


def _as_arrays(poses: Sequence[Detection],
               scores: Sequence[float] | None) -> tuple[list[np.ndarray], list[float]]:
    kps: list[np.ndarray] = []
    own: list[float] = []
    for i, p in enumerate(poses):
        if isinstance(p, Pose):
            kp, s = p.keypoints, p.score
        else:
            kp = np.asarray(p)
            if kp.shape != (NUM_KEYPOINTS, 3):
                raise ValueError(f"pose {i}: expected a Pose or a ({NUM_KEYPOINTS}, 3) array "
                                 f"of x, y, score, got shape {kp.shape}")
            s = float(np.mean(kp[:, 2])) if scores is None else 0.0
        kps.append(np.array(kp, dtype=np.float64))  # a copy: the caller may reuse theirs
        own.append(float(s))
    if scores is not None:
        if len(scores) != len(kps):
            raise ValueError(f"got {len(scores)} scores for {len(kps)} poses")
        own = [float(s) for s in scores]
    return kps, own
