"""``posefast run``: the batch job over many images and video frames."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from collections import Counter
from typing import Iterator

from .options import (CONFIG_HELP, UsageError, add_config_options, check_usable,
                      config_from_args, fail, positive_int)


def positive_float(text: str) -> float:
    """A number of seconds > 0 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


EXAMPLES = """\
examples:
  posefast run photos/ --output poses.jsonl
  posefast run 'shots/**/*.jpg' @more.txt clip.mp4 --every 5 --output poses.jsonl
  posefast run photos/ --output poses.jsonl --resume      # finish an interrupted job
  posefast run val2017/ --format coco --output results.json

INPUT is an image, a video (every --every-th frame), a folder (searched recursively
for images, in sorted path order), a glob pattern, or @FILE listing INPUTs one per
line. Writes one JSON line per image or frame, in input order, each flushed as soon
as it is done: {"source", "frame" (null for images), "width", "height", "poses",
"error" (null unless that input failed)}. A bad input gets an error record and the
job goes on. Exit status: 0 if every input was posed, 1 if any failed, 2 for usage
errors, 130 if interrupted (rerun with --resume to finish).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="pose many images, folders and videos in parallel, to JSON Lines or COCO",
        description="Find the human poses in every INPUT, over several worker processes, "
                    "writing one record per image or video frame.",
        epilog=EXAMPLES + "\n" + CONFIG_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image, video, folder, glob pattern or @list.txt")
    p.add_argument("-o", "--output", metavar="FILE", default="-",
                   help="where the records go (default: stdout)")
    p.add_argument("--format", choices=("jsonl", "coco"), default="jsonl",
                   help="jsonl: one record per line (default); coco: COCO keypoint results "
                        "JSON, written at the end")
    p.add_argument("--resume", action="store_true",
                   help="keep the records already in --output and pose only the inputs "
                        "missing from it (jsonl only)")
    p.add_argument("-j", "--workers", type=positive_int, default=None, metavar="N",
                   help="inference processes, each with its own backend (default: one per "
                        "core, one for a backend that owns a GPU); the cores are shared out "
                        "between them as threads")
    p.add_argument("--preparers", type=positive_int, default=None, metavar="N",
                   help="processes that read, decode and resize the inputs (default: one "
                        "per core)")
    p.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                   help="images per network call (default: the backend's, measured)")
    p.add_argument("--time-limit", type=positive_float, default=None, metavar="SECONDS",
                   help="seconds one input may take before its process is taken for hung, "
                        "replaced, and the input retried once then failed (default 120)")
    p.add_argument("--every", type=positive_int, default=1, metavar="N",
                   help="pose every N-th frame of videos (default 1: every frame)")
    p.add_argument("--max-pixels", type=positive_int, default=None, metavar="N",
                   help="refuse images with more pixels than N (default 100000000)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line at the end")
    add_config_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..reading.images import DEFAULT_MAX_PIXELS
    from ..reading.inputs import InputError, expand_inputs
    from ..reading.video import video_support
    from ..job.output import CocoWriter, JsonlWriter, OutputError, read_done
    from ..job.progress import Progress, summary
    from ..job.runner import DEFAULT_TIME_LIMIT, JobAborted, Runner, WorkerStartError, plan_job

    if args.resume and args.format != "jsonl":
        return fail("--resume works with --format jsonl only (COCO results do not say "
                    "which images were done)")
    if args.resume and args.output == "-":
        return fail("--resume needs --output FILE (the file to complete)")
    try:
        sources = expand_inputs(args.inputs)
        if any(s.kind == "video" for s in sources) and not video_support():
            raise UsageError("reading videos needs PyAV: pip install 'posefast[video]'")
        config = config_from_args(args)
        check_usable(config)
        plan = plan_job(config, workers=args.workers, preparers=args.preparers,
                        batch_size=args.batch_size)
    except (InputError, UsageError, ValueError) as exc:
        return fail(str(exc))
    runner = Runner(config, plan=plan, max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
                    time_limit=args.time_limit or DEFAULT_TIME_LIMIT, emit=lambda r: None)
    try:
        runner.check()  # the model loads and the backend runs, before any process starts
    except Exception as exc:
        return fail(str(exc))
    if not args.quiet:
        print(f"posefast run: {plan.describe()}", file=sys.stderr)

    done_before = read_done(args.output) if args.resume else Counter()
    skipped = [0]
    try:
        writer = (JsonlWriter(args.output, append=args.resume) if args.format == "jsonl"
                  else CocoWriter(args.output))
    except OutputError as exc:
        return fail(str(exc))
    total = _count(sources, args.every)
    if total is not None:
        total = max(0, total - sum(done_before.values()))
    progress = Progress(sys.stderr, total, enabled=sys.stderr.isatty())
    runner.emit, runner.on_progress = writer.write, progress.update

    previous = signal.signal(signal.SIGTERM, _interrupt)
    interrupted = False
    try:
        stats = runner.run(_tasks(sources, args.every, done_before, skipped))
    except KeyboardInterrupt:
        interrupted = True
        stats = runner.stats
    except WorkerStartError as exc:
        return fail(str(exc), 1)
    except JobAborted as exc:
        if args.format == "jsonl":
            writer.close()
        hint = (f"; {args.output} holds every record written so far: run the same command "
                f"with --resume to finish" if args.format == "jsonl" and args.output != "-"
                else "")
        return fail(f"the job stopped: {exc}{hint}", 1)
    except BrokenPipeError:  # stdout's reader went away (`posefast run ... | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        progress.update(runner.stats, force=True)
        progress.close()
    if not interrupted:
        writer.close()  # COCO results are written only for a whole job
    elif args.format == "jsonl":
        writer.close()
    if not args.quiet:
        print(f"posefast run: {summary(stats, skipped[0], plan.workers)}", file=sys.stderr)
    if interrupted:
        if args.format == "jsonl" and args.output != "-":
            print(f"posefast run: interrupted; {args.output} holds every record written so far; "
                  f"run the same command with --resume to finish", file=sys.stderr)
        return 130
    return 1 if stats.failed else 0


def _interrupt(signum, frame):  # SIGTERM: stop like Ctrl-C, leaving a resumable file
    raise KeyboardInterrupt


def _count(sources, every: int) -> int | None:
    from ..reading.video import count_frames

    total = 0
    for s in sources:
        if s.kind == "image":
            total += 1
        else:
            n = count_frames(s.path, every)
            if n is None:
                return None
            total += n
    return total


def _tasks(sources, every: int, done: Counter, skipped: list[int]) -> Iterator:
    """The runner's tasks in input order, leaving out those already ``done`` (counted,
    so that an input listed twice is posed twice). Videos are decoded by the
    preparation stage, skipping the frames already done."""
    from ..job.tasks import Task

    def fresh(key) -> bool:
        if done[key] > 0:
            done[key] -= 1
            skipped[0] += 1
            return False
        return True

    for s in sources:
        if s.kind == "image":
            if fresh((s.path, None)):
                yield Task(s.path, None, s.path)
            continue
        if not fresh((s.path, None)):  # an error record of this video is done
            continue
        frames = [key[1] for key in done if key[0] == s.path and done[key] > 0]
        for frame in frames:
            done[(s.path, frame)] -= 1
        skipped[0] += len(frames)
        yield Task(s.path, "video", every=every, skip=frozenset(frames))
