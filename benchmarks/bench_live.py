"""Live streams posed newest frame first: lag, latency, frames posed and dropped.

FFmpeg serves a 960x640 60 fps H.264 clip (the shared photographs, looped) in real
time over HTTP on 127.0.0.1, once per stream; ``PoseEstimator.stream`` poses them for
``--seconds`` with the 481x641 model. Reported per stream and in total: frames
posed per second, frames dropped, the median latency (a frame's arrival to its
record), and the lag (wall clock since the source's first record, less the stream
time since it) in the first and the last fifth of the run: newest frame first, it
must not grow. The baseline, in the same process: ``estimate()`` on the clip's
frames decoded from the file, one after another (what one stream can at best pose).
Memory: the process's resident size at the start and the end of the run.

    python benchmarks/bench_live.py --streams 1 --seconds 60
    python benchmarks/bench_live.py --streams 2 4 8 --seconds 300   # issue 22's run
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import machine  # noqa: E402
from live_servers import (Server, free_port, http_url, make_clip, need,  # noqa: E402
                          wait_listening)

DATA = Path(os.environ.get("POSEFAST_TEST_DATA", HERE.parent.parent / "shared"))
MODEL = DATA / "models" / "posenet_mobilenet_v1_075_481_641_quant.tflite"
SIZE, FPS = (960, 640), 60


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def baseline_fps(est, clip: Path, frames: int = 60) -> float:
    from posefast.reading.video import iter_frames

    decoded = [f.pixels for _, f in zip(range(frames), iter_frames(str(clip)))]
    est.estimate(decoded[0])
    t0 = time.perf_counter()
    for px in decoded:
        est.estimate(px)
    return len(decoded) / (time.perf_counter() - t0)


def bench_clip(tmp: Path) -> Path:
    """The photographs at SIZE and FPS, 2 s each, a key frame every second."""
    return make_clip(DATA / "images", tmp / "clip.mp4", size=SIZE, fps=FPS, seconds_each=2,
                     key_every=FPS, preset="veryfast")


def serve_streams(clip: Path, streams: int, tmp: Path) -> tuple[list[Server], list[str]]:
    """FFmpeg serving ``clip`` looped in real time over HTTP, ``streams`` times, each
    listening: the servers (stop them) and their URLs."""
    ports = [free_port() for _ in range(streams)]
    servers = [Server([need("ffmpeg"), "-nostdin", "-loglevel", "error", "-re",
                       "-stream_loop", "-1", "-i", str(clip), "-c", "copy", "-flush_packets",
                       "1", "-f", "mpegts", "-listen", "1", f"http://127.0.0.1:{p}/live.ts"],
                      log=tmp / f"{p}.log").start() for p in ports]
    try:
        for server, port in zip(servers, ports):
            wait_listening(port, server)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers, [http_url(p) for p in ports]


def run(est, clip: Path, streams: int, seconds: float, tmp: Path) -> None:
    from posefast.reading.live import LiveOptions

    servers, names = serve_streams(clip, streams, tmp)
    try:
        per: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
        rss0 = rss_mib()
        t0 = time.monotonic()
        with est.stream(names, duration=seconds, options=LiveOptions(read_timeout=10)) as live:
            for record in live:
                per[record["source"]].append((time.monotonic(), record["time"],
                                              record["latency"]))
            dropped = live.dropped
        took = time.monotonic() - t0
        rss1 = rss_mib()
    finally:
        for server in servers:
            server.stop()
    total = sum(len(v) for v in per.values())
    print(f"\n{streams} stream(s) of {SIZE[0]}x{SIZE[1]} at {FPS} fps, {seconds:g} s: "
          f"{total / took:.2f} frames posed per second in all; RSS {rss0:.0f} -> {rss1:.0f} MiB")
    print("| stream | posed/s | dropped | median latency (ms) | lag, first fifth (s) | "
          "lag, last fifth (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for k, name in enumerate(names):
        rows = per[name]
        if len(rows) < 10:
            print(f"| {k} | {len(rows) / took:.2f} | {dropped[name]} | - | - | - |")
            continue
        w0, s0, _ = rows[0]
        lag = [(w - w0) - (s - s0) for w, s, _ in rows]
        fifth = max(1, len(rows) // 5)
        print(f"| {k} | {len(rows) / took:.2f} | {dropped[name]} | "
              f"{statistics.median(r[2] for r in rows) * 1e3:.0f} | "
              f"{statistics.median(lag[:fifth]):.3f} | {statistics.median(lag[-fifth:]):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, nargs="+", default=[1])
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()

    from posefast import PoseEstimator

    print(machine.describe())
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clip = bench_clip(tmp)
        with PoseEstimator(model=str(MODEL)) as est:
            base = baseline_fps(est, clip)
            print(f"baseline: estimate() on the file's decoded frames, one after another: "
                  f"{base:.2f} frames per second ({1e3 / base:.1f} ms a frame)")
            for n in args.streams:
                run(est, clip, n, args.seconds, tmp)


if __name__ == "__main__":
    main()
