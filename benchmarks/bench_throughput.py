"""Batch throughput: ``posefast run`` with 1 and 2 workers against a naive loop.

The naive loop is what a user would write without posefast, on the same runtime
and model: for each image, PIL open + convert + resize, ai-edge-litert's
Interpreter (set_tensor, invoke, get_tensor), the plain NumPy decoder of
``numpy_decoder.py`` on the dequantised outputs, and scaling back to the image.

``posefast run`` is run as users run it (a subprocess, JSON Lines to a file) over
the shared images repeated to at least --count inputs; its summary line gives the
workers' share of time spent in the network, from which the share outside
inference (loading, pre-processing, decoding, scheduling, start-up, idling) follows.

    python benchmarks/bench_throughput.py            # about 3 minutes on 2 cores
    python benchmarks/bench_throughput.py --count 60 # a quick look
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import machine  # noqa: E402
from numpy_decoder import decode_multi  # noqa: E402

DATA = Path(os.environ.get("POSEFAST_TEST_DATA", HERE.parent.parent / "shared"))
MODEL = DATA / "models" / "posenet_mobilenet_v1_075_481_641_quant.tflite"


def image_list(count: int, folder: str) -> list[str]:
    """The shared images repeated, as hard links in ``folder``: `posefast run` poses a
    file named twice only once, so each repeat needs a name of its own."""
    images = sorted((DATA / "images").iterdir())
    paths = []
    for i in range(-(-count // len(images))):  # whole repeats, at least count
        for image in images:
            link = os.path.join(folder, f"{i:04d}-{image.name}")
            try:
                os.link(image, link)
            except OSError:  # another file system
                shutil.copyfile(image, link)
            paths.append(link)
    return paths


def naive_loop(paths: list[str], threads: int) -> tuple[float, float]:
    """(images/s, seconds in invoke per image): the loop a user would write."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(MODEL), num_threads=threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    height, width = inp["shape"][1:3]
    outs = {d["name"]: d for d in interp.get_output_details()}

    def deq(name):
        d = outs[name]
        scale, zero = d["quantization"]
        return (interp.get_tensor(d["index"])[0].astype(np.float32) - zero) * scale

    invoke = 0.0
    start = time.perf_counter()
    for path in paths:
        image = Image.open(path).convert("RGB")
        sx, sy = image.width / width, image.height / height
        pixels = np.asarray(image.resize((width, height), Image.BILINEAR), dtype=np.uint8)
        interp.set_tensor(inp["index"], pixels[None])
        t0 = time.perf_counter()
        interp.invoke()
        invoke += time.perf_counter() - t0
        heat, offs, mid = deq("float_heatmaps"), deq("float_short_offsets"), deq("float_mid_offsets")
        stride = (height - 1) // (heat.shape[0] - 1)
        poses = decode_multi(heat, offs, mid[..., :32], mid[..., 32:], stride)
        [(score, kp * [sx, sy, 1.0]) for score, kp in poses]
    seconds = time.perf_counter() - start
    return len(paths) / seconds, invoke / len(paths)


def preprocess_ms(path: Path, draft: bool, runs: int = 15) -> float:
    """Median ms to load and pre-process one image for the 481x641 input, with or
    without reduced-scale JPEG decoding."""
    from posefast.backend import InputSpec
    from posefast.reading.images import load_image
    from posefast.preprocess import to_input

    spec = InputSpec(481, 641, np.dtype(np.uint8))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        loaded = load_image(path, target_size=(641, 481) if draft else None)
        to_input(loaded.image, loaded.width, loaded.height, spec, "stretch")
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


SUMMARY = re.compile(r"done (\d+), failed (\d+).* in ([\d.]+) s \(([\d.]+) images/s\)"
                     r"(?:; \d+ workers?, (\d+)% of their time in the network)?")


def posefast_run(list_file: str, workers: int, out: str) -> tuple[float, float, float]:
    """(images/s, share of worker time outside the network, wall seconds of the command)."""
    cmd = [sys.executable, "-m", "posefast", "run", f"@{list_file}", "--output", out, "--overwrite",
           "--workers", str(workers), "--model", str(MODEL),
           "--backend-option", "num_threads=1"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    m = SUMMARY.search(r.stderr)
    if r.returncode != 0 or not m:
        raise SystemExit(f"posefast run failed ({r.returncode}):\n{r.stderr}")
    rate = float(m.group(4))
    outside = 1 - int(m.group(5)) / 100 if m.group(5) else float("nan")
    return rate, outside, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=203, help="inputs (the 7 images repeated)")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each, medians reported")
    args = ap.parse_args()
    if not MODEL.is_file():
        raise SystemExit(f"model not found: {MODEL} (set POSEFAST_TEST_DATA)")
    with tempfile.TemporaryDirectory() as tmp:
        paths = image_list(args.count, tmp)
        list_file = os.path.join(tmp, "inputs.txt")
        Path(list_file).write_text("\n".join(paths) + "\n")
        out = os.path.join(tmp, "out.jsonl")

        results: dict[str, list[tuple]] = {}
        for _ in range(args.repeats):
            for threads in (1, 2):
                results.setdefault(f"naive-{threads}", []).append(naive_loop(paths, threads))
            for workers in (1, 2):
                results.setdefault(f"run-{workers}", []).append(posefast_run(list_file, workers, out))

    med = {k: [statistics.median(col) for col in zip(*v)] for k, v in results.items()}
    couple = DATA / "images" / "couple.jpg"
    full_ms, draft_ms = preprocess_ms(couple, False), preprocess_ms(couple, True)
    naive1, naive2 = med["naive-1"][0], med["naive-2"][0]
    run1, run2 = med["run-1"][0], med["run-2"][0]
    invoke = med["naive-1"][1]
    print(f"machine: {machine.describe()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"inputs: {len(paths)} (the shared images repeated), model {MODEL.name}, "
          f"median of {args.repeats} run(s)")
    print(f"network alone (invoke, 1 thread): {invoke * 1000:.0f} ms/image "
          f"= {1 / invoke:.2f} images/s per core")
    print("| pipeline | images/s | share of time outside the network |")
    print("| --- | ---: | ---: |")
    print(f"| naive loop, interpreter 1 thread | {naive1:.2f} | |")
    print(f"| naive loop, interpreter 2 threads | {naive2:.2f} | |")
    for w in (1, 2):
        rate, outside, _ = med[f"run-{w}"]
        print(f"| posefast run --workers {w} (1 thread each) | {rate:.2f} | {outside:.0%} |")
    print(f"2 workers / 1 worker: {run2 / run1:.2f}x")
    print(f"pre-processing couple.jpg (1920x1278 JPEG) for 481x641: {full_ms:.1f} ms decoded in "
          f"full, {draft_ms:.1f} ms decoded at reduced scale (draft mode)")
    print(f"2 workers / naive loop 1 thread: {run2 / naive1:.2f}x; "
          f"/ naive loop 2 threads: {run2 / naive2:.2f}x")


if __name__ == "__main__":
    main()
