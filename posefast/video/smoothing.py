"""Smoothing keypoints over time with the One Euro filter.

Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter for
Noisy Input in Interactive Systems", CHI 2012. For each new sample ``x`` at time
``t`` (``te = t - t_prev`` seconds after the previous one)::

    alpha(fc) = 1 / (1 + 1 / (2 * pi * fc * te))
    dx     = (x - x_hat_prev) / te                          # speed, units per second
    dx_hat = dx_hat_prev + alpha(d_cutoff) * (dx - dx_hat_prev)
    fc     = min_cutoff + beta * |dx_hat| / scale
    x_hat  = x_hat_prev + alpha(fc) * (x - x_hat_prev)

The first sample passes through unchanged (``dx_hat = 0``). A slow keypoint gets a
low cut-off (little jitter), a fast one a high cut-off (little lag). ``scale``
divides the speed before ``beta`` weighs it: the pose smoother passes the person's
size in pixels, so that ``beta`` means the same for a person near the camera and far
from it, at any video resolution (speed in person sizes per second).
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from .boxes import keypoint_boxes

#: Defaults tuned on videos made from the shared images (see docs/video.md):
#: cut-off (Hz) at rest, speed weight (per person-size per second), speed cut-off (Hz).
DEFAULT_MIN_CUTOFF = 1.0
DEFAULT_BETA = 10.0
DEFAULT_D_CUTOFF = 1.0


class OneEuroFilter:
    """The One Euro filter on an array of values that all share one clock.

    Each element of the array (e.g. the (17, 2) keypoint coordinates of one person)
    is filtered independently; ``min_cutoff`` and ``d_cutoff`` are in Hz, ``beta``
    in 1 / (units of x / scale). Call with samples in time order; a sample at the
    same time as the previous one (``te <= 0``) returns the previous output.
    """

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA,
                 d_cutoff: float = DEFAULT_D_CUTOFF) -> None:
        for name, value in (("min_cutoff", min_cutoff), ("d_cutoff", d_cutoff)):
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite frequency > 0 Hz, got {value}")
        if not (beta >= 0 and math.isfinite(beta)):
            raise ValueError(f"beta must be a finite number >= 0, got {beta}")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    def __call__(self, x: np.ndarray | float, t: float, scale: float = 1.0) -> np.ndarray:
        """The filtered value of sample ``x`` taken at ``t`` seconds (a new array)."""
        x = np.asarray(x, dtype=np.float64)
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"t must be a finite time in seconds, got {t}")
        if self._x is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        if x.shape != self._x.shape:
            raise ValueError(f"sample shape {x.shape} differs from the filter's {self._x.shape}")
        te = t - self._t
        if te <= 0:
            return self._x.copy()
        self._x, self._dx = _step(x, self._x, self._dx, te, scale if scale > 0 else 1.0,
                                  self.min_cutoff, self.beta, self.d_cutoff)
        self._t = t
        return self._x.copy()


def _step(x, x_prev, dx_prev, te, scale, min_cutoff: float, beta: float, d_cutoff: float):
    """One filter step: (x_hat, dx_hat). ``te`` and ``scale`` are numbers or arrays
    that broadcast against ``x`` (one per filtered array of a batch)."""
    dx = (x - x_prev) / te
    dx_hat = dx_prev + _alpha(d_cutoff, te) * (dx - dx_prev)
    cutoff = min_cutoff + beta * np.abs(dx_hat) / scale
    return x_prev + _alpha(cutoff, te) * (x - x_prev), dx_hat


def _alpha(cutoff: float | np.ndarray, te: float | np.ndarray) -> float | np.ndarray:
    r = 2.0 * math.pi * cutoff * te
    return r / (r + 1.0)


class PoseSmoother:
    """One One Euro filter per track, on the x and y of its 17 keypoints.

    ``smooth(track_id, keypoints, time)`` returns the smoothed (17, 3) keypoints
    (scores unchanged); ``smooth_frame`` does the same for all the poses of one
    frame at once; ``end_tracks(alive)`` drops the filters of tracks that ended, so
    that an id coming back would start afresh.
    """

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA,
                 d_cutoff: float = DEFAULT_D_CUTOFF) -> None:
        OneEuroFilter(min_cutoff, beta, d_cutoff)  # validates the parameters
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        # track id -> (x_hat (17, 2), dx_hat (17, 2), time of x_hat)
        self._state: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}

    def smooth(self, track_id: int, keypoints: np.ndarray, time: float,
               scale: float | None = None) -> np.ndarray:
        """Smoothed keypoints of ``track_id`` seen at ``time`` (seconds).

        ``scale`` is the person's size in pixels (default: the larger side of the box
        around the keypoints scoring >= 0.3).
        """
        kp = np.asarray(keypoints, dtype=np.float64)
        return self.smooth_frame([track_id], kp[None], time,
                                 None if scale is None else [scale])[0]

    def smooth_frame(self, track_ids: Sequence[int], keypoints: np.ndarray, time: float,
                     scales: Sequence[float] | None = None) -> np.ndarray:
        """Smoothed (N, 17, 3) keypoints of N distinct tracks seen at ``time``."""
        out = np.array(keypoints, dtype=np.float64)
        if out.ndim != 3 or out.shape[0] != len(track_ids) or out.shape[2] != 3:
            raise ValueError(f"keypoints must have shape ({len(track_ids)}, K, 3), "
                             f"got {out.shape}")
        if scales is None:
            boxes = keypoint_boxes(out)
            scales = np.maximum(np.maximum(boxes[:, 2], boxes[:, 3]), 1.0)
        time = float(time)
        go, x_prev, dx_prev, te, sc = [], [], [], [], []
        for n, tid in enumerate(track_ids):
            state = self._state.get(tid)
            if state is None:  # a new track: its first sample passes unchanged
                self._state[tid] = (out[n, :, :2].copy(), np.zeros_like(out[n, :, :2]), time)
            elif time - state[2] <= 0:
                out[n, :, :2] = state[0]
            else:
                go.append(n)
                x_prev.append(state[0])
                dx_prev.append(state[1])
                te.append(time - state[2])
                sc.append(scales[n] if scales[n] > 0 else 1.0)
        if go:
            x_hat, dx_hat = _step(out[go, :, :2], np.stack(x_prev), np.stack(dx_prev),
                                  np.array(te)[:, None, None], np.array(sc)[:, None, None],
                                  self.min_cutoff, self.beta, self.d_cutoff)
            out[go, :, :2] = x_hat
            for j, n in enumerate(go):
                self._state[track_ids[n]] = (x_hat[j], dx_hat[j], time)
        return out

    def end_tracks(self, alive: Iterable[int]) -> None:
        """Reset the filters of every track not in ``alive``."""
        keep = set(alive)
        for tid in [t for t in self._state if t not in keep]:
            del self._state[tid]

    def reset(self) -> None:
        """Forget every filter (a new video)."""
        self._state.clear()
