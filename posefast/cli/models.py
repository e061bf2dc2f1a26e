"""``posefast models``: the model registry and where each model is found here."""
from __future__ import annotations

import argparse
import json

EXAMPLES = """\
examples:
  posefast models                                   # names, and the local file of each
  POSEFAST_MODEL_PATH=../shared/models posefast models
  posefast models --json

The default model (posenet_mobilenet_v1_075_481_641_quant) ships inside the package.
Other names resolve through the folders of POSEFAST_MODEL_PATH, then the cache
(POSEFAST_CACHE_DIR, else ~/.cache/posefast); a model not found there is downloaded
on first use. Every file's sha256 is checked; a model whose sha256 is not known is
downloaded only with POSEFAST_ALLOW_UNVERIFIED=1 (else put its file in a
POSEFAST_MODEL_PATH folder yourself).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models", help="list the known models and where they are on this machine",
        description="List the model registry: each name, what it is, and the verified local "
                    "file it resolves to (or that it would be downloaded).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..models import list_models, missing_model_path_dirs
    from ..models.resolve import unverified_allowed
    from .options import warn

    for folder in missing_model_path_dirs():
        warn(f"POSEFAST_MODEL_PATH names {str(folder)!r}, which is not a folder; it is skipped")

    allowed = unverified_allowed()
    # "download": whether a model not here is fetched on first use ("on first use") or
    # refused, since nothing could verify it ("refused: no known sha256")
    rows = [{"name": info.name, "description": info.description, "url": info.url,
             "sha256": info.sha256, "path": str(path) if path else None,
             "download": (None if path else "on first use" if info.sha256 or allowed
                          else "refused: no known sha256")}
            for info, path in list_models()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        where = r["path"] or (
            "not here (downloaded on first use)" if r["download"] == "on first use" else
            f"not here, and not downloaded: no sha256 is known to verify it\n    (download "
            f"{r['url']}\n    into a POSEFAST_MODEL_PATH folder, or set "
            f"POSEFAST_ALLOW_UNVERIFIED=1 to download it on first use)")
        print(f"{r['name']}\n    {r['description']}\n    {where}")
    return 0
