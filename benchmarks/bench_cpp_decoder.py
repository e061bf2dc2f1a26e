"""posefast against Coral's C++ PoseNet decoder, timed in the same process.

Coral's decoder (google-coral/edgetpu, ``src/cpp/posenet/posenet_decoder.cc``, Apache
2.0) is the C++ multi-pose decoder behind the Edge TPU PoseNet models and their TF Lite
custom op. It is not part of posefast: point ``--coral-source`` (or
``POSEFAST_CORAL_SOURCE``) at a checkout of that repository and this script compiles
it with ``coral_shim.cc`` (g++ -O3) into a temporary library and calls it via ctypes.

Inputs: the shared 481x641 uint8 model's outputs for couple.jpg (a 31x41 grid), with the
issue's settings (max_detections 20, threshold 0.2, nms_radius 10, 5 refinement steps).
Reported, as medians per call on one core:

- ``coral op``: what Coral's custom op does per frame, from the model's uint8 tensors:
  dequantise them to float (offsets divided by the stride), then ``DecodeAllPoses``;
  against posefast reading the same uint8 tensors in place;
- ``coral decode``: ``DecodeAllPoses`` alone on float32 tensors already in cells; against
  posefast on float32 tensors (in pixels, as the models emit them);
- how far apart the two decoders' poses are. Coral computes in float32 and, for the
  left-eye-to-nose edge, reads the wrong displacement channels (``edge_id > kNumEdges``
  where >= is meant), so small differences are expected.

Each timed call goes through Python (ctypes for Coral, the public API for posefast), so
both sides pay a call's overhead of about a microsecond.

posefast runs the build of its kernels that posefast.decode picks for this CPU (the
AVX2 one where the CPU has AVX2); ``POSEFAST_SIMD=baseline`` in the environment times
the baseline (SSE2) build instead.

Run: ``python benchmarks/bench_cpp_decoder.py --coral-source PATH/TO/edgetpu [--json]``.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import posefast  # noqa: E402
import machine  # noqa: E402
from bench_decode import ARGS, DATA, MODEL, median_us  # noqa: E402
from posenet_outputs import dequantized, run_posenet  # noqa: E402

CORAL_FILE = Path("src/cpp/posenet/posenet_decoder.cc")
STRIDE = 16


def build(source: Path, out_dir: Path) -> ctypes.CDLL:
    """Compile Coral's decoder with the shim into out_dir and load it."""
    cc = source / CORAL_FILE
    if not cc.is_file():
        sys.exit(f"--coral-source: {cc} not found (expected a checkout of "
                 "google-coral/edgetpu)")
    gxx = shutil.which("g++")
    if gxx is None:
        sys.exit("g++ not found: it is needed to compile Coral's decoder")
    lib = out_dir / "libcoral_posenet.so"
    subprocess.run([gxx, "-O3", "-shared", "-fPIC", "-I", str(source),
                    str(HERE / "coral_shim.cc"), str(cc), "-o", str(lib)], check=True)
    dll = ctypes.CDLL(str(lib))
    p, i, f = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
    dll.coral_decode.argtypes = [p, p, p, i, i, i, f, f, i, p, p, p]
    dll.coral_op.argtypes = [p, f, i, p, f, i, p, f, i, i, i, i, f, f, i, p, p, p]
    dll.coral_decode.restype = dll.coral_op.restype = i
    return dll


