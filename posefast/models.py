"""The model registry: names of known PoseNet models, their URLs and checksums.

A name resolves to a local file via ``POSEFAST_MODEL_PATH`` (folders separated by
os.pathsep), then the user cache, and otherwise is downloaded and verified.
"""
from __future__ import annotations

from pathlib import Path


def resolve_model(name_or_path: str) -> Path:
    """A local, verified model file for a registry name or a path."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    raise NotImplementedError("model registry: issue 3")
