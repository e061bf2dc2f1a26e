"""``posefast run`` on live streams against ``posefast run`` on the same video as a file.

The clip: the shared photographs at 960x640, 60 fps, H.264 (``bench_live.py``'s).
As users run it, a subprocess each time, the 481x641 model, JSON Lines to a file:

- file: ``posefast run clip.mp4`` (the job's processes: every frame, pipelined);
  frames posed per second from the job's own summary (start-up left out);
- live: ``posefast run URL [URL ...] --duration S``, FFmpeg serving the clip looped in
  real time over HTTP on 127.0.0.1, once per stream; frames posed per second = the
  records over the live part's seconds (the summary's), the median latency of the
  records (a frame's arrival to its record being written), the frames dropped, and
  the lag (wall clock since the first record less the stream time since it) in the
  first and last fifth; the job's resident memory at its first record and its last,
  and at the end of each minute.

Rounds alternate file and live runs, so that a load that changes (other people's
jobs) falls on both. The median over rounds is reported, and the ratio live / file.
Also printed: ``estimate()`` on the decoded frames, one after another, in this
process (the time to prepare and pose one frame, for the latency's bound).

    python benchmarks/bench_run_live.py --streams 1 2 --seconds 20 --rounds 2
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import machine  # noqa: E402
from bench_live import FPS, MODEL, baseline_fps, bench_clip, serve_streams  # noqa: E402

SUMMARY = re.compile(r"done (\d+), failed (\d+), skipped \d+ in ([\d.]+) s")


def posefast_run(*args: str) -> tuple[int, float, str]:
    """Run ``posefast run`` and return (records done, the job's seconds, stderr)."""
    r = subprocess.run([sys.executable, "-m", "posefast", "run", *args, "--model", str(MODEL),
                        "--overwrite"], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"posefast run {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    m = SUMMARY.search(r.stderr)
    return int(m.group(1)), float(m.group(3)), r.stderr


def file_fps(clip: Path, tmp: Path) -> float:
    done, seconds, _ = posefast_run(str(clip), "--output", str(tmp / "file.jsonl"))
    return done / seconds


def live_run(clip: Path, streams: int, seconds: float, tmp: Path) -> dict:
    servers, names = serve_streams(clip, streams, tmp)
    try:
        # the lag needs each record's wall-clock time: read them as they are written
        proc = subprocess.Popen([sys.executable, "-m", "posefast", "run", *names,
                                 "--duration", str(seconds), "--read-timeout", "10",
                                 "--output", "-", "--model", str(MODEL)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen: list[tuple[float, dict]] = []
        rss: list[float] = []  # the job's resident size (MiB), once a second
        for line in proc.stdout:
            record = json.loads(line)
            if "source" in record:
                seen.append((time.monotonic(), record))
            if len(rss) < (seen[-1][0] - seen[0][0] if seen else 0) + 1:
                rss.append(rss_mib(proc.pid))
        err = proc.stderr.read()
        if proc.wait() != 0:
            raise SystemExit(f"live run failed ({proc.returncode}):\n{err}")
    finally:
        for server in servers:
            server.stop()
    m = SUMMARY.search(err)
    took = float(m.group(3))
    dropped = {name: int(n) for name, n in re.findall(r"(http://[^:]+:\d+/live\.ts): (\d+)",
                                                      err.split("live sources:")[-1])}
    per = {}
    for name in names:
        rows = [(w, r["time"], r["latency"]) for w, r in seen if r["source"] == name]
        w0, s0, _ = rows[0]
        lag = [(w - w0) - (s - s0) for w, s, _ in rows]
        fifth = max(1, len(rows) // 5)
        per[name] = {"fps": len(rows) / took, "dropped": dropped.get(name, 0),
                     "latency": statistics.median(r[2] for r in rows),
                     "lag0": statistics.median(lag[:fifth]),
                     "lag1": statistics.median(lag[-fifth:])}
    return {"fps": len(seen) / took, "per": per, "rss": (rss[0], rss[-1]),
            "rss_minutes": rss[59::60] + ([rss[-1]] if len(rss) % 60 else [])}


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    from posefast import PoseEstimator

    print(machine.describe())
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clip = bench_clip(tmp)
        with PoseEstimator(model=str(MODEL)) as est:
            base = baseline_fps(est, clip)
        print(f"estimate() on the decoded frames, one after another: {base:.2f} frames/s "
              f"({1e3 / base:.1f} ms a frame; + a frame interval {1e3 / FPS:.1f} ms = "
              f"{1e3 / base + 1e3 / FPS:.1f} ms)")
        files: list[float] = []
        lives: dict[int, list[dict]] = {n: [] for n in args.streams}
        for k in range(args.rounds):
            files.append(file_fps(clip, tmp))
            print(f"round {k}: file {files[-1]:.2f} frames/s", flush=True)
            for n in args.streams:
                lives[n].append(live_run(clip, n, args.seconds, tmp))
                got = lives[n][-1]
                minutes = " ".join(f"{m:.0f}" for m in got["rss_minutes"])
                print(f"round {k}: {n} stream(s) {got['fps']:.2f} frames/s in all, RSS "
                      f"{got['rss'][0]:.0f} -> {got['rss'][1]:.0f} MiB (at each minute's "
                      f"end: {minutes}); "
                      + "; ".join(f"{v['fps']:.2f}/s, dropped {v['dropped']}, latency "
                                  f"{v['latency'] * 1e3:.0f} ms, lag {v['lag0']:.3f} -> "
                                  f"{v['lag1']:.3f} s" for v in got["per"].values()),
                      flush=True)
        file = statistics.median(files)
        print(f"\nposefast run on the file: {file:.2f} frames/s (median of {len(files)})")
        print("| streams | posed/s in all | of the file's | per stream | median latency | "
              "lag, first -> last fifth |")
        print("| ---: | ---: | ---: | --- | --- | --- |")
        for n, runs in lives.items():
            fps = statistics.median(r["fps"] for r in runs)
            last = list(runs[-1]["per"].values())
            each = ", ".join(f"{v['fps']:.2f}" for v in last)
            latency = ", ".join(f"{v['latency'] * 1e3:.0f} ms" for v in last)
            lag = ", ".join(f"{v['lag0']:.3f} -> {v['lag1']:.3f} s" for v in last)
            print(f"| {n} | {fps:.2f} | {fps / file:.2f} | {each} | {latency} | {lag} |")


if __name__ == "__main__":
    main()