def poses_apart(coral: list[tuple[float, np.ndarray]], ours: list) -> dict:
    """Pose count of each and, pose by pose (best first), the largest keypoint distance
    (pixels) and score difference."""
    n = min(len(coral), len(ours))
    dist = [float(np.max(np.hypot(*(c[1][:, :2] - o.keypoints[:, :2]).T)))
            for c, o in zip(coral[:n], ours[:n])]
    return {
        "coral_poses": len(coral), "posefast_poses": len(ours),
        "max_keypoint_px_apart": max(dist, default=0.0),
        "max_score_apart": max((abs(c[0] - o.score) for c, o in zip(coral, ours)),
                               default=0.0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--coral-source", type=Path,
                        default=os.environ.get("POSEFAST_CORAL_SOURCE"),
                        help="a checkout of google-coral/edgetpu (or POSEFAST_CORAL_SOURCE)")
    parser.add_argument("--image", default="couple.jpg", help="a file in shared/images")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.coral_source is None:
        parser.error("--coral-source is required (a checkout of google-coral/edgetpu)")
    if not MODEL.is_file():
        sys.exit(f"model not found: {MODEL} (set POSEFAST_TEST_DATA to the shared folder)")

    o = run_posenet(MODEL, DATA / "images" / args.image)
    hm, off, fwd, bwd = o["heatmaps"], o["offsets"], o["fwd"], o["bwd"]
    _, height, width, _ = hm.array.shape
    # The op's inputs: dense uint8 HWC, the mid-range tensor whole (64 channels).
    q_hm, q_off = (np.ascontiguousarray(t.array[0]) for t in (hm, off))
    q_mid = np.ascontiguousarray(np.concatenate([fwd.array[0], bwd.array[0]], axis=-1))
    # Float inputs: logits, and for Coral offsets in cells, for posefast in pixels.
    f_hm, f_off, f_fwd, f_bwd = (np.ascontiguousarray(dequantized(t)[0])
                                 for t in (hm, off, fwd, bwd))
    c_off = np.ascontiguousarray(f_off / STRIDE)
    c_mid = np.ascontiguousarray(np.concatenate([f_fwd, f_bwd], axis=-1) / STRIDE)

    md = ARGS["max_detections"]
    kps = np.zeros((md, 17, 2), np.float32)
    kp_scores = np.zeros((md, 17), np.float32)
    scores = np.zeros(md, np.float32)
    out = (kps.ctypes.data, kp_scores.ctypes.data, scores.ctypes.data)
    thr, nms = ARGS["score_threshold"], ARGS["nms_radius"]

    with tempfile.TemporaryDirectory() as tmp:
        dll = build(args.coral_source, Path(tmp))
        op_args = (q_hm.ctypes.data, hm.scale, hm.zero_point,
                   q_off.ctypes.data, off.scale, off.zero_point,
                   q_mid.ctypes.data, fwd.scale, fwd.zero_point,
                   height, width, md, thr, nms, STRIDE) + out
        dec_args = (f_hm.ctypes.data, c_off.ctypes.data, c_mid.ctypes.data,
                    height, width, md, thr, nms, STRIDE) + out

        def coral_poses(n):
            return [(float(scores[i]), np.stack([kps[i, :, 1], kps[i, :, 0],
                                                 kp_scores[i]], axis=1)) for i in range(n)]

        fig = {"machine": machine.describe(), "image": args.image,
               "grid": f"{height}x{width}", "kernels": posefast.decode.SIMD}
        fig["coral_op_us"] = median_us(lambda: dll.coral_op(*op_args))
        fig["posefast_quantized_us"] = median_us(
            lambda: posefast.decode_multiple_poses(hm, off, fwd, bwd, STRIDE, **ARGS))
        fig["coral_decode_us"] = median_us(lambda: dll.coral_decode(*dec_args))
        fig["posefast_float32_us"] = median_us(
            lambda: posefast.decode_multiple_poses(f_hm, f_off, f_fwd, f_bwd, STRIDE, **ARGS))
        fig["op_ratio"] = fig["coral_op_us"] / fig["posefast_quantized_us"]
        fig["decode_ratio"] = fig["coral_decode_us"] / fig["posefast_float32_us"]
        ours = posefast.decode_multiple_poses(hm, off, fwd, bwd, STRIDE, **ARGS)
        fig["quantized"] = poses_apart(coral_poses(dll.coral_op(*op_args)), ours)
        ours = posefast.decode_multiple_poses(f_hm, f_off, f_fwd, f_bwd, STRIDE, **ARGS)
        fig["float32"] = poses_apart(coral_poses(dll.coral_decode(*dec_args)), ours)

    if args.json:
        print(json.dumps(fig, indent=2))
        return 0
    print(f"{args.image}: 481x641 model, grid {fig['grid']}; {fig['machine']}; "
          f"posefast kernels: {fig['kernels']}")
    print(f"  from uint8:   coral op     {fig['coral_op_us']:8.1f} us   posefast "
          f"{fig['posefast_quantized_us']:6.1f} us   ({fig['op_ratio']:.1f}x)")
    print(f"  from float32: coral decode {fig['coral_decode_us']:8.1f} us   posefast "
          f"{fig['posefast_float32_us']:6.1f} us   ({fig['decode_ratio']:.1f}x)")
    for kind in ("quantized", "float32"):
        a = fig[kind]
        print(f"  poses ({kind}): coral {a['coral_poses']}, posefast {a['posefast_poses']}; "
              f"keypoints at most {a['max_keypoint_px_apart']:.3f} px apart, "
              f"scores {a['max_score_apart']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
