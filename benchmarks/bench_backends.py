"""Inference time per image of each backend, at three input sizes, with 1 and 2 threads.

For every size the shared TF Lite model of that size runs on the ``tflite`` backend,
and its ``posefast convert`` conversion on the ``onnx`` backend (CPU provider), both
on the same pre-processed photo (couple.jpg), in this one process. Each figure is the
median of --repeats timed runs of ``backend.run`` on a batch of one, after warm-up
runs, all backends and thread counts of a size taking turns run by run (so that load
from other processes hits them alike); the ratio is onnx / tflite at the same size
and thread count. ``tflite-gpu`` is timed too when this machine has a usable GPU.

    python benchmarks/bench_backends.py              # about 1 minute on 2 cores
    python benchmarks/bench_backends.py --repeats 5  # a quick look
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402
from posefast.preprocess import to_input
from posefast.backend_registry import create_backend, get_backend_class

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("POSEFAST_TEST_DATA", HERE.parent.parent / "shared"))
SIZES = ((353, 481), (481, 641), (721, 1281))
THREADS = (1, 2)


def model_path(size: tuple[int, int]) -> Path:
    return DATA / "models" / f"posenet_mobilenet_v1_075_{size[0]}_{size[1]}_quant.tflite"


def median_ms(backends: dict, image: Image.Image, repeats: int, warmup: int = 2) -> dict:
    """Median ms per run of each backend, runs interleaved round-robin so that load from
    other processes on a shared machine hits every backend alike."""
    batches = {key: to_input(image, image.width, image.height, b.input_spec, "stretch")[0][None]
               for key, b in backends.items()}
    times: dict = {key: [] for key in backends}
    for round_ in range(warmup + repeats):
        for key, backend in backends.items():
            t0 = time.perf_counter()
            backend.run(batches[key])
            if round_ >= warmup:
                times[key].append(time.perf_counter() - t0)
    return {key: 1000 * statistics.median(t) for key, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per figure")
    parser.add_argument("--sizes", nargs="+", default=[f"{h}x{w}" for h, w in SIZES],
                        metavar="HxW", help="input sizes (shared models exist for "
                        + ", ".join(f"{h}x{w}" for h, w in SIZES) + ")")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes]
    from posefast.models.convert import convert_tflite_to_onnx

    image = Image.open(DATA / "images" / "couple.jpg").convert("RGB")
    backends = ["tflite", "onnx"]
    if get_backend_class("tflite-gpu").availability().usable:
        backends.append("tflite-gpu")
    print(f"# {machine.describe()}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}; median ms per image over {args.repeats} runs; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    print("| input (HxW) | threads | " + " | ".join(backends) + " | onnx / tflite |")
    print("| --- | --- | " + " | ".join("---" for _ in backends) + " | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            onnx_model = Path(tmp) / f"posenet_{size[0]}.onnx"
            convert_tflite_to_onnx(model_path(size), onnx_model)
            models = {"tflite": model_path(size), "onnx": onnx_model,
                      "tflite-gpu": model_path(size)}
            opened = {(name, threads): create_backend(name, str(models[name]), input_size=size,
                                                      num_threads=threads)
                      for name in backends for threads in THREADS}
            ms = median_ms(opened, image, args.repeats)
            for backend in opened.values():
                backend.close()
            for threads in THREADS:
                cells = " | ".join(f"{ms[n, threads]:.1f}" for n in backends)
                print(f"| {size[0]}x{size[1]} | {threads} | {cells} | "
                      f"{ms['onnx', threads] / ms['tflite', threads]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
