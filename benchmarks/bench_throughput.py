"""Batch throughput: ``posefast run`` against the machine's limit and a naive loop.

The naive loop is what a user would write without posefast, on the same runtime
and model: for each image, PIL open + convert + resize, ai-edge-litert's
Interpreter (set_tensor, invoke, get_tensor), the plain NumPy decoder of
``numpy_decoder.py`` on the dequantised outputs, and scaling back to the image.

``posefast run`` is run as users run it (a subprocess, JSON Lines to a file) over
the shared images repeated to at least --count inputs, timed from the command's
start to its end (start-up included). The limit, measured in the same run, is what
the cores can do when every one of them is busy with useful work all the time:
cores / (network time at 1 thread + preparation time) per image, both as CPU time
(equal to the wall time on an idle core, and not inflated by other work). The CPU time
all the job's processes spend per image, against that sum, says how close the job
comes to the limit when it has the cores to itself, whatever else runs meanwhile.

    python benchmarks/bench_throughput.py            # about 4 minutes on 2 idle cores
    python benchmarks/bench_throughput.py --count 60 --repeats 1 # a quick look
"""
from __future__ import annotations

import argparse
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import machine  # noqa: E402
from numpy_decoder import decode_multi  # noqa: E402
from processes import descendants  # noqa: E402  (tests/processes.py)

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


def naive_loop(paths: list[str], threads: int) -> tuple[float, float, float]:
    """(images/s, CPU seconds in invoke per image, CPU ms per image): the loop a user
    would write. (The invoke time is CPU time, so that other work on the machine does
    not inflate it; at 1 thread it is the network's time on an idle core.)"""
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
    cpu0 = time.process_time()
    start = time.perf_counter()
    for path in paths:
        image = Image.open(path).convert("RGB")
        sx, sy = image.width / width, image.height / height
        pixels = np.asarray(image.resize((width, height), Image.BILINEAR), dtype=np.uint8)
        interp.set_tensor(inp["index"], pixels[None])
        t0 = time.thread_time()  # CPU time: at 1 thread XNNPACK runs on this thread
        interp.invoke()
        invoke += time.thread_time() - t0
        heat, offs, mid = deq("float_heatmaps"), deq("float_short_offsets"), deq("float_mid_offsets")
        stride = (height - 1) // (heat.shape[0] - 1)
        poses = decode_multi(heat, offs, mid[..., :32], mid[..., 32:], stride)
        [(score, kp * [sx, sy, 1.0]) for score, kp in poses]
    seconds = time.perf_counter() - start
    cpu_ms = (time.process_time() - cpu0) * 1000 / len(paths)
    return len(paths) / seconds, invoke / len(paths), cpu_ms


def prepare_ms(paths: list[str], runs: int = 7) -> float:
    """Mean over ``paths`` of the median CPU ms to prepare each (what the job's
    preparation stage does: load, decode at reduced scale, resize for the 481x641
    input), in CPU time so that other work on the machine does not inflate it."""
    from posefast.backend import InputSpec
    from posefast.estimator import prepare_image

    spec = InputSpec(481, 641, np.dtype(np.uint8))
    per_image = {}
    for path in sorted(set(paths)):
        times = []
        for _ in range(runs):
            t0 = time.thread_time()
            prepare_image(path, spec, "stretch")
            times.append(time.thread_time() - t0)
        per_image[path] = statistics.median(times) * 1000
    return statistics.fmean(per_image[p] for p in paths)


PLAN = re.compile(r"posefast run: ((\d+) inference process.*)")
SUMMARY = re.compile(r"done (\d+), failed (\d+).* in ([\d.]+) s \(([\d.]+) images/s\)"
                     r"(?:; \d+ workers?, (\d+)% of their time in the network)?")


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process, from /proc (Linux), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _subreaper() -> bool:
    """Makes this process the reaper of its orphaned descendants (Linux's
    PR_SET_CHILD_SUBREAPER); False where that cannot be done."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children_cpu() -> float:
    """CPU seconds (user + system) of every descendant reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_children() -> set[int]:
    """The pids of this process's children (Linux's /proc)."""
    found: set[int] = set()
    for task in Path("/proc/self/task").glob("*/children"):
        try:
            found.update(int(c) for c in task.read_text().split())
        except OSError:
            continue
    return found


