"""Preparation of one image for the 481x641 network input: which decoder, and where the time goes.

For each shared image, the median milliseconds of:
- posefast's own preparation (``posefast.estimator.prepare_image``: what the job runs);
- its steps with Pillow: open + decode (``load``), ``convert("RGB")``, resize (bilinear);
- JPEG: Pillow in full and with draft mode (scale-on-decode), simplejpeg with
  ``min_factor`` (libjpeg-turbo's scaled decode), OpenCV ``IMREAD_REDUCED_COLOR_*``,
  each followed by the same Pillow resize;
- PNG: OpenCV ``imread`` (+ BGR->RGB) followed by the same Pillow resize.

    python benchmarks/bench_prepare.py [--runs 30]

simplejpeg and OpenCV are measured where installed (``pip install simplejpeg
opencv-python-headless``); they are not dependencies of posefast.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import machine  # noqa: E402

DATA = Path(os.environ.get("POSEFAST_TEST_DATA", HERE.parent.parent / "shared"))
W, H = 641, 481


def interleaved_ms(fns: dict, runs: int) -> dict:
    """Median ms of each function, run in turn round after round, so that a busy spell
    of the machine hits every candidate alike."""
    times: dict = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm: file cache, libraries loaded
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def resize(rgb: Image.Image) -> np.ndarray:
    return np.asarray(rgb.resize((W, H), Image.Resampling.BILINEAR), dtype=np.uint8)


def pillow_full(path):
    with Image.open(path) as im:
        return resize(im.convert("RGB"))


def pillow_draft(path):
    with Image.open(path) as im:
        im.draft("RGB", (W, H))
        return resize(im.convert("RGB"))


def candidates(path: Path) -> dict:
    from posefast.backend import InputSpec
    from posefast.estimator import prepare_image

    spec = InputSpec(H, W, np.dtype(np.uint8))
    out = {"posefast prepare_image": lambda: prepare_image(str(path), spec, "stretch")}
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    if jpeg:
        out["Pillow, full decode"] = lambda: pillow_full(path)
        out["Pillow, draft mode"] = lambda: pillow_draft(path)
    else:
        out["Pillow, full decode"] = lambda: pillow_full(path)

    with Image.open(path) as im:
        width, height = im.size

    def steps_decode():
        with Image.open(path) as im:
            im.load()
    out["  step: Pillow open + decode"] = steps_decode
    with Image.open(path) as im:
        im.load()
        decoded = im.copy()
    out[f"  step: convert({decoded.mode!r} -> 'RGB')"] = lambda: decoded.convert("RGB")
    rgb = decoded.convert("RGB")
    out["  step: resize (bilinear) + asarray"] = lambda: resize(rgb)
    try:
        import simplejpeg

        data = path.read_bytes()
        if jpeg:
            factor = max(1.0, min(width / W, height / H))
            out["simplejpeg, min_factor"] = lambda: resize(Image.fromarray(
                simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=H, min_width=W,
                                       min_factor=factor)))
    except ImportError:
        pass
    try:
        import cv2

        cv2.setNumThreads(1)
        if jpeg:
            scale = max(1, min(width // W, height // H))
            flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                    4: cv2.IMREAD_REDUCED_COLOR_4}.get(min(scale, 4) if scale != 3 else 2,
                                                       cv2.IMREAD_REDUCED_COLOR_8)
            out["OpenCV, IMREAD_REDUCED"] = lambda: resize(Image.fromarray(
                cv2.cvtColor(cv2.imread(str(path), flag), cv2.COLOR_BGR2RGB)))
        else:
            out["OpenCV imread"] = lambda: resize(Image.fromarray(
                cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)))
    except ImportError:
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    print(f"machine: {machine.describe()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"median of {args.runs} interleaved runs, ms, one thread, to a {H}x{W} uint8 input")
    for path in sorted((DATA / "images").iterdir()):
        with Image.open(path) as im:
            desc = f"{path.name} ({im.format} {im.width}x{im.height} {im.mode})"
        print(f"\n{desc}")
        for name, ms in interleaved_ms(candidates(path), args.runs).items():
            print(f"  {name:40s} {ms:7.2f}")


if __name__ == "__main__":
    main()
