"""The TF Lite flatbuffer schema (ai-edge-litert's ``schema_py_generated``), which every
module that reads or writes a TF Lite file here goes through: the stride rewrite, the
cut of Coral's decoder operator, the float copy for tflite2onnx."""
from __future__ import annotations

from typing import Any

INSTALL_HINT = 'pip install "posefast[tflite]" (ai-edge-litert, which carries the TF Lite schema)'


def tflite_schema(doing: str = "reading a TF Lite model") -> Any:
    """The schema module; ImportError saying that ``doing`` needs ai-edge-litert, and how
    to install it, where it is missing."""
    try:
        import flatbuffers  # noqa: F401
        from ai_edge_litert import schema_py_generated
    except ImportError as exc:
        raise ImportError(f"{doing} needs ai-edge-litert: {INSTALL_HINT}") from exc
    return schema_py_generated


__all__ = ["INSTALL_HINT", "tflite_schema"]
