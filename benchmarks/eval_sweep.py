"""AP per model and option on a labelled image set: the loop a user runs with
`posefast run --eval`, over the choices at once, as one Markdown table.

Each configuration (model x output stride x resize mode, and the score threshold)
poses IMAGES with `posefast run` (JSON Lines into a temporary folder, every core)
and is scored against ANNOTATIONS (a COCO person_keypoints file labelling those
images) with `posefast.evaluation.evaluate`. The wall time of each job is given too
(job start included), to weigh accuracy against speed on this machine.

    python benchmarks/eval_sweep.py val2017/ person_keypoints_val2017.json
    python benchmarks/eval_sweep.py photos/ labels.json --models ../shared/models/*.tflite \\
        --strides 16 8 --resize stretch letterbox --thresholds 0.5 0.15
"""
from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402
from posefast.evaluation import evaluate, load_annotations  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("images", help="the labelled images: a folder, glob or @list")
    parser.add_argument("annotations", help="their COCO person_keypoints JSON")
    parser.add_argument("--models", nargs="+",
                        default=[str(p) for p in sorted(SHARED.glob("*.tflite"))] or [None],
                        help="model files or registry names (default: ../shared/models)")
    parser.add_argument("--strides", nargs="+", type=int, default=[16])
    parser.add_argument("--resize", nargs="+", default=["stretch", "letterbox"])
    parser.add_argument("--thresholds", nargs="+", type=float, default=[None],
                        help="--score-threshold values (default: the stride's own)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="more options for every posefast run (e.g. --backend onnx)")
    args = parser.parse_args()
    truth = load_annotations(args.annotations)
    print(f"<!-- {machine.describe()}; {args.images} against {args.annotations} -->")
    print("| model | stride | resize | threshold | AP | AP50 | AP75 | APm | APl | AR | job (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for n, (model, stride, resize, threshold) in enumerate(itertools.product(
                args.models, args.strides, args.resize, args.thresholds)):
            out = Path(folder) / f"{n}.jsonl"
            cmd = [sys.executable, "-m", "posefast", "run", args.images, "--output", str(out),
                   "-q", "--output-stride", str(stride), "--resize", resize, *args.extra]
            cmd += ["--model", model] if model else []
            cmd += ["--score-threshold", str(threshold)] if threshold is not None else []
            start = time.perf_counter()
            job = subprocess.run(cmd, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            name = Path(model).stem if model else "default"
            if job.returncode not in (0, 1):
                print(f"| {name} | {stride} | {resize} | {threshold or '-'} | failed: "
                      f"{job.stderr.strip().splitlines()[-1]} |||||| |")
                continue
            s = evaluate(out, truth).summary
            cells = [f"{s[k]:.3f}" if s[k] >= 0 else "n/a"
                     for k in ("AP", "AP50", "AP75", "APm", "APl", "AR")]
            print(f"| {name} | {stride} | {resize} | {threshold or 'default'} | "
                  f"{' | '.join(cells)} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
