"""Smoothing: the One Euro filter against a plain-Python reference written from the
paper, its edge cases, per-track state, and its effect on real detections (jitter on
a still scene with noise, lag on a moving person)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from posefast import OneEuroFilter
from posefast.video import PoseSmoother
from posefast.video.stream import SmoothingOptions, TrackingOptions, TrackingStage

from video_clips import estimator  # noqa: F401  (a fixture)
from video_clips import crossing, person_crop, write_video


class RefLowPass:
    """The paper's LowPassFilter: s = a * x + (1 - a) * s_prev."""

    def __init__(self):
        self.s = None

    def __call__(self, x, a):
        self.s = x if self.s is None else a * x + (1 - a) * self.s
        return self.s


class RefOneEuro:
    """Casiez et al. 2012, Algorithm 1, one scalar, timestamps given."""

    def __init__(self, min_cutoff, beta, d_cutoff):
        self.mc, self.beta, self.dc = min_cutoff, beta, d_cutoff
        self.x, self.dx = RefLowPass(), RefLowPass()
        self.t = None

    @staticmethod
    def alpha(rate, cutoff):
        tau = 1.0 / (2 * math.pi * cutoff)
        te = 1.0 / rate
        return 1.0 / (1.0 + tau / te)

    def __call__(self, x, t):
        if self.t is None:
            self.t = t
            self.dx(0.0, 1.0)
            return self.x(x, 1.0)
        rate = 1.0 / (t - self.t)
        self.t = t
        dx = (x - self.x.s) * rate
        edx = self.dx(dx, self.alpha(rate, self.dc))
        cutoff = self.mc + self.beta * abs(edx)
        return self.x(x, self.alpha(rate, cutoff))


def test_one_euro_matches_the_paper():
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.01, 0.1, 200))  # an irregular clock
    signal = rng.normal(0, 5, (200, 3, 2)) + np.sin(times)[:, None, None] * 100
    for params in [(1.0, 0.0, 1.0), (0.5, 0.05, 2.0), (2.0, 1.0, 1.0)]:
        f = OneEuroFilter(*params)
        refs = [[RefOneEuro(*params) for _ in range(2)] for _ in range(3)]
        for t, x in zip(times, signal):
            got = f(x, t)
            want = [[refs[i][j](x[i, j], t) for j in range(2)] for i in range(3)]
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_scale_divides_the_speed_and_edge_cases():
    a, b = OneEuroFilter(1.0, 2.0), OneEuroFilter(1.0, 1.0)
    for t, x in [(0.0, 0.0), (0.1, 10.0), (0.2, 25.0)]:
        assert a(x, t, scale=2.0) == pytest.approx(b(x, t))  # beta / scale is what counts
    f = OneEuroFilter()
    assert f(np.array([3.0]), 1.0) == 3.0        # the first sample passes
    out = f(np.array([5.0]), 1.1)
    assert f(np.array([99.0]), 1.1) == out       # no time passed: the last output
    f.reset()
    assert f(np.array([7.0]), 0.5) == 7.0        # reset: passes again, time may restart
    for bad in [dict(min_cutoff=0), dict(beta=-1), dict(d_cutoff=float("inf"))]:
        with pytest.raises(ValueError, match=next(iter(bad))):
            OneEuroFilter(**bad)
    with pytest.raises(ValueError, match="shape"):
        f(np.zeros(3), 2.0)


def test_a_track_that_ends_starts_afresh():
    s = PoseSmoother()
    kp = np.zeros((17, 3))
    kp[:, 2] = 0.9
    s.smooth(1, kp, 0.0)
    moved = kp + [100, 0, 0]
    assert s.smooth(1, moved, 0.1)[0, 0] < 100   # filtered: lags behind the jump
    s.end_tracks({2})
    assert s.smooth(1, moved + [1, 0, 0], 0.2)[0, 0] == 101  # reset: passes unchanged


# -- real detections ---------------------------------------------------------------


def _records(estimator, path, smooth):
    """The records of a clip as `posefast run --track [--smooth]` makes them."""
    from posefast.job.records import make_record
    from posefast.reading.video import iter_frames

    out: list = []
    stage = TrackingStage(out.append, TrackingOptions(),
                          SmoothingOptions() if smooth else None)
    for f in iter_frames(str(path)):
        stage(make_record(str(path), f.index, 640, 480, estimator.estimate(f.pixels),
                          time=f.time))
    return out


def _keypoints(records):
    assert all(len(r["poses"]) == 1 for r in records)
    return np.array([[(k["x"], k["y"], k["score"]) for k in r["poses"][0]["keypoints"]]
                     for r in records])


def test_jitter_on_a_still_scene_with_noise_is_at_least_halved(estimator, shared_data,
                                                              tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    still = np.asarray(Image.open(shared_data / "images" / "standing.png").convert("RGB"))
    frames = [np.clip(still + rng.normal(0, 12, still.shape), 0, 255).astype(np.uint8)
              for _ in range(50)]
    path = tmp_path / "still.mp4"
    write_video(path, frames, [i / 25 for i in range(50)])
    raw, smooth = (_keypoints(_records(estimator, path, s)) for s in (False, True))
    ok = (raw[:, :, 2] >= 0.3).all(0)  # keypoints found in every frame
    jitter = [np.linalg.norm(np.diff(k[:, ok, :2], axis=0), axis=-1).mean() for k in (raw, smooth)]
    print(f"still scene: jitter {jitter[0]:.2f} -> {jitter[1]:.2f} px/frame")
    assert jitter[0] > 0.5  # the noise does make the keypoints move
    assert jitter[1] <= 0.5 * jitter[0]


def test_lag_on_a_moving_person(estimator, shared_data, tmp_path):
    images = shared_data / "images"
    a = person_crop(images, "standing.png", (376, 163, 521, 480))
    crossing(images, tmp_path / "move.mp4", [(a, (0, 100), (800, 100))], n=50)
    raw, smooth = (_keypoints(_records(estimator, tmp_path / "move.mp4", s))
                   for s in (False, True))
    ok = (raw[:, :, 2] >= 0.3).all(0)
    speed = np.diff(raw[:, ok, 0], axis=0).mean()
    lag = (raw[10:, ok, 0] - smooth[10:, ok, 0]).mean()
    print(f"moving person at {speed:.1f} px/frame: lag {lag:.1f} px")
    assert speed > 10
    assert 0 < lag < 0.5 * speed  # behind, by less than half a frame's motion
