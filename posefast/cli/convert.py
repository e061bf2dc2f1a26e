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
  posefast convert posenet_mobilenet_v1_075_481_641_quant posenet_s8.tflite --output-stride 8
  posefast convert posenet_481.onnx posenet_481_s32.onnx --output-stride 32

--output-stride N rewrites a MobileNet v1 PoseNet (Coral and TF Lite exports) to run at
output stride 8, 16 or 32 with the same weights; OUTPUT may then be .tflite or .onnx
(and MODEL an .onnx file for an .onnx OUTPUT). `--output-stride` on predict and run
does the same by itself and caches the result.

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
    p.add_argument("source", metavar="MODEL", help="a registry name or a .tflite file "
                   "(or .onnx with --output-stride)")
    p.add_argument("target", metavar="OUTPUT", help="where to write the model: .onnx "
                   "(or .tflite with --output-stride)")
    p.add_argument("--output-stride", type=int, metavar="N",
                   help="rewrite the model for output stride N (8, 16 or 32)")
    p.add_argument("--fixed-size", action="store_true",
                   help="keep the TF Lite model's fixed input size and batch of one")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..models.convert import StrideReport, convert_model
    from ..models import resolve_model

    try:
        source = resolve_model(args.source)
        report = convert_model(source, Path(args.target), output_stride=args.output_stride,
                               dynamic_size=not args.fixed_size, overwrite=args.overwrite)
    except (ImportError, OSError, LookupError, ValueError) as exc:
        return fail(str(exc))
    except Exception as exc:  # a converter's own error type: still a message, not a traceback
        return fail(f"converting {args.source!r} failed: {type(exc).__name__}: {exc}")
    stride = ""
    if isinstance(report, StrideReport):
        stride = f"output stride {report.stride}; the source's is {report.model_stride}"
        if report.conversion is None:
            print(f"wrote {report.output} ({stride})")
            return 0
        stride += "; "
        report = report.conversion
    size = "any input size" if report.dynamic_size else "its fixed input size"
    print(f"wrote {report.output} ({stride}{size})")  # one line for one file
    if report.note:
        print(f"note: the input size stays fixed: {report.note}", file=sys.stderr)
    return 0
