"""``posefast run``: the batch job over many images and video frames."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Iterator

from ..job.plan import default_workers
from .options import (CONFIG_HELP, UsageError, add_config_options, check_usable,
                      config_from_args, fail, positive_int)

EXAMPLES = """\
examples:
  posefast run photos/ --output poses.jsonl
  posefast run 'shots/**/*.jpg' @more.txt clip.mp4 --every 5 --output poses.jsonl
  posefast run photos/ --output poses.jsonl --resume      # finish an interrupted job
  posefast run val2017/ --format coco --output results.json
  posefast run photos/ --format parquet --output poses.parquet
  posefast run /data/photos --engine ray --ray-address auto --output /data/poses.jsonl

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
    p.add_argument("--format", choices=("jsonl", "coco", "parquet"), default="jsonl",
                   help="jsonl: one record per line (default); coco: COCO keypoint results "
                        "JSON, written at the end; parquet: one row per record (needs "
                        "posefast[parquet]; with --engine ray, a folder of files)")
    p.add_argument("--resume", action="store_true",
                   help="keep the records already in --output and pose only the inputs "
                        "missing from it (jsonl only)")
    p.add_argument("-j", "--workers", type=positive_int, default=None, metavar="N",
                   help=f"worker processes, each with its own backend (default: the number "
                        f"of cores, {default_workers()} here)")
    p.add_argument("--every", type=positive_int, default=1, metavar="N",
                   help="pose every N-th frame of videos (default 1: every frame)")
    p.add_argument("--max-pixels", type=positive_int, default=None, metavar="N",
                   help="refuse images with more pixels than N (default 100000000)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line at the end")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: worker processes on this machine (default); ray: actors "
                        "on a Ray cluster (needs posefast[ray]; -j sets the number of actors)")
    p.add_argument("--ray-address", metavar="ADDRESS", default=None,
                   help="with --engine ray: the cluster to run on (host:port, ray://..., "
                        "or auto); default RAY_ADDRESS, else the cluster started on this "
                        "machine, else a new local Ray")
    add_config_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..reading.images import DEFAULT_MAX_PIXELS
    from ..reading.inputs import InputError, expand_inputs
    from ..reading.video import video_support
    from ..job.output import OutputError, open_writer, read_done
    from ..job.plan import Skipper, count_inputs
    from ..job.progress import Progress, summary
    from ..job.runner import Runner, RunStats, WorkerStartError

    if args.resume and args.format != "jsonl":
        return fail("--resume works with --format jsonl only (COCO results do not say "
                    "which images were done)")
    if args.resume and args.output == "-":
        return fail("--resume needs --output FILE (the file to complete)")
    if args.format == "parquet" and args.output == "-":
        return fail("--format parquet needs --output FILE (Parquet is not a stream)")
    if args.ray_address is not None and args.engine != "ray":
        return fail("--ray-address needs --engine ray")
    try:
        sources = expand_inputs(args.inputs)
        if any(s.kind == "video" for s in sources) and not video_support():
            raise UsageError("reading videos needs PyAV: pip install 'posefast[video]'")
        config = config_from_args(args)
        check_usable(config)
    except (InputError, UsageError) as exc:
        return fail(str(exc))
    workers = args.workers or default_workers()
    max_pixels = args.max_pixels or DEFAULT_MAX_PIXELS
    if args.engine == "ray":
        try:
            from ..ray.engine import RayEngineError, connect, run_on_ray
        except ImportError:
            return fail("--engine ray needs Ray Data: pip install 'posefast[ray]'")
        try:
            own_ray = connect(args.ray_address)
        except RayEngineError as exc:
            return fail(str(exc))

    skipper = Skipper(read_done(args.output) if args.resume else None)
    done_before = sum(skipper.done.values())
    # Ray writes a Parquet folder itself, in parallel on the cluster.
    ray_parquet = args.engine == "ray" and args.format == "parquet"
    try:
        writer = None if ray_parquet else open_writer(args.format, args.output,
                                                      append=args.resume)
    except OutputError as exc:
        return fail(str(exc))
    total = count_inputs(sources, args.every)
    if total is not None:
        total = max(0, total - done_before)
    progress = Progress(sys.stderr, total, enabled=sys.stderr.isatty())
    if args.engine == "ray":
        stats = RunStats()
    else:
        runner = Runner(_per_worker(config, workers), workers=workers, max_pixels=max_pixels,
                        emit=writer.write, on_progress=progress.update)
        stats = runner.stats

    previous = signal.signal(signal.SIGTERM, _interrupt)
    interrupted = False
    try:
        if args.engine == "ray":
            run_on_ray(sources, config, every=args.every, max_pixels=max_pixels,
                       skipper=skipper, writer=writer, stats=stats,
                       parquet_folder=args.output if ray_parquet else None,
                       workers=args.workers, on_progress=progress.update)
        else:
            stats = runner.run(_tasks(sources, args.every, skipper))
    except KeyboardInterrupt:
        interrupted = True
    except WorkerStartError as exc:
        return fail(str(exc), 1)
    except Exception as exc:
        if args.engine == "ray" and isinstance(exc, RayEngineError):
            return fail(str(exc), 1)
        raise
    except BrokenPipeError:  # stdout's reader went away (`posefast run ... | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        progress.update(stats, force=True)
        progress.close()
        if args.engine == "ray" and own_ray:
            import ray

            ray.shutdown()
    if writer is None:
        pass
    elif not interrupted:
        writer.close()  # COCO results and Parquet files are written only for a whole job
    elif args.format == "jsonl":
        writer.close()
    elif hasattr(writer, "discard"):
        writer.discard()
    if not args.quiet:
        print(f"posefast run: {summary(stats, skipper.skipped, workers)}", file=sys.stderr)
    if interrupted:
        if args.format == "jsonl" and args.output != "-":
            print(f"posefast run: interrupted; {args.output} holds every record written so far; "
                  f"run the same command with --resume to finish", file=sys.stderr)
        return 130
    return 1 if stats.failed else 0


def _interrupt(signum, frame):  # SIGTERM: stop like Ctrl-C, leaving a resumable file
    raise KeyboardInterrupt


def _per_worker(config, workers: int):
    """The config each worker uses: the cores shared out between the workers."""
    from ..job.plan import with_backend_threads

    return with_backend_threads(config, default_workers() // workers)


def _tasks(sources, every: int, skipper) -> Iterator:
    """The runner's tasks in input order, leaving out those ``skipper`` says are done."""
    from ..reading.video import VideoError, iter_frames
    from ..job.runner import Task

    fresh = skipper.fresh

    for s in sources:
        if s.kind == "image":
            if fresh((s.path, None)):
                yield Task(s.path, None, s.path)
            continue
        try:
            for frame in iter_frames(s.path, every):
                if fresh((s.path, frame.index)):
                    yield Task(s.path, frame.index, frame.pixels)
        except VideoError as exc:
            if fresh((s.path, None)):
                yield Task(s.path, None, None, error=str(exc))
