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
on first use. Every file's sha256 (or git blob id) is checked; a model with neither
known is downloaded only with POSEFAST_ALLOW_UNVERIFIED=1 (else put its file in a
POSEFAST_MODEL_PATH folder yourself).

A model ending in Coral's PosenetDecoderOp (the *_decoder.tflite files) runs with the
op cut off; its settings (max_detections, score_threshold, nms_radius) are the decoder's
defaults, shown here for the files found on this machine.
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
    from ..models.resolve import unverified_allowed, verified
    from .options import warn

    for folder in missing_model_path_dirs():
        warn(f"POSEFAST_MODEL_PATH names {str(folder)!r}, which is not a folder; it is skipped")

    allowed = unverified_allowed()
    # "download": whether a model not here is fetched on first use ("on first use") or
    # refused, since nothing could verify it ("refused: no known sha256")
    rows = [{"name": info.name, "description": info.description, "url": info.url,
             "sha256": info.sha256, "git_blob": info.git_blob,
             "path": str(path) if path else None,
             "download": (None if path else "on first use" if verified(info) or allowed
                          else "refused: no known sha256"),
             "decoder_op": _decoder_op(path) if path else
             ({} if info.decoder_op else None)}
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
        if r["decoder_op"] is not None:
            print(f"    {describe_decoder_op(r['decoder_op'])}")
    return 0


def _decoder_op(path) -> dict | None:
    """The settings of the model's PosenetDecoderOp (None: it has none, or is unreadable)."""
    from ..models.decoder_op import decoder_settings

    try:
        return decoder_settings(path)
    except (OSError, ValueError, ImportError):
        return None


def describe_decoder_op(settings: dict) -> str:
    """One line on a model's PosenetDecoderOp and its settings ({}: not read yet)."""
    from ..models.decoder_op import DECODER_OP

    if not settings:
        return f"ends in Coral's {DECODER_OP} (cut off; its settings are read once it is here)"
    shown = ", ".join(f"{k} {v}" for k, v in settings.items() if v is not None)
    return f"ends in Coral's {DECODER_OP} (cut off); decoder defaults from it: {shown}"