def _reap_orphans(before: set[int]) -> None:
    """Waits for the children this process has gained since ``before`` (as subreaper:
    the job's orphaned processes, which end once the job's command has), leaving its
    own (``nvidia-smi`` sampling the GPU) alone."""
    while orphans := _own_children() - before:
        for pid in orphans:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _role(pid: int, main: int) -> str:
    """The job's name for a process (its stages name themselves; the command is
    "main"; anything else under it, the fork server among them, goes by its comm)."""
    if pid == main:
        return "main"
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def posefast_run(list_file: str, out: str, extra: list[str], prefix: Sequence[str] = (),
                 detail: bool = False, breakdown: dict | None = None) -> tuple:
    """(images/s wall-clock with start-up, images/s inside the job, share of the inference
    processes' time in the network, CPU ms per image of all the job's processes) of
    ``posefast run`` as users run it, after the command ``prefix`` (``taskset ...``);
    with ``detail``, the plan it printed and its number of inference processes too.

    The CPU time is that of every process of the job, told apart from the other work
    on a shared machine. This process becomes their "subreaper" (Linux), so that the
    job's grandchildren (the fork server and what it forks) are reaped here and their
    CPU time lands in this process's children's usage: nothing is polled while the
    job runs. (Sampling /proc every 20 ms instead cost 0.3 s of CPU in a 7 s job, 2 %
    of a 2-core machine, taken from the job being timed.) A ``breakdown`` dict asks for
    the CPU seconds of each kind of process (by the name the job gives it), how many
    there were, and "first record" (seconds from the start to the first output byte):
    those are sampled from /proc every 20 ms, at that cost."""
    cmd = [*prefix, sys.executable, "-m", "posefast", "run", f"@{list_file}", "--output", out,
           "--overwrite", "--model", str(MODEL), *extra]
    if breakdown is not None and os.path.exists(out):
        os.unlink(out)  # its first byte is timed
    reaper = _subreaper()
    polled = breakdown is not None or not reaper
    before, children = _children_cpu(), _own_children() if reaper else set()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cpu: dict[int, float] = {}
    roles: dict[int, str] = {}
    first = float("nan")
    if not polled:
        proc.wait()
    while proc.poll() is None:
        for pid in [proc.pid] + descendants(proc.pid):
            if (seconds := _cpu_seconds(pid)) is not None:
                cpu[pid] = seconds
                # a child is named once it has started: read until it has
                if breakdown is not None and roles.get(pid, "python3") in ("python3", "python"):
                    roles[pid] = _role(pid, proc.pid)
        if breakdown is not None and math.isnan(first) and os.path.exists(out) \
                and os.path.getsize(out) > 0:
            first = time.perf_counter() - t0
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    if reaper:  # the fork server and the resource tracker, once they are done
        _reap_orphans(children)
    if not polled:
        cpu = {proc.pid: _children_cpu() - before}
    if breakdown is not None:
        for pid, seconds in cpu.items():
            role = roles.get(pid, "?")
            breakdown[role] = breakdown.get(role, 0.0) + seconds
            breakdown[f"{role} count"] = breakdown.get(f"{role} count", 0) + 1
        breakdown["first record"] = first
    stderr = proc.stderr.read()
    m = SUMMARY.search(stderr)
    if proc.returncode != 0 or not m:
        raise SystemExit(f"posefast run failed ({proc.returncode}):\n{stderr}")
    count = int(m.group(1)) + int(m.group(2))
    busy = int(m.group(5)) / 100 if m.group(5) else float("nan")
    found = count / wall, float(m.group(4)), busy, sum(cpu.values()) * 1000 / count
    if not detail:
        return found
    plan = PLAN.search(stderr)
    return (*found, plan.group(1) if plan else "?", int(plan.group(2)) if plan else 1)


#: The job's configurations measured: the defaults, and the stages sized by hand.
CONFIGS = {
    "posefast run (defaults)": [],
    "posefast run --workers 1 --preparers 1": ["--workers", "1", "--preparers", "1"],
    "posefast run --batch-size 2": ["--batch-size", "2"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=203, help="inputs (the 7 images repeated)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each, medians reported")
    args = ap.parse_args()
    if not MODEL.is_file():
        raise SystemExit(f"model not found: {MODEL} (set POSEFAST_TEST_DATA)")
    from posefast.job.runner import available_cores

    cores = available_cores()
    results: dict[str, list[tuple]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = image_list(args.count, tmp)
        list_file = os.path.join(tmp, "inputs.txt")
        Path(list_file).write_text("\n".join(paths) + "\n")
        out = os.path.join(tmp, "out.jsonl")
        for _ in range(args.repeats):  # interleaved, so that a busy spell hits every one
            for threads in (1, 2):
                results.setdefault(f"naive-{threads}", []).append(naive_loop(paths, threads))
            results.setdefault("prepare", []).append((prepare_ms(paths),))
            for name, extra in CONFIGS.items():
                results.setdefault(name, []).append(posefast_run(list_file, out, extra))

    med = {k: [statistics.median(col) for col in zip(*v)] for k, v in results.items()}
    invoke_ms = med["naive-1"][1] * 1000
    prep_ms = med["prepare"][0]
    limit = cores * 1000 / (invoke_ms + prep_ms)
    naive2 = med["naive-2"][0]
    print(f"machine: {machine.describe()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"inputs: {len(paths)} (the shared images repeated), model {MODEL.name}, "
          f"medians of {args.repeats} interleaved runs")
    print(f"network alone (invoke, 1 thread): {invoke_ms:.1f} CPU ms/image; preparation "
          f"(load, decode, resize): {prep_ms:.1f} CPU ms/image")
    print(f"limit: {cores} cores / ({invoke_ms:.1f} + {prep_ms:.1f}) ms = {limit:.1f} images/s")
    print("| pipeline | images/s wall (start-up included) | / limit | / naive loop 2 threads "
          "| images/s inside the job | network busy | CPU ms per image |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for threads in (1, 2):
        rate, _, cpu_ms = med[f"naive-{threads}"]
        print(f"| naive loop, interpreter {threads} thread{'s' if threads > 1 else ''} | "
              f"{rate:.1f} | {rate / limit:.2f} | {rate / naive2:.2f}x | | | {cpu_ms:.1f} |")
    for name in CONFIGS:
        wall, inside, busy, cpu_ms = med[name]
        print(f"| {name} | {wall:.1f} | {wall / limit:.2f} | {wall / naive2:.2f}x | "
              f"{inside:.1f} | {busy:.0%} | {cpu_ms:.1f} |")
    print(f"CPU per image, all processes of the job, against the limit's "
          f"{invoke_ms + prep_ms:.1f} ms (network + preparation): what the job would reach "
          f"with the cores to itself, start-up included, is at most the limit times this "
          f"ratio: " + ", ".join(f"{name}: {(invoke_ms + prep_ms) / med[name][3]:.2f}"
                                 for name in CONFIGS))

if __name__ == "__main__":
    main()
