"""``posefast convert``: a TF Lite PoseNet as an ONNX model for the onnx backend."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import fail

EXAMPLES = """\
examples:
  posefast convert posenet_mobilenet_v1_075_481_641_quant.tflite posenet_481.onnx
  posefast convert my_posenet.tflite posenet.onnx --overwrite
  posefast predict photo.jpg --backend onnx --model posenet_481.onnx --input-size 257x353

MODEL is a registry name (resolved like --model: the package's own copy,
POSEFAST_MODEL_PATH, the cache, else a verified download) or a .tflite file. The ONNX
model takes any input size (batch, height and width are dynamic) unless --fixed-size is
given or the graph does not allow it (the command says so). An existing output is
kept unless --overwrite is given. Needs the `convert` extra:
pip install "posefast[convert]". (`--backend onnx` with a TF Lite model converts it
once by itself and keeps the result in the cache.)
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert", help="convert a TF Lite PoseNet into ONNX (for the onnx backend)",
        description="Convert the TF Lite PoseNet MODEL into the ONNX model OUTPUT.onnx "
                    "with tflite2onnx.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="MODEL", help="a registry name or a .tflite file")
    p.add_argument("target", metavar="OUTPUT.onnx", help="where to write the ONNX model")
    p.add_argument("--fixed-size", action="store_true",
                   help="keep the TF Lite model's fixed input size and batch of one")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..convert import convert_tflite_to_onnx
    from ..models import resolve_model

    try:
        source = resolve_model(args.source)
        report = convert_tflite_to_onnx(source, Path(args.target),
                                        dynamic_size=not args.fixed_size,
                                        overwrite=args.overwrite)
    except (ImportError, OSError, LookupError, ValueError) as exc:
        return fail(str(exc))
    except Exception as exc:  # a converter's own error type: still a message, not a traceback
        return fail(f"converting {args.source!r} failed: {type(exc).__name__}: {exc}")
    size = "any input size" if report.dynamic_size else "its fixed input size"
    print(f"wrote {report.output} ({size})")
    if report.note:
        print(f"note: the input size stays fixed: {report.note}", file=sys.stderr)
    return 0
