"""How multi-pose decoding time grows with the number of poses (issue 12).

The outputs of the shared 721x1281 uint8 model for couple.jpg (a 46x81 grid), read in
place as ``Quantized`` and, dequantised, as float32 (as ONNX models give them). With
``score_threshold=0`` every local maximum is a root, so ``max_detections`` sets how many
poses are walked and compared: root NMS and the soft keypoint NMS ask, per candidate
and per keypoint, whether an earlier pose is near; before the bucket index
(src/near_index.pxd) each asked every earlier pose, so time grew with the square of
the count.

Reported per setting: the minimum and the median over ``--repeat`` single calls (the
minimum is the figure least disturbed by other work on a shared machine), in
microseconds, and the number of poses returned.

Run: ``python benchmarks/bench_decode_scaling.py [--repeat N] [--json]``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import posefast  # noqa: E402
import machine  # noqa: E402
from bench_decode import DATA  # noqa: E402
from posenet_outputs import dequantized, run_posenet  # noqa: E402

MODEL = DATA / "models" / "posenet_mobilenet_v1_075_721_1281_quant.tflite"
# (max_detections, score_threshold, nms_radius): the default, then more and more poses
SETTINGS = [(10, 0.5, 20.0), (100, 0.0, 20.0), (1000, 0.0, 20.0), (1000, 0.0, 0.0),
            (5000, 0.0, 3.0)]


def single_calls_us(fn, repeat: int) -> tuple[float, float]:
    """(minimum, median) of repeat timed single calls, microseconds."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e6, statistics.median(times) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=300, help="timed calls per setting")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not MODEL.is_file():
        sys.exit(f"model not found: {MODEL} (set POSEFAST_TEST_DATA to the shared folder)")
    o = run_posenet(MODEL, DATA / "images" / "couple.jpg")
    quantized = (o["heatmaps"], o["offsets"], o["fwd"], o["bwd"])
    float32 = tuple(dequantized(t)[0] for t in quantized)
    rows = []
    for md, thr, radius in SETTINGS:
        for kind, tensors in (("uint8", quantized), ("float32", float32)):
            def call(tensors=tensors, md=md, thr=thr, radius=radius):
                return posefast.decode_multiple_poses(*tensors, 16, md, thr, radius)
            n = len(call())
            reps = max(5, args.repeat if md <= 1000 else args.repeat // 20)
            lo, med = single_calls_us(call, reps)
            rows.append({"max_detections": md, "score_threshold": thr, "nms_radius": radius,
                         "input": kind, "poses": n, "min_us": lo, "median_us": med})
    fig = {"machine": machine.describe(), "grid": "46x81", "rows": rows}
    if args.json:
        print(json.dumps(fig, indent=2))
        return 0
    print(f"couple.jpg, 721x1281 model (grid 46x81); {fig['machine']}")
    print("  max_det  thr  radius  input    poses     min us   median us")
    for r in rows:
        print(f"  {r['max_detections']:7d}  {r['score_threshold']:.1f}  {r['nms_radius']:6.1f}  "
              f"{r['input']:7s}  {r['poses']:5d}  {r['min_us']:9.1f}  {r['median_us']:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
