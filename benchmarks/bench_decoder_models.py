"""Coral's decoder models through posefast: the one-time cut, and the network time of each
cut model against the shared component model at the same input size.

Cut: median ms of ``cut_decoder_op`` per file (it is made once and cached; later loads
cost a hash). Run: median ms of ``backend.run`` (tflite, batch of one, 2 threads) on
couple.jpg, the models taking turns run by run after warm-up, in this one process; the
ratio is against the shared component model (no op) at the same input size.

    python benchmarks/bench_decoder_models.py              # about 20 s on 2 cores
    python benchmarks/bench_decoder_models.py --repeats 50
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
from posefast.backend_registry import create_backend
from posefast.models.decoder_op import cut_decoder_op

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("POSEFAST_TEST_DATA", HERE.parent.parent / "shared"))
COMPONENT = DATA / "models" / "posenet_mobilenet_v1_075_{}_quant.tflite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    decoders = sorted((DATA / "models" / "coral-decoder").glob("*_decoder.tflite"))
    print(f"# {machine.describe()}")
    with tempfile.TemporaryDirectory() as work:
        models, cut_ms = {}, {}
        for path in decoders:
            target = Path(work) / path.name
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                cut_decoder_op(path, target)
                times.append(time.perf_counter() - t0)
            cut_ms[path.name] = 1000 * statistics.median(times)
            models[path.name] = target
        for size in ("353_481", "481_641", "721_1281"):
            models[f"component {size}"] = Path(str(COMPONENT).format(size))
        backends = {name: create_backend("tflite", str(p), num_threads=2)
                    for name, p in models.items()}
        image = Image.open(DATA / "images" / "couple.jpg").convert("RGB")
        batches = {}
        for name, backend in backends.items():
            spec = backend.input_spec
            batches[name] = np.asarray(image.resize((spec.width, spec.height)), spec.dtype)[None]
            backend.run(batches[name])  # warm-up
        times = {name: [] for name in backends}
        for _ in range(args.repeats):
            for name, backend in backends.items():
                t0 = time.perf_counter()
                backend.run(batches[name])
                times[name].append(time.perf_counter() - t0)
        median = {name: 1000 * statistics.median(t) for name, t in times.items()}
        print("| model | input | cut ms | run ms | ratio to the component model |")
        print("| --- | --- | --- | --- | --- |")
        for path in decoders:
            spec = backends[path.name].input_spec
            size = f"{spec.height}_{spec.width}"
            base = median[f"component {size}"]
            print(f"| {path.name} | {spec.height}x{spec.width} | {cut_ms[path.name]:.1f} | "
                  f"{median[path.name]:.1f} | {median[path.name] / base:.2f} "
                  f"(component {base:.1f} ms) |")
        for backend in backends.values():
            backend.close()


if __name__ == "__main__":
    main()
