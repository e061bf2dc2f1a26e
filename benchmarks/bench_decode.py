"""Decoding speed of the Cython core on real PoseNet outputs, against baselines in the same run.

The outputs are those of the shared 481x641 uint8 model for couple.jpg (a 31x41 grid),
exactly as the runtime emits them (quantised, the mid-range tensor split by views).
Reported, as medians per call from Python on one core:

- posefast multi-pose (max_detections 20, score_threshold 0.2, nms_radius 10) and
  single-pose decoding, reading the quantised tensors in place;
- the same through ``decode_outputs`` on a batch of 8 frames (per frame);
- the NumPy reference of the tests (``tests/reference.py``: the same algorithm in plain
  NumPy and Python loops, which the core must match to float rounding) and the
  NumPy port in ``benchmarks/numpy_decoder.py`` (dequantise, then decode; the kind of
  decoder people otherwise use from Python), with the ratios to posefast;
- the floor: reading the heatmap once (NumPy's max over the uint8 tensor);
- two threads each decoding their own frames (the kernels release the GIL): frames
  per second against one thread;
- resident memory before and after ``--memory-calls`` multi-pose decodes.

Run: ``python benchmarks/bench_decode.py [--image couple.jpg] [--memory-calls N] [--json]``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import posefast  # noqa: E402
from posefast import ModelOutputs, Quantized  # noqa: E402
import machine  # noqa: E402
from numpy_decoder import decode_multi  # noqa: E402
import reference  # noqa: E402
# the tests' own runner, so the benchmark decodes exactly what the tests check
from posenet_outputs import dequantized, run_posenet  # noqa: E402

DATA = Path(os.environ.get("POSEFAST_TEST_DATA", HERE.parent.parent / "shared"))
MODEL = DATA / "models" / "posenet_mobilenet_v1_075_481_641_quant.tflite"
ARGS = dict(max_detections=20, score_threshold=0.2, nms_radius=10.0, refine_steps=5)


def median_us(fn, min_time: float = 1.0, repeat: int = 15) -> float:
    """Median over ``repeat`` rounds of the mean time per call, in microseconds."""
    fn()
    n, t = 1, 0.0
    while True:  # calls per round so that a round lasts about min_time / repeat
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - t0
        if t >= min_time / repeat:
            break
        n *= 2
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t0) / n)
    return statistics.median(rounds) * 1e6


def thread_scaling(outputs: ModelOutputs, seconds: float = 1.0) -> dict:
    """Frames per second decoding batches on one thread and on two at once."""
    from concurrent.futures import ThreadPoolExecutor

    n = outputs.heatmaps.array.shape[0]

    def work(_):
        done, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            posefast.decode_outputs(outputs, **ARGS)
            done += n
        return done / (time.perf_counter() - t0)

    one = work(0)
    with ThreadPoolExecutor(2) as pool:
        two = sum(pool.map(work, range(2)))
    return {"threads1_fps": one, "threads2_fps": two, "threads2_speedup": two / one}


def memory(fn, calls: int) -> dict:
    """Resident memory (Linux /proc) before and after ``calls`` calls of fn."""
    def rss_mb():
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except OSError:
            return float("nan")

    for _ in range(1000):
        fn()
    before = rss_mb()
    for _ in range(calls):
        fn()
    return {"rss_before_mb": before, "rss_after_mb": rss_mb(), "memory_calls": calls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", default="couple.jpg", help="a file in shared/images")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--memory-calls", type=int, default=200_000, metavar="N",
                        help="decodes between the two resident-memory readings (default 200000)")
    args = parser.parse_args(argv)
    if not MODEL.is_file():
        sys.exit(f"model not found: {MODEL} (set POSEFAST_TEST_DATA to the shared folder)")

    o = run_posenet(MODEL, DATA / "images" / args.image)
    hm, off, fwd, bwd = o["heatmaps"], o["offsets"], o["fwd"], o["bwd"]
    poses = posefast.decode_multiple_poses(hm, off, fwd, bwd, 16, **ARGS)

    batch = 8
    rep = lambda t: Quantized(np.repeat(t.array, batch, axis=0), t.scale, t.zero_point)  # noqa: E731
    outputs = ModelOutputs(rep(hm), rep(off), rep(fwd), rep(bwd), 16)

    fig = {}
    fig["multi_us"] = median_us(lambda: posefast.decode_multiple_poses(hm, off, fwd, bwd, 16, **ARGS))
    fig["single_us"] = median_us(lambda: posefast.decode_single_pose(hm, off, 16))
    fig["batch8_multi_us_per_frame"] = median_us(
        lambda: posefast.decode_outputs(outputs, **ARGS)) / batch
    fig["floor_read_heatmap_us"] = median_us(lambda: hm.array.max())

    def numpy_port():
        return decode_multi(*(dequantized(t)[0] for t in (hm, off, fwd, bwd)), 16, **ARGS)

    fig["numpy_port_us"] = median_us(numpy_port, min_time=3.0, repeat=7)
    fig["numpy_port_ratio"] = fig["numpy_port_us"] / fig["multi_us"]
    fig["reference_us"] = median_us(
        lambda: reference.multiple_poses(hm, off, fwd, bwd, 16, **ARGS), min_time=3.0, repeat=5)
    fig["reference_ratio"] = fig["reference_us"] / fig["multi_us"]
    fig.update(thread_scaling(outputs))
    fig.update(memory(lambda: posefast.decode_multiple_poses(hm, off, fwd, bwd, 16, **ARGS),
                      args.memory_calls))
    fig["poses"] = len(poses)
    fig["poses_above_0.5"] = sum(p.score > 0.5 for p in poses)
    fig["numpy_port_poses"] = len(numpy_port())
    fig["machine"] = machine.describe()

    if args.json:
        print(json.dumps(fig, indent=2))
        return 0
    print(f"{args.image}: 481x641 model, grid {hm.array.shape[1]}x{hm.array.shape[2]}, "
          f"{fig['poses']} poses ({fig['poses_above_0.5']} above 0.5); {fig['machine']}")
    print(f"  multi-pose                 {fig['multi_us']:9.1f} us")
    print(f"  single-pose                {fig['single_us']:9.1f} us")
    print(f"  multi-pose, batch of 8     {fig['batch8_multi_us_per_frame']:9.1f} us per frame")
    print(f"  floor (read heatmap once)  {fig['floor_read_heatmap_us']:9.1f} us")
    print(f"  2 threads, frames/s         {fig['threads2_fps']:9.0f} "
          f"({fig['threads2_speedup']:.2f}x one thread's {fig['threads1_fps']:.0f})")
    print(f"  resident memory            {fig['rss_before_mb']:.1f} MB -> "
          f"{fig['rss_after_mb']:.1f} MB over {fig['memory_calls']} decodes")
    print(f"  NumPy reference (tests)    {fig['reference_us']:9.1f} us "
          f"({fig['reference_ratio']:.0f}x posefast)")
    print(f"  NumPy port                 {fig['numpy_port_us']:9.1f} us "
          f"({fig['numpy_port_ratio']:.0f}x posefast; {fig['numpy_port_poses']} poses)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
