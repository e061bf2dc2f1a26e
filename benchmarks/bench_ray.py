"""``posefast run --engine ray`` against the local engine, and what Ray adds per image.

1. End to end, as users run it: ``posefast run @list --output x.jsonl`` with and
   without ``--engine ray`` over the shared images repeated to --count inputs,
   wall clock of the whole command (Ray's start and shutdown included), the two
   engines alternating, --rounds times; medians and their ratio; the records of
   the two engines are checked equal.
2. Ray's cost per image, in one local Ray: the same dataset as ``--engine ray``
   but with a callable class that returns a ready record instead of posing (so
   what is left is scheduling the batches, moving inputs and records through the
   object store and turning them back into records on the driver), and the
   driver's own work per record (Arrow batch to JSON record to the JSONL writer),
   which bounds how many records per second one driver can take in.

    python benchmarks/bench_ray.py              # about 4 minutes on 2 cores
    python benchmarks/bench_ray.py --count 56 --rounds 1   # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import machine  # noqa: E402
from bench_throughput import MODEL, image_list  # noqa: E402  (the same images, repeated)


def run_command(lst: Path, out: Path, engine: str, address: str | None = None) -> float:
    """Wall-clock seconds of one ``posefast run`` (start-up and shutdown included)."""
    cmd = [sys.executable, "-m", "posefast", "run", f"@{lst}", "--output", str(out),
           "--model", str(MODEL), "--engine", engine, "--overwrite"]
    env = dict(os.environ)
    if address and engine == "ray":
        cmd += ["--ray-address", address]
        # `ray start` turned token authentication on; a client given an address
        # sends the token (~/.ray/auth_token) only when told to.
        env.update(RAY_AUTH_MODE="token", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{engine}: exit {r.returncode}\n{r.stderr}")
    summary = re.findall(r"posefast run: .*", r.stderr)
    print(f"  {engine:5s} {seconds:6.1f} s   {summary[-1] if summary else ''}", flush=True)
    return seconds


class ReadyRecord:
    """Stands in for PosePredictor: one precomputed record per input row, no posing."""

    def __init__(self, record: dict) -> None:
        self.record = record

    def __call__(self, batch):
        from posefast.job.parquet import records_to_table

        return records_to_table([{**self.record, "source": str(p)} for p in batch["path"]])


def _through_ray(paths: list[str], record: dict, slots: int, blocks: int) -> float:
    """Seconds to run ``paths`` through the pipeline of ``--engine ray`` with
    ReadyRecord in place of posing, records turned back into JSON on the driver."""
    import ray

    from posefast.job.parquet import table_to_records

    ds = ray.data.from_items([{"source": p, "frame": -1, "path": p} for p in paths],
                             override_num_blocks=blocks)
    ds = ds.map_batches(ReadyRecord, fn_constructor_kwargs={"record": record},
                        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=slots),
                        batch_size=8, batch_format="numpy", num_cpus=1)
    ds.context.execution_options.preserve_order = True
    t0 = time.perf_counter()
    n = sum(len(table_to_records(b)) for b in ds.iter_batches(batch_format="pyarrow",
                                                               batch_size=None))
    assert n == len(paths)
    return time.perf_counter() - t0


def ray_overhead(paths: list[str], record: dict, repeats: int = 3) -> dict[str, float]:
    """What Ray adds: its start, a fixed cost per job (planning, starting the actor
    pool), a cost per image (scheduling batches, inputs and records through the
    object store, records back to JSON), and the driver's share of the latter.
    The fixed and per-image parts come from jobs of n and 8n images; inputs in
    blocks of 8 rows, as ``posefast.ray`` makes them, and (for comparison) in
    blocks of one row."""
    import ray

    from posefast.job.output import JsonlWriter
    from posefast.job.parquet import records_to_table, table_to_records

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    t0 = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    ray.data.DataContext.get_current().enable_progress_bars = False
    start_s = time.perf_counter() - t0
    try:
        slots = int(ray.cluster_resources().get("CPU", 1))
        _through_ray(paths, record, slots, len(paths) // 8)  # warm: workers started
        fits = {}
        for name, per_block in (("8 per block", 8), ("1 per block", 1)):
            small = statistics.median(_through_ray(paths, record, slots, len(paths) // per_block)
                                      for _ in range(repeats))
            large = statistics.median(_through_ray(paths * 8, record, slots,
                                                   8 * len(paths) // per_block)
                                      for _ in range(repeats))
            per_image = (large - small) / (7 * len(paths))
            fits[name] = (small - per_image * len(paths), per_image)
    finally:
        ray.shutdown()
    # The driver's part alone: Arrow batch -> records -> JSON Lines.
    table = records_to_table([{**record, "source": p} for p in paths])
    with tempfile.TemporaryDirectory() as tmp:
        writer = JsonlWriter(str(Path(tmp) / "x.jsonl"))
        t0 = time.perf_counter()
        for _ in range(repeats):
            for rec in table_to_records(table):
                writer.write(rec)
        driver = (time.perf_counter() - t0) / (repeats * len(paths))
        writer.close()
    return {"start_s": start_s, "fits": fits, "driver_per_record_s": driver,
            "record_bytes": table.nbytes / len(paths)}


class RunningRay:
    """A local Ray started with ``ray start --head`` for the whole benchmark, as a
    cluster would be running (``--ray-address`` then connects instead of starting)."""

    def __enter__(self) -> str:
        ray_cli = str(Path(sys.executable).with_name("ray"))
        env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
               "RAY_USAGE_STATS_ENABLED": "0"}
        self.stop = [ray_cli, "stop", "--force"]
        r = subprocess.run([ray_cli, "start", "--head", "--num-cpus", str(os.cpu_count()),
                            "--include-dashboard", "false", "--port", "6391"], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            sys.exit(f"ray start failed:\n{r.stdout}{r.stderr}")
        return "127.0.0.1:6391"

    def __exit__(self, *exc) -> None:
        subprocess.run(self.stop, capture_output=True)


def end_to_end(paths: list[str], rounds: int, address: str | None = None) -> dict:
    """Both engines, alternating; returns the first record (for ray_overhead).
    ``address``: the Ray cluster ``--engine ray`` connects to (None: it starts one)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lst = tmp / "list.txt"
        lst.write_text("\n".join(paths) + "\n")
        times: dict[str, list[float]] = {"local": [], "ray": []}
        print(f"{len(paths)} images, 481x641 model, {rounds} rounds, engines alternating, "
              f"{'Ray already running at ' + address if address else 'a local Ray started'}:")
        for _ in range(rounds):
            for engine in ("local", "ray"):
                times[engine].append(run_command(lst, tmp / f"{engine}.jsonl", engine,
                                                 address))
        same = (tmp / "local.jsonl").read_bytes() == (tmp / "ray.jsonl").read_bytes()
        local, on_ray = (statistics.median(times[e]) for e in ("local", "ray"))
        print(f"median: local {local:.1f} s ({len(paths) / local:.1f} images/s), "
              f"ray {on_ray:.1f} s ({len(paths) / on_ray:.1f} images/s); "
              f"ray/local throughput {local / on_ray:.2f}; records identical: {same}")
        return json.loads((tmp / "local.jsonl").read_text().splitlines()[1])  # [0]: the header


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=168)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--overhead-only", action="store_true", help="skip the end-to-end runs")
    ap.add_argument("--end-to-end-only", action="store_true",
                    help="skip the measurement of Ray's cost per image")
    ap.add_argument("--running", action="store_true",
                    help="end to end only, with Ray started beforehand (ray start --head), as "
                         "on a cluster: --engine ray connects to it")
    args = ap.parse_args()
    print(machine.describe())
    tmp = tempfile.TemporaryDirectory()  # the repeated images, each under its own name
    paths = image_list(args.count, tmp.name)
    if args.running:
        with RunningRay() as address:
            end_to_end(paths, args.rounds, address)
        return
    if args.overhead_only:
        from posefast import PoseEstimator
        from posefast.job.records import make_record

        with PoseEstimator(model=str(MODEL)) as est:  # a real record: couple.jpg, 2 poses
            couple = str(MODEL.parent.parent / "images" / "couple.jpg")
            record = make_record(couple, None, 1920, 1278, est.estimate(couple))
    else:
        record = end_to_end(paths, args.rounds)
        if args.end_to_end_only:
            return
    o = ray_overhead(paths, record)
    print(f"Ray start (ray.init, local): {o['start_s']:.1f} s")
    for name, (fixed, per_image) in o["fits"].items():
        print(f"through Ray without posing, {name}: {fixed:.2f} s per job + "
              f"{per_image * 1e3:.2f} ms per image")
    print(f"the driver's share (Arrow -> record -> JSONL): {o['driver_per_record_s'] * 1e6:.0f} us "
          f"per record, so one driver takes in at most {1 / o['driver_per_record_s']:.0f} "
          f"records/s; {o['record_bytes']:.0f} bytes of Arrow per record")


if __name__ == "__main__":
    main()
