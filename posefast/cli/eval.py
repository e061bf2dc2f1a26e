"""``posefast eval``: how good the poses of a posefast output are, in COCO's keypoint
metric, against labelled images (a COCO ``person_keypoints`` annotation file)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from ..evaluation.annotations import Annotations

EXAMPLES = """\
examples:
  posefast eval poses.jsonl --annotations person_keypoints_val2017.json
  posefast eval results.json --annotations person_keypoints_val2017.json --json
  posefast eval poses.parquet --annotations labels.json --per-image --plot pr.png
  posefast run val2017/ --output poses.jsonl --eval person_keypoints_val2017.json

RESULTS is a posefast output in any format (told from its content): JSON Lines,
Parquet (a file, or a folder of files), or COCO results (--format coco). Records are
matched to the annotations' images by file name, COCO results by image_id. The images
scored are those the results hold a record for (JSON Lines, Parquet: an image where
no one was found counts), or every image of the annotations (COCO results, which
list only images with poses). AP and AR are COCO's: OKS thresholds 0.50:0.95, up to
20 poses an image; crowd regions and people with no labelled keypoint are ignored.
n/a: no person of that size. Needs faster-coco-eval or pycocotools, and --plot
matplotlib: pip install 'posefast[eval]'. Exit status 2 for bad input.
"""


#: posefast.evaluation.metric.LIBRARIES, spelled out: parsing the command line of any
#: command imports no part of the evaluation (a test holds the two equal)
LIBRARIES = ("faster-coco-eval", "pycocotools")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="score poses against COCO keypoint annotations (AP, AR)",
        description="Score a posefast output against labelled images with COCO's keypoint "
                    "metric (object keypoint similarity): AP, AP50, AP75, APm, APl, AR, "
                    "AR50, AR75, ARm, ARl.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", metavar="RESULTS",
                   help="posefast output: JSON Lines, Parquet file or folder, COCO results")
    p.add_argument("--annotations", metavar="FILE", required=True,
                   help="COCO keypoint annotations (person_keypoints_*.json)")
    add_report_options(p)
    p.add_argument("--library", choices=LIBRARIES, default=None,
                   help="which implementation computes the metric (default: the first "
                        "installed of faster-coco-eval, pycocotools; same numbers)")
    p.set_defaults(func=main)


def add_report_options(p: argparse.ArgumentParser) -> None:
    """--json, --per-image, --keypoints, --plot (also taken by ``run --eval``)."""
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--per-image", action="store_true",
                   help="also list each image: people, poses, people matched at OKS 0.5, "
                        "their mean OKS")
    p.add_argument("--keypoints", action="store_true",
                   help="also list each keypoint's share of labelled instances found within "
                        "OKS reach (keypoint similarity >= 0.5 on a matched person)")
    p.add_argument("--plot", metavar="PNG",
                   help="draw the precision-recall curves (OKS 0.5, 0.75, 0.5:0.95) and a bar "
                        "per keypoint of its share within reach into this image file")


def main(args: argparse.Namespace) -> int:
    from ..evaluation.annotations import EvaluationError, load_annotations
    from .options import fail

    try:
        check_plot_path(args.plot)
        annotations = load_annotations(args.annotations)
    except EvaluationError as exc:
        return fail(str(exc))
    return score_and_print(args.results, annotations, args, library=args.library)


def check_plot_path(path: str | None) -> None:
    """EvaluationError if ``--plot``'s folder is missing: before any work."""
    from ..evaluation.annotations import EvaluationError

    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise EvaluationError(f"--plot {path}: no folder {folder}")
    if os.path.isdir(path):
        raise EvaluationError(f"--plot {path} is a folder; give a file name such as "
                              f"{os.path.join(path, 'eval.png')}")


def score_and_print(results: str, annotations: Annotations, args: argparse.Namespace, *,
                    image_ids: Sequence[int] | None = None, library: str | None = None) -> int:
    """Score ``results`` against the loaded ``annotations`` and print what ``args``
    asks for (json, per_image, keypoints, plot); 0, or 2 with a message for bad input."""
    from ..evaluation import evaluate
    from ..evaluation.annotations import EvaluationError
    from ..evaluation.report import keypoint_table, per_image_table, summary_table, to_json
    from .options import fail, warn

    try:
        report = evaluate(results, annotations, image_ids=image_ids, library=library)
        if args.plot:
            from ..evaluation.plot import plot

            plot(report, args.plot)
    except EvaluationError as exc:
        return fail(str(exc))
    if report.failed:
        warn(f"{len(report.failed)} image(s) of {results} failed to be posed and count as "
             f"images where no one was found (the first: {report.failed[0]})")
    if args.json:
        print(json.dumps(to_json(report, per_image=args.per_image), indent=2))
        return 0
    parts = [summary_table(report)]
    if args.per_image:
        parts.append(per_image_table(report))
    if args.keypoints:
        parts.append(keypoint_table(report))
    sys.stdout.write("\n\n".join(parts) + "\n")
    sys.stdout.flush()
    return 0


def annotations_for_job(path: str, sources: Sequence[tuple[str, str]]) -> Annotations:
    """``posefast run --eval``: the annotations at ``path``, checked to label every
    input of the job (``sources``: (path, kind) pairs) before it starts, so that a
    job is not run for a score it cannot have (nor without a library to score it).
    Raises EvaluationError."""
    from ..evaluation.annotations import EvaluationError, load_annotations
    from ..evaluation.metric import pick_library

    pick_library()
    annotations = load_annotations(path, "--eval")
    for source, kind in sources:
        if kind != "image":
            raise EvaluationError(f"--eval: {source} is a video; COCO keypoint annotations "
                                  f"label images")
        if os.path.basename(source) not in annotations.ids_by_name:
            raise EvaluationError(f"--eval {path}: no image with file_name "
                                  f"{os.path.basename(source)!r} (input {source}); pose the "
                                  f"images that file labels")
    return annotations


def score_job(output: str, annotations: Annotations, sources: Sequence[tuple[str, str]],
              quiet: bool = False) -> int:
    """``posefast run --eval``: score the job's ``output`` over its own images, the
    summary table on stdout; 0, or 2 with a message."""
    from ..evaluation.results import ids_of_sources

    if not quiet:
        print(f"posefast run: scoring {output} against {annotations.path}", file=sys.stderr)
    report_args = argparse.Namespace(json=False, per_image=False, keypoints=False, plot=None)
    return score_and_print(output, annotations, report_args,
                           image_ids=ids_of_sources([s for s, _ in sources], annotations))
