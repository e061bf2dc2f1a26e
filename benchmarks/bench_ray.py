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


def run_command(lst: Path, out: Path, engine: str) -> float:
    """Wall-clock seconds of one ``posefast run`` (start-up and shutdown included)."""
    cmd = [sys.executable, "-m", "posefast", "run", f"@{lst}", "--output", str(out),
           "--model", str(MODEL), "--engine", engine]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
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


def _through_ray(paths: list[str], record: dict, slots: int) -> float:
    """Seconds to run ``paths`` through the pipeline of ``--engine ray`` with
    ReadyRecord in place of posing, records turned back into JSON on the driver."""
    import ray

    from posefast.job.parquet import table_to_records

    ds = ray.data.from_items([{"source": p, "frame": -1, "path": p} for p in paths])
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
    The fixed and per-image parts come from jobs of n and 4n images."""
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
        _through_ray(paths, record, slots)  # warm: workers started, modules imported
        small = statistics.median(_through_ray(paths, record, slots) for _ in range(repeats))
        large = statistics.median(_through_ray(paths * 4, record, slots)
                                  for _ in range(repeats))
    finally:
        ray.shutdown()
    per_image = (large - small) / (3 * len(paths))
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
    return {"start_s": start_s, "job_fixed_s": small - per_image * len(paths),
            "ray_per_image_s": per_image, "driver_per_record_s": driver,
            "record_bytes": table.nbytes / len(paths)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=168)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(machine.describe())
    paths = image_list(args.count)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lst = tmp / "list.txt"
        lst.write_text("\n".join(paths) + "\n")
        times: dict[str, list[float]] = {"local": [], "ray": []}
        print(f"{len(paths)} images, 481x641 model, {args.rounds} rounds, engines alternating:")
        for _ in range(args.rounds):
            for engine in ("local", "ray"):
                times[engine].append(run_command(lst, tmp / f"{engine}.jsonl", engine))
        same = (tmp / "local.jsonl").read_bytes() == (tmp / "ray.jsonl").read_bytes()
        local, on_ray = (statistics.median(times[e]) for e in ("local", "ray"))
        print(f"median: local {local:.1f} s ({len(paths) / local:.1f} images/s), "
              f"ray {on_ray:.1f} s ({len(paths) / on_ray:.1f} images/s); "
              f"ray/local throughput {local / on_ray:.2f}; records identical: {same}")
        record = json.loads((tmp / "local.jsonl").read_text().splitlines()[0])
    o = ray_overhead(paths, record)
    print(f"Ray start (ray.init, local) {o['start_s']:.1f} s; per job {o['job_fixed_s']:.2f} s; "
          f"per image through Ray without posing {o['ray_per_image_s'] * 1e3:.2f} ms; "
          f"the driver's share of it "
          f"(Arrow -> record -> JSONL) {o['driver_per_record_s'] * 1e6:.0f} us, so one driver "
          f"takes in at most {1 / o['driver_per_record_s']:.0f} records/s; "
          f"{o['record_bytes']:.0f} bytes of Arrow per record")


if __name__ == "__main__":
    main()
