"""TF Lite PoseNet -> ONNX, for the ``onnx`` backend (extra ``convert``).

tflite2onnx translates the graph (its outputs match TF Lite's after dequantisation).
It reads uint8 models quantised per tensor; an int8 model quantised per channel (TF
Lite's MLIR converter) is made float first (``posefast.models.dequantize``).
Two things are added on top, so the ONNX model behaves like the TF Lite one:

- **Any input size.** tflite2onnx writes the padding of every convolution as explicit
  numbers for the model's one input size. Where those numbers are TF's "same" padding
  (all PoseNet convolutions), they become ``auto_pad=SAME_UPPER`` -- the same rule at
  every size -- and the batch, height and width become symbolic dimensions. A model with
  other padding, or shape-dependent operators, keeps its fixed size (reported).
- **Input normalisation.** The ONNX model takes float input; when it quantises that
  input right away (uint8 TF Lite models do), its scale and zero point are recorded in
  the model's metadata as ``posefast.input_scale`` / ``posefast.input_offset`` so that
  the backend feeds exactly the values the TF Lite model saw.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..model_outputs import output_stride
from .decoder_op import META_SETTINGS, DecoderOp

INSTALL_HINT = 'pip install "posefast[convert]" (tflite2onnx and onnx)'
#: Metadata keys the onnx backend reads: pixels p are fed as p * scale + offset.
META_SCALE = "posefast.input_scale"
META_OFFSET = "posefast.input_offset"
#: The TF Lite model's own input size "HEIGHTxWIDTH": the default of a dynamic-size model.
META_SIZE = "posefast.input_size"
#: Its output stride (tiny inputs at a dynamic size cannot tell it).
META_STRIDE = "posefast.output_stride"
# Operators that work at any spatial size once convolutions pad by rule (Pad: by
# amounts fixed in the graph, as TF Lite's own PAD before a convolution of an int8
# model; a Pad whose amounts are computed is refused below).
_SIZE_FREE_OPS = {"Conv", "QuantizeLinear", "DequantizeLinear", "Concat", "Relu", "Clip",
                  "Add", "Mul", "Sigmoid", "Identity", "Pad"}


@dataclass(frozen=True)
class ConversionReport:
    """What ``convert_tflite_to_onnx`` wrote."""

    output: Path
    dynamic_size: bool  # the ONNX model accepts any batch and input size
    note: str  # why the size stayed fixed, or ""
    input_scale: float | None
    input_offset: float | None


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"converting needs the {module} package: {INSTALL_HINT}") from exc


def is_tflite(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a TF Lite flatbuffer (file identifier ``TFL3`` at byte 4)."""
    with open(path, "rb") as f:
        head = f.read(8)
    return len(head) == 8 and head[4:8] == b"TFL3"


def check_tflite_source(source: Path) -> None:
    """FileNotFoundError / ValueError naming ``source`` unless it is a TF Lite file."""
    if not source.is_file():
        raise FileNotFoundError(f"model file not found: {str(source)!r} (expected a .tflite file)")
    if not is_tflite(source):
        raise ValueError(f"{str(source)!r} is not a TF Lite model (no 'TFL3' flatbuffer "
                         f"identifier); posefast convert takes a .tflite PoseNet")


def check_target(target: Path, *, overwrite: bool) -> None:
    """FileExistsError / OSError naming ``target`` when it cannot or must not be written."""
    if target.is_dir():
        raise IsADirectoryError(f"output {str(target)!r} is a folder; give a file name")
    if target.exists() and not overwrite:
        raise FileExistsError(f"output {str(target)!r} exists; pass --overwrite to replace it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the folder of output {str(target)!r}: "
                      f"{exc.strerror or exc}") from None
    if not os.access(target.parent, os.W_OK):
        raise PermissionError(f"cannot write output {str(target)!r}: its folder is not writable")


