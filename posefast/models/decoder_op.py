"""Coral's ``PosenetDecoderOp``: finding it in a TF Lite model, reading its settings, and
cutting it off.

Most PoseNet TF Lite files in the wild are Coral's ``*_decoder.tflite`` models, whose
graph ends in this custom operator: it takes the network's three outputs (heatmaps,
short offsets, and the mid-range displacements with forward and backward concatenated,
all (1, H, W, C), HWC) and decodes poses the way posefast's own core does. A stock TF
Lite runtime cannot run it ("unresolved custom op"). posefast cuts it off: the cut
model's outputs are the operator's three inputs, and posefast decodes them itself.

The operator's custom options (a FlexBuffer map: ``max_detections``, ``score_threshold``,
``stride``, ``nms_radius`` in input pixels) become the decoder's defaults.

An Edge TPU model (``edgetpu-custom-op``: the network compiled for the Edge TPU, opaque
to any other runtime) and any other custom operator are refused, naming it.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .tflite_schema import tflite_schema

#: The custom operator posefast cuts off (its ``custom_code``).
DECODER_OP = "PosenetDecoderOp"
#: The custom operator an Edge TPU compiled model runs its network in.
EDGETPU_OP = "edgetpu-custom-op"
#: The op's options that are posefast decoder settings (same meaning and unit).
DECODER_SETTINGS = ("max_detections", "score_threshold", "nms_radius")
#: The metadata key (TF Lite and ONNX) a model cut from one with the op records the op's
#: settings under, as the op held them (JSON); its ``stride`` stays the op's own where
#: the model is rewritten for another.
META_SETTINGS = "posefast.decoder_op"


class CustomOpError(ValueError):
    """The model uses a custom operator posefast cannot run."""


class EdgeTpuModelError(CustomOpError):
    """The model is compiled for the Edge TPU."""


@dataclass(frozen=True)
class DecoderOp:
    """Coral's decoder operator as found in a model.

    ``inputs``: the tensor indices of heatmaps (17 channels), short offsets (34) and
    mid offsets (64: forward dy x16, dx x16, then backward), in that order.
    The settings are None where the options do not hold them. ``stride`` is input
    pixels per output cell; ``nms_radius`` is in input pixels."""

    operator: int
    inputs: tuple[int, int, int]
    max_detections: int | None
    score_threshold: float | None
    stride: int | None
    nms_radius: float | None

    def settings(self) -> dict[str, Any]:
        """The options the op holds: ``max_detections``, ``score_threshold``, ``stride``,
        ``nms_radius`` (those it has)."""
        return {key: getattr(self, key) for key in
                ("max_detections", "score_threshold", "stride", "nms_radius")
                if getattr(self, key) is not None}


def _schema() -> Any:
    return tflite_schema("reading a TF Lite model's operators")


def _is_tflite(data: bytes) -> bool:
    return len(data) >= 8 and data[4:8] == b"TFL3"


#: BuiltinOperator.CUSTOM in the TF Lite schema.
_CUSTOM = 32


def _uses_custom_codes(data: bytes) -> bool:
    """Whether the TF Lite model ``data`` declares a custom operator code, read with the
    flatbuffers runtime alone: the generated TF Lite schema costs a process about 40 ms
    to import, for every model it loads, where almost none has a custom operator.
    Field slots as in the schema: Model.operator_codes 6; OperatorCode
    deprecated_builtin_code 4 (int8), builtin_code 10 (int32)."""
    from flatbuffers import encode, number_types
    from flatbuffers.table import Table

    try:
        model = Table(data, encode.Get(number_types.UOffsetTFlags.packer_type, data, 0))
        field = model.Offset(6)
        if not field:
            return False
        start = model.Vector(field)
        for j in range(model.VectorLen(field)):
            code = Table(data, model.Indirect(start + 4 * j))
            old, new = code.Offset(4), code.Offset(10)
            old_code = code.Get(number_types.Int8Flags, code.Pos + old) if old else 0
            new_code = code.Get(number_types.Int32Flags, code.Pos + new) if new else 0
            if _CUSTOM in (old_code, new_code):
                return True
    except Exception:  # noqa: BLE001 - damaged: let the schema's reader say how
        return True
    return False


def _cpu_file(path: Path) -> str:
    """The name of the CPU model an Edge TPU file was compiled from, as Coral names them."""
    name = path.name
    for edgetpu, cpu in (("_edgetpu_decoder", "_cpu_decoder"), ("_decoder_edgetpu", "_decoder"),
                         ("_edgetpu", "")):
        if edgetpu in name:
            return name.replace(edgetpu, cpu)
    return re.sub(r"(\.tflite)?$", "_decoder.tflite", name, count=1)


def _refuse(path: Path, name: str) -> CustomOpError:
    if name == EDGETPU_OP:
        return EdgeTpuModelError(
            f"{str(path)!r} is compiled for the Edge TPU: its network runs inside Coral's "
            f"{EDGETPU_OP!r}, which only an Edge TPU accelerator (with libedgetpu) executes, "
            f"and posefast's backends run on CPUs and GPUs. Use the CPU model it was "
            f"compiled from, e.g. {_cpu_file(path)!r} (Coral publishes both; `posefast "
            f"models` lists the registry's)")
    return CustomOpError(
        f"{str(path)!r} uses the custom operator {name!r}, which posefast cannot run: the "
        f"only custom operator it handles is Coral's {DECODER_OP!r} (cut off and decoded "
        f"by posefast); export the model without {name!r}")


def find_decoder_op(path: str | os.PathLike, data: bytes | None = None) -> DecoderOp | None:
    """Coral's decoder operator in the TF Lite model ``path`` (``data``: its bytes, if
    read already), or None when the model has none. Raises EdgeTpuModelError for an
    Edge TPU model, CustomOpError naming any other custom operator the graph uses, and
    ValueError for a decoder operator posefast cannot cut (twice, in another subgraph
    than the main one, inputs it does not know) or options it cannot read. An operator
    code no operator uses is no matter. Without ai-edge-litert (the TF Lite schema) only
    a model naming one of Coral's operators is read, and raises ImportError."""
    path = Path(path)
    if data is None:
        data = path.read_bytes()
    if not _is_tflite(data) or not _uses_custom_codes(data):
        return None
    try:
        s = _schema()
    except ImportError:
        # `--backend onnx` converts TF Lite without ai-edge-litert; only a model that
        # names these operators needs the schema, other custom ones reach the runtime
        if DECODER_OP.encode() in data or EDGETPU_OP.encode() in data:
            raise
        return None
    try:
        model = s.Model.GetRootAsModel(data, 0)
        codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
        custom = {i: (c.CustomCode() or b"").decode("utf-8", "replace") for i, c in enumerate(codes)
                  if max(c.BuiltinCode(), c.DeprecatedBuiltinCode()) == s.BuiltinOperator.CUSTOM}
        if not custom:
            return None
        found = None
        for g in range(model.SubgraphsLength()):
            graph = model.Subgraphs(g)
            for o in range(graph.OperatorsLength()):
                op = graph.Operators(o)
                name = custom.get(op.OpcodeIndex())
                if name is None:
                    continue
                if name != DECODER_OP or g != 0 or found is not None:
                    if name == DECODER_OP:
                        raise ValueError(f"{str(path)!r}: {DECODER_OP} is expected once, in the "
                                         f"main graph; this model has it elsewhere or twice")
                    raise _refuse(path, name)
                raw = op.CustomOptionsAsNumpy()  # 0 when there are none
                found = (o, op.InputsAsNumpy().tolist(),
                         raw.tobytes() if hasattr(raw, "tobytes") else b"", graph)
    except ValueError:  # ours, CustomOpError included
        raise
    except Exception as exc:  # a damaged flatbuffer raises whatever the reader hits
        raise ValueError(f"{str(path)!r} is not a readable TF Lite model: "
                         f"{type(exc).__name__}: {exc}") from None
    if found is None:
        return None
    index, inputs, options, graph = found
    if len(inputs) not in (3, 4):  # the 4th, long offsets, feeds instance masks only
        raise ValueError(f"{str(path)!r}: {DECODER_OP} has {len(inputs)} inputs; posefast "
                         f"knows the op with heatmaps, short offsets and mid offsets")
    channels = [graph.Tensors(t).ShapeAsNumpy().tolist()[-1:] for t in inputs[:3]]
    if channels != [[17], [34], [64]]:
        raise ValueError(f"{str(path)!r}: the inputs of {DECODER_OP} have {channels} channels, "
                         f"not heatmaps (17), short offsets (34) and mid offsets (64)")
    return DecoderOp(index, (inputs[0], inputs[1], inputs[2]), **_options(path, options))


