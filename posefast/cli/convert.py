"""``posefast convert``: a TF Lite PoseNet as an ONNX model for the onnx backend."""
from __future__ import annotations

import argparse
import sys

EXAMPLES = """\
examples:
  posefast convert posenet_mobilenet_v1_075_481_641_quant.tflite posenet_481.onnx
  posefast predict photo.jpg --backend onnx --model posenet_481.onnx --input-size 257x353

The ONNX model takes any input size (batch, height and width are dynamic) unless
--fixed-size is given or the graph does not allow it (the command says so). Needs
the `convert` extra: pip install "posefast[convert]".
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert", help="convert a TF Lite PoseNet into ONNX (for the onnx backend)",
        description="Convert the TF Lite PoseNet MODEL.tflite into the ONNX model MODEL.onnx "
                    "with tflite2onnx.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="MODEL.tflite", help="the TF Lite model")
    p.add_argument("target", metavar="MODEL.onnx", help="where to write the ONNX model")
    p.add_argument("--fixed-size", action="store_true",
                   help="keep the TF Lite model's fixed input size and batch of one")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..convert import convert_tflite_to_onnx

    try:
        report = convert_tflite_to_onnx(args.source, args.target,
                                        dynamic_size=not args.fixed_size)
    except (ImportError, OSError, ValueError) as exc:
        print(f"posefast convert: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ImportError) else 1
    size = "any input size" if report.dynamic_size else "its fixed input size"
    print(f"wrote {report.output} ({size})")
    if report.note:
        print(f"note: the input size stays fixed: {report.note}", file=sys.stderr)
    return 0
