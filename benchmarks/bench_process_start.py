"""What starting a job's process costs through ``posefast.job.forkserver.start_process``
(the start in a helper thread, so that a fork server that died or was stopped cannot
hang the job) against a plain ``Process.start()``, both from the same fork server.
(A new thread for each start cost about 1 ms more a start, on 2 loaded cores; hence
one helper thread for the life of the process.)

Each figure is the median of --repeats starts of a process that does nothing (the
time until ``start`` returns, its pid known), the two ways taking turns start by
start so that load from other processes hits them alike; the ratio is threaded /
plain.

    python benchmarks/bench_process_start.py               # a few seconds
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402
from posefast.job import forkserver  # noqa: E402


def _nothing() -> None:
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    ctx = forkserver.context(None)
    if ctx.get_start_method() != "forkserver":
        sys.exit("processes come from no fork server here")
    forkserver.start()
    ways = {"plain": lambda p: p.start(), "start_process": forkserver.start_process}
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(3):  # warm-up: the server imports its modules first
        p = ctx.Process(target=_nothing, daemon=True)
        p.start()
        p.join()
    for _ in range(args.repeats):
        for name, start in ways.items():
            p = ctx.Process(target=_nothing, daemon=True)
            t0 = time.perf_counter()
            start(p)
            times[name].append(time.perf_counter() - t0)
            p.join()
    print(machine.describe())
    medians = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
    for name, ms in medians.items():
        print(f"{name:14s} median {ms:.2f} ms over {args.repeats} starts")
    print(f"ratio start_process / plain: {medians['start_process'] / medians['plain']:.2f}")


if __name__ == "__main__":
    main()
