"""The batch job on bigger machines: the curve over cores on the CPU, and the job on a GPU.

CPU curve: for each core count N, ``posefast run`` (its defaults, which size the
stages from the cores it may use) runs pinned to N cores (CPU affinity, which
``posefast run`` reads), over the shared images repeated (hard links) to
``--per-core`` inputs per core. Its wall-clock throughput, start-up included, is
set against the limit of those N cores measured in this process: N / (network time
at 1 thread + preparation time) per image, both in CPU time on one core. With
``--loaded``, each row is also set against what N cores do when all N work at once:
N independent loops (prepare an image, run the network at 1 thread, no decoding, no
hand-over), each pinned to a core of its own, started together and counted over the
same seconds. Where the cores slow each other (shared caches, memory bandwidth, a
lower all-core clock) that is the most the job can reach, and the single-core
limit is out of reach by the difference.

GPU (``--gpu``, where the ``tflite-gpu`` backend is usable): the network's own time
per image at batch sizes 1-16 (fp32 and fp16), the poses of every shared image on
the GPU against the CPU (worst keypoint distance, px, both precisions), then
``posefast run --backend tflite-gpu`` over ``--gpu-count`` inputs in several
configurations: images/s wall-clock with start-up, and the share of the wall time
the network is busy (its seconds summed over inference processes / wall time).

    python benchmarks/bench_scaling.py --cores 1,2          # here: about 1 minute
    python benchmarks/bench_scaling.py --cores 1,2,4,8,16 --gpu   # on a 16-core GPU machine
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import machine  # noqa: E402
from bench_throughput import DATA, MODEL, image_list, posefast_run, prepare_ms  # noqa: E402

MODEL_721 = DATA / "models" / "posenet_mobilenet_v1_075_721_1281_quant.tflite"
#: posefast run configurations measured on the GPU (extra arguments).
GPU_CONFIGS = {
    "defaults": [],
    "--workers 1 --batch-size 1": ["--workers", "1", "--batch-size", "1"],
    "--workers 1 --batch-size 4": ["--workers", "1", "--batch-size", "4"],
    "--workers 2 --batch-size 4": ["--workers", "2", "--batch-size", "4"],
    "--workers 2 --batch-size 8": ["--workers", "2", "--batch-size", "8"],
    "--workers 3 --batch-size 8": ["--workers", "3", "--batch-size", "8"],
    "--workers 4 --batch-size 4": ["--workers", "4", "--batch-size", "4"],
    "fp16 (--backend-option precision=fp16)": ["--backend-option", "precision=fp16"],
}


def network_ms(backend_name: str, model: Path, batch: int, repeats: int = 20,
               cpu_time: bool = False, **options) -> float:
    """Median ms per image of ``backend.run`` on a batch of ``batch`` copies of a
    prepared photo (CPU time of this thread when ``cpu_time``: at 1 thread the
    runtime computes on the calling thread)."""
    from posefast.estimator import prepare_image
    from posefast.backend_registry import create_backend

    with create_backend(backend_name, str(model), **options) as backend:
        pixels = prepare_image(str(DATA / "images" / "couple.jpg"), backend.input_spec,
                               "stretch").array
        inputs = np.repeat(pixels[None], batch, axis=0)
        for _ in range(3):
            backend.run(inputs)
        clock = time.thread_time if cpu_time else time.perf_counter
        times = []
        for _ in range(repeats):
            t0 = clock()
            backend.run(inputs)
            times.append(clock() - t0)
    return statistics.median(times) * 1000 / batch


class GpuUtilization:
    """Samples ``nvidia-smi``'s utilization.gpu (the share of each sample period in
    which a kernel ran on the GPU) every 100 ms while open; ``mean`` is their mean
    in [0, 1], NaN without nvidia-smi."""

    def __enter__(self) -> "GpuUtilization":
        try:
            self.proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                 "-lms", "100"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError:
            self.proc = None
        return self

    def __exit__(self, *exc) -> None:
        self.mean = float("nan")
        if self.proc is None:
            return
        self.proc.terminate()
        out = self.proc.communicate()[0]
        samples = [float(v) for v in out.split() if v.replace(".", "").isdigit()]
        if samples:
            self.mean = statistics.fmean(samples) / 100


def loop_worker(start: float, seconds: float) -> None:
    """One of ``loaded_rate``'s loops: waits for the wall-clock ``start``, then prepares
    and runs the shared images in turn for ``seconds``; prints images done and seconds."""
    from posefast.estimator import prepare_image
    from posefast.backend_registry import create_backend

    images = sorted(str(p) for p in (DATA / "images").iterdir())
    with create_backend("tflite", str(MODEL), num_threads=1) as backend:
        backend.run(prepare_image(images[0], backend.input_spec, "stretch").array[None])
        time.sleep(max(0.0, start - time.time()))
        t0 = time.perf_counter()
        done = 0
        while (elapsed := time.perf_counter() - t0) < seconds:
            pixels = prepare_image(images[done % len(images)], backend.input_spec, "stretch")
            backend.run(pixels.array[None])
            done += 1
    print(done, elapsed)


def loaded_rate(cores: int, seconds: float = 4.0) -> float:
    """Images/s of ``cores`` independent prepare + network loops, one pinned to each of
    the first ``cores`` cores this process may use, all running at once."""
    start = time.time() + 3.0 + 0.05 * cores  # after every loop has loaded its model
    procs = [subprocess.Popen(["taskset", "-c", str(c), sys.executable, __file__,
                               "--loop-worker", f"{start}:{seconds}"],
                              stdout=subprocess.PIPE, text=True) for c in first_cores(cores)]
    total = 0.0
    for proc in procs:
        out = proc.communicate()[0].split()
        if proc.returncode != 0 or len(out) != 2:
            raise SystemExit(f"a loop failed ({proc.returncode}): {out}")
        total += int(out[0]) / float(out[1])
    return total


def first_cores(cores: int) -> list[int]:
    """The first ``cores`` cores this process may use."""
    return sorted(os.sched_getaffinity(0))[:cores]


def pinned(cores: int) -> list[str]:
    """A command prefix that runs on the first ``cores`` cores this process may use."""
    return ["taskset", "-c", ",".join(map(str, first_cores(cores)))]


def cpu_curve(core_counts: list[int], per_core: int, repeats: int, tmp: str,
              job_args: list[str], loaded: bool) -> None:
    # CPU time and wall time both: where they differ (a virtual machine's clocks), the
    # smaller one is taken, which makes the limit the higher, the harder to reach.
    net_cpu = network_ms("tflite", MODEL, 1, cpu_time=True, num_threads=1)
    net_wall = network_ms("tflite", MODEL, 1, num_threads=1)
    net = min(net_cpu, net_wall)
    sample = image_list(7, tmp + "/sample")
    prep = prepare_ms(sample)
    print(f"network alone (tflite, 1 thread): {net_cpu:.1f} CPU ms, {net_wall:.1f} wall ms per "
          f"image; preparation: {prep:.1f} CPU ms/image; limit per core "
          f"{1000 / (net + prep):.1f} images/s")
    print("| cores | inputs | images/s wall (start-up included) | limit | / limit | "
          "N loops at once | / that | images/s inside the job | CPU ms/image | plan |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    breakdowns: list[str] = []
    for n in core_counts:
        folder = f"{tmp}/cores{n}"
        os.makedirs(folder)
        paths = image_list(per_core * n, folder)
        list_file = f"{folder}/inputs.txt"
        Path(list_file).write_text("\n".join(paths) + "\n")
        breakdown: dict = {}
        runs = [posefast_run(list_file, f"{folder}/out.jsonl", job_args, prefix=pinned(n),
                             detail=True, breakdown=breakdown)
                for _ in range(repeats)]
        wall, inside, cpu_ms = (statistics.median(r[i] for r in runs) for i in (0, 1, 3))
        limit = n * 1000 / (net + prep)
        at_once = loaded_rate(n) if loaded else float("nan")
        print(f"| {n} | {len(paths)} | {wall:.1f} | {limit:.1f} | {wall / limit:.2f} | "
              f"{at_once:.1f} | {wall / at_once:.2f} | {inside:.1f} | {cpu_ms:.1f} | "
              f"{runs[-1][4]} |", flush=True)
        kinds = sorted(k for k in breakdown if not k.endswith(" count") and k != "first record")
        per_image = len(paths) * repeats / 1000
        breakdowns.append(f"{n} cores: first record at {breakdown['first record']:.2f} s; CPU ms "
                          "per image by process: " + ", ".join(
                              f"{k} {breakdown[k] / per_image:.1f} (x{breakdown[k + ' count'] // repeats})"
                              for k in kinds))
    print("\n".join(breakdowns))


def worst_distance(model: Path, options: dict[str, str]) -> dict[str, float]:
    """Per shared image: the largest distance (px) between a keypoint on the GPU and
    the same keypoint on the CPU (tflite), or inf when the number of poses differs."""
    from posefast import PoseEstimator

    images = sorted((DATA / "images").iterdir())
    found = {}
    with PoseEstimator(model=str(model), backend="tflite") as cpu, \
            PoseEstimator(model=str(model), backend="tflite-gpu",
                          backend_options=options) as gpu:
        for image in images:
            a, b = gpu.estimate(str(image)), cpu.estimate(str(image))
            if len(a) != len(b):
                found[image.name] = float("inf")
                continue
            found[image.name] = max((float(np.abs(p.keypoints[:, :2] - q.keypoints[:, :2]).max())
                                     for p, q in zip(a, b)), default=0.0)
    return found


def gpu_report(count: int, tmp: str, extra_options: dict[str, str], jobs_only: bool,
               only: list[str]) -> None:
    if not jobs_only:
        gpu_network(extra_options)
    gpu_jobs(count, tmp, extra_options, only)


def gpu_network(extra_options: dict[str, str]) -> None:
    print("\nGPU: network time per image (ms), tflite-gpu, couple.jpg repeated")
    print("| model | precision | " + " | ".join(f"batch {b}" for b in (1, 2, 4, 8, 16)) + " |")
    print("| --- | --- |" + " ---: |" * 5)
    for model in (MODEL, MODEL_721):
        for precision in ("fp32", "fp16"):
            cells = []
            for b in (1, 2, 4, 8, 16):
                try:
                    ms = network_ms("tflite-gpu", model, b, precision=precision, **extra_options)
                    cells.append(f"{ms:.2f}")
                except Exception as exc:  # a batch size the accelerator refuses
                    cells.append(f"failed: {type(exc).__name__}")
            print(f"| {model.stem.split('_', 3)[3]} | {precision} | " + " | ".join(cells) + " |",
                  flush=True)
    print("\nGPU against CPU: worst keypoint distance (px) per shared image")
    for model in (MODEL, MODEL_721):
        for precision in ("fp32", "fp16"):
            found = worst_distance(model, {"precision": precision, **extra_options})
            print(f"{model.stem.split('_', 3)[3]} {precision}: worst {max(found.values()):.2f} px; "
                  + ", ".join(f"{k} {v:.2f}" for k, v in found.items()), flush=True)


def gpu_jobs(count: int, tmp: str, extra_options: dict[str, str], only: list[str]) -> None:
    options = [a for k, v in extra_options.items() for a in ("--backend-option", f"{k}={v}")]
    paths = image_list(count, tmp + "/gpu")
    list_file = f"{tmp}/gpu/inputs.txt"
    Path(list_file).write_text("\n".join(paths) + "\n")
    print(f"\nposefast run --backend tflite-gpu over {len(paths)} inputs "
          f"({machine.describe()})")
    print("| configuration | images/s wall (start-up included) | images/s inside | "
          "GPU busy (nvidia-smi, of wall time) | network calls (s summed / wall s) | plan |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, extra in GPU_CONFIGS.items():
        if only and name not in only:
            continue
        try:
            with GpuUtilization() as utilization:
                wall, inside, share, _, plan, workers = posefast_run(
                    list_file, f"{tmp}/gpu/out.jsonl",
                    ["--backend", "tflite-gpu", *options, *extra], detail=True)
        except SystemExit as exc:
            print(f"| {name} | failed: {str(exc)[-300:]!r} | | | | |", flush=True)
            continue
        calls = share * workers * (len(paths) / inside) / (len(paths) / wall)
        print(f"| {name} | {wall:.1f} | {inside:.1f} | {utilization.mean:.0%} | {calls:.0%} | "
              f"{plan} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", default="", help="core counts for the CPU curve, e.g. 1,2,4")
    ap.add_argument("--per-core", type=int, default=42, help="inputs per core in the curve")
    ap.add_argument("--repeats", type=int, default=1, help="runs per core count (median)")
    ap.add_argument("--job-args", default="", help="more posefast run arguments for the curve")
    ap.add_argument("--gpu", action="store_true", help="measure the job on the GPU")
    ap.add_argument("--jobs-only", action="store_true",
                    help="on the GPU, only the posefast run configurations")
    ap.add_argument("--gpu-count", type=int, default=2800, help="inputs of each GPU run")
    ap.add_argument("--gpu-option", action="append", default=[], metavar="KEY=VALUE",
                    help="more tflite-gpu options (fallback=cpu tries this script without a GPU)")
    ap.add_argument("--config", action="append", default=[], choices=list(GPU_CONFIGS),
                    help="only these GPU job configurations (default: all)")
    ap.add_argument("--loaded", action="store_true",
                    help="also measure N independent loops at once for each core count")
    ap.add_argument("--loop-worker", metavar="START:SECONDS", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.loop_worker:
        start, seconds = args.loop_worker.split(":")
        return loop_worker(float(start), float(seconds))
    if not MODEL.is_file():
        raise SystemExit(f"model not found: {MODEL} (set POSEFAST_TEST_DATA)")
    print(f"machine: {machine.describe()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(tmp + "/sample")
        os.makedirs(tmp + "/gpu")
        if args.cores:
            cpu_curve([int(c) for c in args.cores.split(",")], args.per_core, args.repeats, tmp,
                      args.job_args.split(), args.loaded)
        if args.gpu:
            gpu_report(args.gpu_count, tmp, dict(o.split("=", 1) for o in args.gpu_option),
                       args.jobs_only, args.config)


if __name__ == "__main__":
    main()
