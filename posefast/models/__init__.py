"""PoseNet models, in one place: the registry of known models (``registry``), the copy
shipped in the package, resolving a name or path to a verified local file
(``resolve_model``), and every model derived from one: TF Lite -> ONNX (``convert``), the
output stride rewrite (``stride``), kept in the cache by content (``derived``)."""
from __future__ import annotations

from .registry import CORAL, DATA_DIR, REGISTRY, ModelInfo, registry_name
from .resolve import (ChecksumError, ModelNotAvailableError, cache_dir, fetch, list_models,
                      locate, missing_model_path_dirs, model_path_dirs, resolve_model,
                      search_dirs, sha256_of, verify)

__all__ = ["REGISTRY", "ModelInfo", "ChecksumError", "resolve_model", "list_models",
           "locate", "fetch", "verify", "cache_dir", "model_path_dirs", "search_dirs",
           "registry_name", "sha256_of", "CORAL", "DATA_DIR", "ModelNotAvailableError",
           "missing_model_path_dirs"]
