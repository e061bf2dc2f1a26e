"""The live view's cost (``--view``): to the posing loop, and in the view's own thread.

- ``publish()``: the time the posing loop spends handing a record over, median of
  ``--calls`` calls on a 960x640 frame, nobody watching and one browser watching (an
  MJPEG client reading every part in a thread).
- Drawing and JPEG-encoding one frame in the view's thread (what a watched frame
  costs, on another core where there is one), median.
- Frames posed per second by ``PoseEstimator.stream`` on a pipe of a 960x640 clip
  (every frame kept, so it poses as fast as it can) with the 481x641 model: without a
  view, and with a view that one client watches; runs alternate, medians and their
  ratio, in the same process.

    python benchmarks/bench_view.py
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import machine  # noqa: E402
from live_servers import make_clip, pipe_of  # noqa: E402

DATA = Path(os.environ.get("POSEFAST_TEST_DATA", HERE.parent.parent / "shared"))
MODEL = DATA / "models" / "posenet_mobilenet_v1_075_481_641_quant.tflite"
SIZE = (960, 640)


class Watcher:
    """An MJPEG client reading every part, in a thread: a browser watching."""

    def __init__(self, url: str) -> None:
        hostport, path = url.split("://", 1)[1].split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\n\r\n".encode())
        self.parts = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        f = self.sock.makefile("rb")
        try:
            for line in f:
                if line.lower().startswith(b"content-length:"):
                    f.readline()
                    f.read(int(line.split(b":")[1]))
                    self.parts += 1
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()
        self._thread.join(5)


def wait_viewers(view, n: int) -> None:
    import json
    import urllib.request

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with urllib.request.urlopen(view.url + "stats.json") as r:
            sources = json.load(r)["sources"]
        if sources and sources[0]["viewers"] == n:
            return
        time.sleep(0.02)
    raise RuntimeError("the watcher did not connect")


def publish_times(frame, record, calls: int, watched: bool) -> list[float]:
    from posefast.video.view import LiveView

    with LiveView() as view:
        view.publish("cam", frame, record, {})
        watcher = Watcher(view.url + "stream/0.mjpg") if watched else None
        try:
            if watcher:
                wait_viewers(view, 1)
            times = []
            for i in range(calls):
                t0 = time.perf_counter()
                view.publish("cam", frame, {**record, "frame": i}, {"posed_fps": 1.0})
                times.append(time.perf_counter() - t0)
                time.sleep(0.01)  # a posing loop's pace, roughly: the encoder keeps up
        finally:
            if watcher:
                watcher.close()
    return times


def encode_times(frame, record, n: int) -> list[float]:
    from posefast.video.annotate import record_drawing
    from posefast.video.view import _jpeg

    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        _jpeg(record_drawing(record)(frame), 80)
        times.append(time.perf_counter() - t0)
    return times


def posed_fps(est, clip: Path, frames: int, watched: bool) -> tuple[float, int]:
    from posefast.video.view import LiveView

    proc = pipe_of(clip)
    view = LiveView() if watched else None
    watcher = None
    try:
        t0 = None
        count = 0
        with est.stream("-", keep_all=True, max_frames=frames, stdin=proc.stdout,
                        view=view) as live:
            for _ in live:
                count += 1
                if t0 is None:  # from the first record: the opening is not posing
                    if view is not None:
                        watcher = Watcher(view.url + "stream/0.mjpg")
                        wait_viewers(view, 1)
                    t0 = time.perf_counter()
        fps = (count - 1) / (time.perf_counter() - t0)
        return fps, watcher.parts if watcher else 0
    finally:
        if watcher:
            watcher.close()
        if view:
            view.close()
        proc.kill()
        proc.wait()
        proc.stdout.close()


def main() -> None:
    import numpy as np
    from PIL import Image

    from posefast import PoseEstimator
    from posefast.job.records import make_record

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--frames", type=int, default=120, help="frames posed a run")
    ap.add_argument("--runs", type=int, default=3, help="runs of each kind, alternating")
    args = ap.parse_args()
    print(machine.describe())
    print(f"load average {os.getloadavg()[0]:.1f}")

    with PoseEstimator(model=str(MODEL)) as est:
        photo = Image.open(DATA / "images" / "standing.png").convert("RGB").resize(SIZE)
        frame = np.asarray(photo)
        record = make_record("cam", 0, *SIZE, est.estimate(frame))
        for watched in (False, True):
            t = publish_times(frame, record, args.calls, watched)
            print(f"publish, {'one browser watching' if watched else 'nobody watching'}: "
                  f"median {statistics.median(t) * 1e6:.0f} us, max {max(t) * 1e6:.0f} us")
        t = encode_times(frame, record, 50)
        print(f"draw + JPEG of a {SIZE[0]}x{SIZE[1]} frame (view's thread): median "
              f"{statistics.median(t) * 1e3:.1f} ms")

        with tempfile.TemporaryDirectory() as tmp:
            clip = make_clip(DATA / "images", Path(tmp) / "clip.mp4", size=SIZE, fps=30,
                             seconds_each=2)
            results: dict[bool, list[float]] = {False: [], True: []}
            parts = []
            for _ in range(args.runs):
                for watched in (False, True):
                    fps, n = posed_fps(est, clip, args.frames, watched)
                    results[watched].append(fps)
                    if watched:
                        parts.append(n)
        plain, viewed = (statistics.median(results[k]) for k in (False, True))
        print(f"posed per second, no view: {plain:.2f} (runs "
              f"{', '.join(f'{v:.2f}' for v in results[False])})")
        print(f"posed per second, watched view: {viewed:.2f} (runs "
              f"{', '.join(f'{v:.2f}' for v in results[True])}; frames the browser got "
              f"{parts})")
        print(f"ratio watched / no view: {viewed / plain:.2f}")


if __name__ == "__main__":
    main()