def write_atomically(target: Path, write: Callable[[Path], Any]) -> Any:
    """``write(tmp)`` into a temporary file beside ``target``, then rename it into place,
    so that a failed conversion never leaves a partial file under the output's name.
    OSErrors of the output place name ``target``."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}-", suffix=target.suffix,
                                        dir=target.parent)
    except OSError as exc:
        raise OSError(f"cannot write output {str(target)!r}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # the name is ours; tflite2onnx complains about an existing file
    try:
        result = write(tmp)
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise OSError(f"cannot write output {str(target)!r}: {exc.strerror or exc}") from None
        return result
    finally:
        if tmp.exists():
            tmp.unlink()


def convert_tflite_to_onnx(source: str | os.PathLike, target: str | os.PathLike, *,
                           dynamic_size: bool = True, overwrite: bool = True,
                           decoder_op: DecoderOp | None = None) -> ConversionReport:
    """Convert the TF Lite model ``source`` into the ONNX model ``target``.

    ``dynamic_size``: make batch, height and width symbolic where the graph allows it.
    ``decoder_op``: the Coral decoder operator cut off ``source``, whose settings are
    recorded in the ONNX model's metadata (``posefast.models.decoder_op.META_SETTINGS``)
    to stay the decoder's defaults.
    ``overwrite=False`` refuses an existing ``target`` (FileExistsError). Raises
    FileNotFoundError / ValueError naming the file for missing or invalid input, and
    OSError naming ``target`` when it cannot be written. The target appears whole or
    not at all.
    """
    source, target = Path(source), Path(target)
    check_tflite_source(source)
    tflite2onnx = _require("tflite2onnx")
    onnx = _require("onnx")
    check_target(target, overwrite=overwrite)
    return write_atomically(target, lambda tmp: _convert(source, tmp, target, dynamic_size,
                                                         tflite2onnx, onnx, decoder_op))


@dataclass(frozen=True)
class StrideReport:
    """What ``convert_model`` wrote when it rewrote the output stride."""

    output: Path
    model_stride: int  # the source model's own
    stride: int  # the output's
    conversion: ConversionReport | None  # when TF Lite became ONNX on the way


def convert_model(source: str | os.PathLike, target: str | os.PathLike, *,
                  output_stride: int | None = None, dynamic_size: bool = True,
                  overwrite: bool = True) -> ConversionReport | StrideReport:
    """Write ``source`` as ``target``: TF Lite -> ONNX (``convert_tflite_to_onnx``), and
    with ``output_stride`` rewritten for that stride (TF Lite -> TF Lite or ONNX,
    ONNX -> ONNX; see ``posefast.models.stride``). The format follows ``target``'s suffix.
    A TF Lite model ending in Coral's ``PosenetDecoderOp`` is cut first: what is written
    is the graph without it (``posefast.models.decoder_op``).
    Raises ValueError naming the file for what cannot be done (a model that is not a
    MobileNet v1 PoseNet, a stride it cannot reach, formats with no way between them, a
    custom operator posefast cannot run) before any work, and OSError naming ``target``
    when it cannot be written."""
    source = Path(source)
    if source.is_file() and is_tflite(source):
        from .decoder_op import cut_decoder_op, find_decoder_op

        if find_decoder_op(source) is not None:
            with tempfile.TemporaryDirectory(prefix="posefast-cut-") as work:
                cut = Path(work) / source.name
                op = cut_decoder_op(source, cut)
                try:
                    return _convert_model(cut, target, output_stride, dynamic_size, overwrite,
                                          op)
                except ValueError as exc:  # name the user's file, not the temporary cut
                    raise type(exc)(str(exc).replace(str(cut), str(source))) from None
    return _convert_model(source, target, output_stride, dynamic_size, overwrite)


def _convert_model(source: Path, target: str | os.PathLike, output_stride: int | None,
                   dynamic_size: bool, overwrite: bool,
                   decoder_op: DecoderOp | None = None) -> ConversionReport | StrideReport:
    from .stride import FORMATS, rewrite_stride
    from .stride import plan as stride_plan

    source, target = Path(source), Path(target)
    if target.is_dir():
        raise IsADirectoryError(f"output {str(target)!r} is a folder; give a file name")
    if output_stride is None:
        if target.suffix.lower() != ".onnx":
            raise ValueError(f"output {str(target)!r}: posefast convert writes .onnx models "
                             f"(or, with --output-stride, .tflite or .onnx)")
        return convert_tflite_to_onnx(source, target, dynamic_size=dynamic_size,
                                      overwrite=overwrite, decoder_op=decoder_op)
    src_fmt, dst_fmt = source.suffix.lower(), target.suffix.lower()
    if not source.is_file():
        raise FileNotFoundError(f"model file not found: {str(source)!r}")
    if dst_fmt not in FORMATS:
        raise ValueError(f"output {str(target)!r}: expected a .tflite or .onnx file name")
    if is_tflite(source):
        src_fmt = ".tflite"
    elif src_fmt != ".onnx":
        raise ValueError(f"{str(source)!r} is neither a TF Lite model (no 'TFL3' flatbuffer "
                         f"identifier) nor an .onnx file")
    if (src_fmt, dst_fmt) == (".onnx", ".tflite"):
        raise ValueError(f"{str(source)!r} is ONNX and {str(target)!r} TF Lite: posefast "
                         f"converts TF Lite to ONNX only")
    # refuse an unknown architecture or an unreachable stride before any work
    if src_fmt == ".tflite":
        from .stride.tflite import tflite_plan as planner
    else:
        from .stride.onnx import onnx_plan as planner
    plan: stride_plan.StridePlan = planner(source, output_stride)
    if src_fmt != dst_fmt:
        _require("tflite2onnx")
        _require("onnx")
    check_target(target, overwrite=overwrite)

    def write(tmp: Path) -> StrideReport:
        conversion = None
        step = source
        if src_fmt != dst_fmt:
            with tempfile.TemporaryDirectory(dir=tmp.parent) as work:
                step = Path(work) / "converted.onnx"
                conversion = _convert(source, step, target, dynamic_size,
                                      _require("tflite2onnx"), _require("onnx"), decoder_op)
                rewrite_stride(step, tmp, output_stride)
        else:
            rewrite_stride(step, tmp, output_stride)
        return StrideReport(target, plan.model_stride, output_stride, conversion)

    return write_atomically(target, write)


def _convert(source: Path, tmp: Path, target: Path, dynamic_size: bool, tflite2onnx: Any,
             onnx: Any, decoder_op: DecoderOp | None = None) -> ConversionReport:
    fed = None  # the input's (scale, zero point) where the converted graph takes floats
    with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=".float-") as work:
        readable = source
        if _per_channel(source):
            # tflite2onnx asserts on per-channel quantisation: give it the float graph
            from .dequantize import dequantize_tflite, input_quantisation

            readable = Path(work) / "float.tflite"
            dequantize_tflite(source, readable)
            fed = input_quantisation(source)
        try:
            tflite2onnx.convert(str(readable), str(tmp))
        except Exception as exc:  # tflite2onnx raises assorted errors on bad input
            raise ValueError(f"tflite2onnx cannot convert {str(source)!r}: "
                             f"{type(exc).__name__}: {exc}") from None
    model = onnx.load(str(tmp))
    scale, offset = _input_normalisation(model, onnx)
    if scale is None and fed is not None:
        scale, offset = fed[0], -fed[1] * fed[0]  # pixels p as the quantised input read them
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    out_dims = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    grid = (out_dims[2], out_dims[3]) if len(out_dims) == 4 and all(out_dims) else None
    note = ""
    if dynamic_size:
        note = _make_size_dynamic(model, onnx)
    if scale is not None:
        for key, value in ((META_SCALE, scale), (META_OFFSET, offset)):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, repr(value)
    if len(dims) == 4 and all(dims):
        entry = model.metadata_props.add()
        entry.key, entry.value = META_SIZE, f"{dims[2]}x{dims[3]}"  # NCHW
        if grid:
            entry = model.metadata_props.add()
            entry.key, entry.value = META_STRIDE, str(output_stride((dims[2], dims[3]), grid))
    if decoder_op is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = META_SETTINGS, json.dumps(decoder_op.settings())
    onnx.checker.check_model(model)
    onnx.save(model, str(tmp))
    return ConversionReport(target, dynamic_size and not note, note, scale, offset)


def _per_channel(source: Path) -> bool:
    """Whether ``source`` has a tensor quantised per channel (False where it cannot be
    read here: tflite2onnx then says what it finds)."""
    try:
        from .dequantize import per_channel_tensor

        return bool(per_channel_tensor(source))
    except Exception:  # noqa: BLE001 - no schema, or a damaged file
        return False


def _initializer_scalar(model: Any, onnx: Any, name: str) -> float | None:
    for init in model.graph.initializer:
        if init.name == name:
            values = onnx.numpy_helper.to_array(init).reshape(-1)
            return float(values[0]) if values.size == 1 else None
    return None


def _input_normalisation(model: Any, onnx: Any) -> tuple[float | None, float | None]:
    """(scale, offset) feeding pixels exactly as the quantised input expects, or Nones."""
    name = model.graph.input[0].name
    for node in model.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] == name and len(node.input) == 3:
            scale = _initializer_scalar(model, onnx, node.input[1])
            zero_point = _initializer_scalar(model, onnx, node.input[2])
            if scale and zero_point is not None:
                # q = round(real / scale) + zp must be the pixel p itself
                return scale, -zero_point * scale
    return None, None


def _same_upper_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _make_size_dynamic(model: Any, onnx: Any) -> str:
    """Rewrite ``model`` to accept any batch/height/width; returns why not, or ""."""
    others = sorted({n.op_type for n in model.graph.node} - _SIZE_FREE_OPS)
    if others:
        return f"operators {', '.join(others)} may depend on the input size"
    constants = {init.name for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Pad" and not all(name in constants for name in node.input[1:]):
            return f"padding {node.output[0]!r} is computed, not fixed in the graph"
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(inferred.graph.value_info) + list(inferred.graph.input)}
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            continue
        shape = shapes.get(node.input[0])
        if not shape or len(shape) != 4:
            return f"no shape known for the input of convolution {node.name or node.output[0]!r}"
        kernel = attrs.get("kernel_shape") or [1, 1]
        strides = attrs.get("strides", [1, 1])
        dilations = attrs.get("dilations", [1, 1])
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        same = [_same_upper_pads(shape[2 + i], kernel[i], strides[i], dilations[i]) for i in (0, 1)]
        if pads != [same[0][0], same[1][0], same[0][1], same[1][1]]:
            return f"convolution {node.output[0]!r} does not pad the 'same' way"
        for attr in [a for a in node.attribute if a.name in ("pads", "auto_pad")]:
            node.attribute.remove(attr)
        node.attribute.append(onnx.helper.make_attribute("auto_pad", "SAME_UPPER"))
    # NCHW everywhere (tflite2onnx transposes): dims 2 and 3 are the spatial ones.
    for values, prefix in ((model.graph.input, ""), (model.graph.output, "grid_")):
        for value in values:
            dims = value.type.tensor_type.shape.dim
            if len(dims) == 4:
                dims[0].dim_param = "batch"
                dims[2].dim_param = prefix + "height"
                dims[3].dim_param = prefix + "width"
    del model.graph.value_info[:]
    return ""
