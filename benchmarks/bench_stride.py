"""Output stride 8, 16 and 32 from the one shared model: time per backend and agreement
with stride 16 on every shared image.

The 481x641 model is rewritten for each stride (``posefast.models.stride``; TF Lite for the
``tflite`` backend, its ``posefast convert`` conversion rewritten for ``onnx``). Times:
median ms of ``backend.run`` on couple.jpg (batch of one, 2 threads), every backend and
stride taking turns run by run after warm-up, in this one process. Agreement: each
pose stride 16 finds (score threshold 0.5) is matched with the pose of the other stride
nearest to it (median keypoint distance); the table gives the median of those
distances in network-input pixels per image (min-max over images), and the people
found at the stride's default threshold (0.5; 0.15 at stride 32) against stride 16's.

    python benchmarks/bench_stride.py              # about a minute on 2 cores
    python benchmarks/bench_stride.py --repeats 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402
from posefast import decode_outputs
from posefast.config import STRIDE_SCORE_THRESHOLD
from posefast.models.convert import convert_tflite_to_onnx
from posefast.preprocess import to_input
from posefast.backend_registry import create_backend
from posefast.models.stride import rewrite_stride

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("POSEFAST_TEST_DATA", HERE.parent.parent / "shared"))
MODEL = DATA / "models" / "posenet_mobilenet_v1_075_481_641_quant.tflite"
IMAGES = ("couple.jpg", "kneeling.png", "sitting.png", "standing.png",
          "standing_doorway.png", "standing_far.png", "no_person.jpg")
STRIDES = (8, 16, 32)


def build(folder: Path) -> dict:
    """{(backend, stride): model path}."""
    onnx16 = folder / "s16.onnx"
    convert_tflite_to_onnx(MODEL, onnx16)
    paths = {}
    for stride in STRIDES:
        paths["tflite", stride] = folder / f"s{stride}.tflite"
        rewrite_stride(MODEL, paths["tflite", stride], stride)
        paths["onnx", stride] = folder / f"s{stride}r.onnx"
        rewrite_stride(onnx16, paths["onnx", stride], stride)
    return paths


def batch(backend, name: str) -> np.ndarray:
    image = Image.open(DATA / "images" / name).convert("RGB")
    return to_input(image, image.width, image.height, backend.input_spec, "stretch")[0][None]


def pose_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Median distance of the keypoints of two poses, (17, 3) x/y/score arrays."""
    return float(np.median(np.hypot(*(a[:, :2] - b[:, :2]).T)))


#: A person counts as found again when the nearest pose lies within this many
#: network-input pixels (3 % of the 641-pixel width), median over its keypoints.
SAME_PERSON_PX = 0.03 * 641


def agreement(reference: list, other: list) -> tuple[float | None, int]:
    """(median over reference poses of the distance to the nearest other pose,
    how many reference poses have one within SAME_PERSON_PX)."""
    dists = [min((pose_distance(r.keypoints, o.keypoints) for o in other), default=np.inf)
             for r in reference]
    finite = [d for d in dists if np.isfinite(d)]
    found = sum(d <= SAME_PERSON_PX for d in dists)
    return (float(np.median(finite)) if finite else None), found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per figure")
    args = parser.parse_args()
    print(machine.describe())
    with tempfile.TemporaryDirectory() as tmp:
        paths = build(Path(tmp))
        backends = {key: create_backend(key[0], str(p), num_threads=2) for key, p in paths.items()}
        grids = {}
        poses = {}
        for key, b in backends.items():
            threshold = STRIDE_SCORE_THRESHOLD.get(key[1], 0.5)
            for name in IMAGES:
                out = b.run(batch(b, name))
                hm = getattr(out.heatmaps, "array", out.heatmaps)  # Quantized or ndarray
                grids[key] = hm.shape[1:3] if out.layout == "hwc" else hm.shape[2:]
                assert out.output_stride == key[1], (key, out.output_stride)
                poses[key, name] = decode_outputs(out, score_threshold=threshold)[0]
        image = {key: batch(b, "couple.jpg") for key, b in backends.items()}
        times = {key: [] for key in backends}
        for round_ in range(2 + args.repeats):
            for key, b in backends.items():
                t0 = time.perf_counter()
                b.run(image[key])
                if round_ >= 2:
                    times[key].append(time.perf_counter() - t0)
        print("| stride | grid at 481x641 | tflite ms | onnx ms | median px from stride 16 "
              "(tflite, per image min-max) | people found / stride 16's | tflite vs onnx px |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for stride in STRIDES:
            meds, found, total, cross = [], 0, 0, []
            for name in IMAGES:
                ref = poses[("tflite", 16), name]
                med, n = agreement(ref, poses[("tflite", stride), name])
                if med is not None:
                    meds.append(med)
                found += n
                total += len(ref)
                cm, _ = agreement(poses[("tflite", stride), name], poses[("onnx", stride), name])
                if cm is not None:
                    cross.append(cm)
            ms = {bk: 1000 * statistics.median(times[bk, stride]) for bk in ("tflite", "onnx")}
            grid = "x".join(map(str, grids["tflite", stride]))
            print(f"| {stride} | {grid} | {ms['tflite']:.1f} | {ms['onnx']:.1f} | "
                  f"{min(meds):.1f}-{max(meds):.1f} | {found}/{total} | {max(cross):.2f} |")
        for b in backends.values():
            b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