def _options(path: Path, raw: bytes) -> dict[str, Any]:
    """The op's settings from its FlexBuffer map: None where the map has none (or not a
    number); ValueError for a map that is not one, or a value out of range."""
    out: dict[str, Any] = {"max_detections": None, "score_threshold": None, "stride": None,
                           "nms_radius": None}
    if not raw:
        return out
    from flatbuffers import flexbuffers

    try:
        options = flexbuffers.Loads(raw)
    except Exception as exc:
        raise ValueError(f"{str(path)!r}: the options of {DECODER_OP} are not a FlexBuffer "
                         f"map: {type(exc).__name__}: {exc}") from None
    if not isinstance(options, dict):
        raise ValueError(f"{str(path)!r}: the options of {DECODER_OP} are not a FlexBuffer map")
    checks = {"max_detections": (int, lambda v: v >= 1), "stride": (int, lambda v: v >= 1),
              "score_threshold": (float, lambda v: 0.0 <= v <= 1.0),
              "nms_radius": (float, lambda v: v >= 0.0)}
    for key, (kind, ok) in checks.items():
        value = options.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        value = kind(value)
        if not ok(value):
            raise ValueError(f"{str(path)!r}: {DECODER_OP} option {key} = {value!r} is out of "
                             f"range")
        # the map stores float32: 0.2 reads back as 0.20000000298...
        out[key] = round(value, 6) if kind is float else value
    return out


