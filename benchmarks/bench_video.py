"""Video tracking and smoothing: their cost per frame against the frame's own time.

A frame's time is ``PoseEstimator.estimate`` on the decoded frame (pre-processing,
the 353x481 network, decoding) in this process; tracking and smoothing are the
record-stream stage ``posefast run --track`` / ``--smooth`` applies in the main
process (``TrackingStage.apply`` on the frame's record, dicts to arrays and back
included). Clips are made from the shared photos: the pan and zoom over couple.jpg
(2 people) and the same frames with every pose repeated 5 times, shifted (10 people).
Medians over the frames, the best of ``--repeat`` rounds, measured in the same process.

    python benchmarks/bench_video.py          # about a minute on 2 cores
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import machine  # noqa: E402
from video_clips import pan_zoom  # noqa: E402

DATA = Path(os.environ.get("POSEFAST_TEST_DATA", HERE.parent.parent / "shared"))
MODEL = DATA / "models" / "posenet_mobilenet_v1_075_353_481_quant.tflite"


def per_frame(fn, items, repeat: int) -> float:
    """Median seconds of fn(item) over items, the best of ``repeat`` rounds."""
    best = float("inf")
    for _ in range(repeat):
        times = []
        for item in items:
            t0 = time.perf_counter()
            fn(item)
            times.append(time.perf_counter() - t0)
        best = min(best, statistics.median(times))
    return best


def stage_cost(records, tracking, smoothing, repeat: int) -> float:
    from posefast.video.stream import TrackingStage

    best = float("inf")
    for _ in range(repeat):
        stage = TrackingStage(lambda r: None, tracking, smoothing)
        fresh = copy.deepcopy(records)  # apply() writes into the records
        times = []
        for rec in fresh:
            t0 = time.perf_counter()
            stage.apply(rec)
            times.append(time.perf_counter() - t0)
        best = min(best, statistics.median(times))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from posefast import PoseEstimator
    from posefast.job.records import make_record
    from posefast.reading.video import iter_frames
    from posefast.video.stream import SmoothingOptions, TrackingOptions

    with tempfile.TemporaryDirectory() as tmp:
        clip = pan_zoom(DATA / "images", Path(tmp) / "pan.mp4", n=args.frames)
        frames = list(iter_frames(str(clip.path)))
    print(machine.describe())
    with PoseEstimator(model=str(MODEL)) as est:
        est.estimate(frames[0].pixels)  # warm up
        frame_s = per_frame(lambda f: est.estimate(f.pixels), frames, max(1, args.repeat // 2))
        poses = [est.estimate(f.pixels) for f in frames]
    h, w = frames[0].pixels.shape[:2]
    clips = {
        "pan and zoom, 2 people": [make_record("pan.mp4", f.index, w, h, p, time=f.time)
                                   for f, p in zip(frames, poses)],
        "same, 10 people": [make_record("pan.mp4", f.index, w, h,
                                        [q.transformed(1, 1, 700 * k, 0) for q in p
                                         for k in range(5)], time=f.time)
                            for f, p in zip(frames, poses)],
    }
    print(f"frame ({w}x{h}, 353x481 model, estimate()): {frame_s * 1e3:.2f} ms median")
    print("| clip | poses/frame | stage | us/frame | % of the frame |")
    print("| --- | --- | --- | --- | --- |")
    for name, recs in clips.items():
        n = statistics.mean(len(r["poses"]) for r in recs)
        for label, tracking, smoothing in [
                ("--track (oks)", TrackingOptions(), None),
                ("--track --tracker iou", TrackingOptions(tracker="iou"), None),
                ("--smooth (oks)", TrackingOptions(), SmoothingOptions())]:
            s = stage_cost(recs, tracking, smoothing, args.repeat)
            print(f"| {name} | {n:.1f} | {label} | {s * 1e6:.0f} | {100 * s / frame_s:.2f} % |")


if __name__ == "__main__":
    main()
