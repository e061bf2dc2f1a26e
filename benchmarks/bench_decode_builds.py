"""Two or more builds of the decoding core timed against each other in one process.

On a shared machine, timings taken minutes apart differ by more than the changes being
measured; here each build's ``_core`` extension is loaded under its own name and the
builds take turns, round by round, on the same tensors, so that they see the same
load. Give the paths of the ``posefast/_core*.so`` files to compare (e.g. one built
from an older commit with ``python setup.py build_ext --inplace`` in a copy of it; the
baseline ``_core`` and the AVX2 ``_core_avx2`` builds of one commit compare likewise).

Settings (``--case``), on couple.jpg's outputs of the shared 481x641 model (31x41
grid) or, for the ``*_many`` cases, of the 721x1281 model (46x81 grid, as issue 12
measured):
  u8, f32, f32_chw: the defaults of bench_decode (20 poses, threshold 0.2, radius 10)
      from the uint8 tensors, float32 HWC and float32 CHW;
  u8_100, u8_1000, f32_1000, u8_1000_r0, u8_5000: threshold 0 and that many poses
      (radius 20, 20, 20, 0 and 3 pixels).
Reported per build: the minimum and the median over rounds of the mean time per call.

Run: ``python benchmarks/bench_decode_builds.py --case u8_1000 OLD.so NEW.so``.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import machine  # noqa: E402
from bench_decode import DATA  # noqa: E402
from posenet_outputs import dequantized, run_posenet  # noqa: E402

CASES = {  # name: (model, input, (max_detections, score_threshold, nms_radius), calls per round)
    "u8": ("481_641", "u8", (20, 0.2, 10.0), 200),
    "f32": ("481_641", "f32", (20, 0.2, 10.0), 200),
    "f32_chw": ("481_641", "chw", (20, 0.2, 10.0), 200),
    "u8_100": ("721_1281", "u8", (100, 0.0, 20.0), 20),
    "u8_1000": ("721_1281", "u8", (1000, 0.0, 20.0), 5),
    "f32_1000": ("721_1281", "f32", (1000, 0.0, 20.0), 5),
    "u8_1000_r0": ("721_1281", "u8", (1000, 0.0, 0.0), 5),
    "u8_5000": ("721_1281", "u8", (5000, 0.0, 3.0), 1),
}


def load(path: str, i: int):
    """The extension at path as module ``buildI.NAME``, NAME being its file's name up to
    the first dot (``_core`` or ``_core_avx2``: its init function is PyInit_NAME)."""
    name = Path(path).name.split(".")[0]
    spec = importlib.util.spec_from_file_location(f"build{i}.{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("builds", nargs="+", help="paths of _core extension files")
    parser.add_argument("--case", choices=sorted(CASES), default="u8")
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args(argv)
    model, kind, settings, calls = CASES[args.case]
    o = run_posenet(DATA / "models" / f"posenet_mobilenet_v1_075_{model}_quant.tflite",
                    DATA / "images" / "couple.jpg")
    tensors = [o[k] for k in ("heatmaps", "offsets", "fwd", "bwd")]
    layout = "hwc"
    if kind != "u8":
        tensors = [np.ascontiguousarray(dequantized(t)[0]) for t in tensors]
    if kind == "chw":
        tensors = [np.ascontiguousarray(t.transpose(2, 0, 1)) for t in tensors]
        layout = "chw"
    modules = [load(p, i) for i, p in enumerate(args.builds)]
    times: list[list[float]] = [[] for _ in modules]
    for _ in range(args.rounds):
        for m, t in zip(modules, times):
            t0 = time.perf_counter()
            for _ in range(calls):
                m.decode_multiple_poses(*tensors, 16, *settings, layout=layout)
            t.append((time.perf_counter() - t0) / calls * 1e6)
    print(f"{args.case}: {model} model, settings {settings}; {machine.describe()}")
    for path, t in zip(args.builds, times):
        print(f"  min {min(t):10.1f} us   median {statistics.median(t):10.1f} us   {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