def cut_decoder_op(source: str | os.PathLike, target: str | os.PathLike) -> DecoderOp:
    """Write ``source`` without Coral's decoder operator to ``target``: the graph's
    outputs become the operator's inputs (heatmaps, short offsets, mid offsets), the
    operators they do not need are dropped, and everything else (weights, quantisation,
    metadata) is carried over as it is. The op's settings are recorded in the model's
    metadata (``META_SETTINGS``, JSON), so that the cut model, and what is made from it
    (a stride rewrite), keeps them as its defaults. Raises ValueError when ``source`` has
    no such operator, and the errors of ``find_decoder_op``."""
    import json

    import flatbuffers
    import numpy as np

    source = Path(source)
    data = source.read_bytes()
    op = find_decoder_op(source, data)
    if op is None:
        raise ValueError(f"{str(source)!r} has no {DECODER_OP} to cut off")
    s = _schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    graph = model.subgraphs[0]
    outputs = list(op.inputs)
    producer = {int(t): i for i, o in enumerate(graph.operators) if i != op.operator
                for t in (o.outputs if o.outputs is not None else ())}
    needed: set[int] = set()
    pending = [t for t in outputs if t in producer]
    while pending:  # walk back from the three tensors to the graph's input
        i = producer[pending.pop()]
        if i not in needed:
            needed.add(i)
            pending.extend(int(t) for t in graph.operators[i].inputs if int(t) in producer)
    graph.operators = [o for i, o in enumerate(graph.operators) if i in needed]
    graph.outputs = outputs
    used = sorted({o.opcodeIndex for o in graph.operators})
    remap = {old: new for new, old in enumerate(used)}
    model.operatorCodes = [model.operatorCodes[i] for i in used]
    for o in graph.operators:
        o.opcodeIndex = remap[o.opcodeIndex]
    record = s.BufferT()
    record.data = np.frombuffer(json.dumps(op.settings()).encode(), np.uint8)
    model.buffers.append(record)
    entry = s.MetadataT()
    entry.name, entry.buffer = META_SETTINGS, len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != META_SETTINGS.encode()]
    model.metadata.append(entry)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    Path(target).write_bytes(builder.Output())
    return op


def decoder_settings(path: str | os.PathLike) -> dict[str, Any] | None:
    """The settings of the decoder operator the model file ``path`` carries (see
    ``DecoderOp.settings``): a TF Lite model's own, or those recorded in a model cut
    from one (TF Lite or ONNX metadata ``META_SETTINGS``); None when it carries none.

    Cheap for a model without them: its bytes are searched for the operator's name or
    the metadata key before a parser is even imported (the TF Lite schema costs a
    process that has not imported NumPy yet about 100 ms), so another custom operator
    goes unnoticed here: ``find_decoder_op`` is the check. Raises like it for a TF Lite
    file, and ValueError for unreadable metadata."""
    path = Path(path)
    data = path.read_bytes()
    if _is_tflite(data) and DECODER_OP.encode() in data:
        op = find_decoder_op(path, data)
        if op is not None:
            return op.settings()
    if META_SETTINGS.encode() not in data:
        return None
    import json

    try:
        if _is_tflite(data):
            s = _schema()
            model = s.Model.GetRootAsModel(data, 0)
            meta = {}
            for i in range(model.MetadataLength()):
                entry = model.Metadata(i)
                buffer = model.Buffers(entry.Buffer()).DataAsNumpy()
                meta[(entry.Name() or b"").decode("utf-8", "replace")] = (
                    buffer.tobytes().decode("utf-8") if hasattr(buffer, "tobytes") else "")
        else:
            import onnx

            meta = {p.key: p.value for p in onnx.load_from_string(data).metadata_props}
        settings = json.loads(meta[META_SETTINGS]) if META_SETTINGS in meta else None
    except ImportError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged model or entry
        raise ValueError(f"{str(path)!r}: cannot read its {META_SETTINGS!r} metadata: "
                         f"{type(exc).__name__}: {exc}") from None
    if settings is not None and not isinstance(settings, dict):
        raise ValueError(f"{str(path)!r}: its {META_SETTINGS!r} metadata is not a JSON object")
    return settings


__all__ = ["DECODER_OP", "DECODER_SETTINGS", "EDGETPU_OP", "META_SETTINGS", "CustomOpError",
           "DecoderOp", "EdgeTpuModelError", "cut_decoder_op", "decoder_settings",
           "find_decoder_op"]
