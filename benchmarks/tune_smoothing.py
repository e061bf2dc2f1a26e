"""How the One Euro defaults were chosen: jitter and lag over a grid of parameters.

Clips made from the shared photos, posed by the 353x481 model:
- still: standing.png for 2 s at 25 fps, each frame with Gaussian pixel noise
  (sigma 12), so that the keypoints jitter though nothing moves;
- moving: the person of standing.png pasted over no_person.jpg crossing a 960x480
  frame in 2 s (16 px per frame, about 1.5 body heights per second).

Reported per (min_cutoff, beta): the still jitter (mean frame-to-frame keypoint
motion) as a fraction of the raw one; the lag on the moving person (mean raw minus
smoothed x along the motion, pixels, after the first 10 frames); and the moving
jitter (mean second difference, which is 0 for the true straight-line motion) as a
fraction of the raw one. Keypoints found in every frame (score >= 0.3) count.

    python benchmarks/tune_smoothing.py
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import machine  # noqa: E402
from video_clips import crossing, person_crop, write_video  # noqa: E402

DATA = Path(os.environ.get("POSEFAST_TEST_DATA", HERE.parent.parent / "shared"))
MODEL = DATA / "models" / "posenet_mobilenet_v1_075_353_481_quant.tflite"


def clips(folder: Path) -> tuple[Path, Path]:
    images = DATA / "images"
    rng = np.random.default_rng(0)
    still = np.asarray(Image.open(images / "standing.png").convert("RGB")).astype(float)
    frames = [np.clip(still + rng.normal(0, 12, still.shape), 0, 255).astype(np.uint8)
              for _ in range(50)]
    write_video(folder / "still.mp4", frames, [i / 25 for i in range(50)])
    person = person_crop(images, "standing.png", (376, 163, 521, 480))
    crossing(images, folder / "move.mp4", [(person, (0, 100), (800, 100))], n=50)
    return folder / "still.mp4", folder / "move.mp4"


def series(estimator, path: Path) -> tuple[list[float], np.ndarray]:
    from posefast.reading.video import iter_frames

    times, kps = [], []
    for f in iter_frames(str(path)):
        poses = estimator.estimate(f.pixels)
        assert len(poses) == 1, f"{path} frame {f.index}: {len(poses)} poses"
        times.append(f.time)
        kps.append(poses[0].keypoints.astype(np.float64))
    return times, np.stack(kps)


def smooth(times, kps, min_cutoff, beta, d_cutoff=1.0) -> np.ndarray:
    from posefast.video import PoseSmoother

    s = PoseSmoother(min_cutoff, beta, d_cutoff)
    return np.stack([s.smooth(1, k, t) for t, k in zip(times, kps)])


def jitter(k, ok) -> float:
    return float(np.linalg.norm(np.diff(k[:, ok, :2], axis=0), axis=-1).mean())


def shake(k, ok) -> float:
    return float(np.linalg.norm(np.diff(k[5:, ok, :2], 2, axis=0), axis=-1).mean())


def main() -> None:
    from posefast import PoseEstimator

    print(machine.describe())
    with tempfile.TemporaryDirectory() as tmp, PoseEstimator(model=str(MODEL)) as est:
        still_path, move_path = clips(Path(tmp))
        (ts, still), (tm, move) = series(est, still_path), series(est, move_path)
    ok_s, ok_m = (still[:, :, 2] >= 0.3).all(0), (move[:, :, 2] >= 0.3).all(0)
    speed = float(np.diff(move[:, ok_m, 0], axis=0).mean())
    print(f"raw: still jitter {jitter(still, ok_s):.2f} px/frame; moving person "
          f"{speed:.1f} px/frame, shake {shake(move, ok_m):.2f} px/frame^2")
    print("| min_cutoff (Hz) | beta | still jitter | lag (px) | moving shake |")
    print("| --- | --- | --- | --- | --- |")
    for mc in (0.5, 1.0, 2.0, 3.0):
        for beta in (0.0, 1.0, 3.0, 10.0, 30.0, 100.0):
            s, m = smooth(ts, still, mc, beta), smooth(tm, move, mc, beta)
            lag = float((move[10:, ok_m, 0] - m[10:, ok_m, 0]).mean())
            print(f"| {mc} | {beta} | x{jitter(s, ok_s) / jitter(still, ok_s):.2f} | "
                  f"{lag:.1f} | x{shake(m, ok_m) / shake(move, ok_m):.2f} |")


if __name__ == "__main__":
    main()
