"""``posefast run``: the batch job over many images and video frames."""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from types import SimpleNamespace
from typing import Iterator

from ..job.plan import MAX_BATCH, MAX_PROCESSES, available_cores
from ..runtime_logs import to_devnull
from . import interrupted as ctrl_c_came
from .options import (CONFIG_HELP, UsageError, add_config_options, check_usable, fail,
                      int_up_to, open_estimator, positive_int, resolve_from_args)
from .live_options import LIVE_HELP, add_live_options, open_view
from .paths import InputFiles, check_output, check_render_dir, parquet_folder_parts
from .video_options import VIDEO_HELP, add_video_options, video_stage

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
  posefast run clip.mp4 --smooth --render-dir annotated/ --output poses.jsonl
  posefast run photos/ --format parquet --output poses.parquet
  posefast run val2017/ --output poses.jsonl --eval person_keypoints_val2017.json
  posefast run /data/photos --engine ray --ray-address auto --output /data/poses.jsonl
  posefast run rtsp://cam1/live rtsp://cam2/live --duration 3600 --output cams.jsonl
  ffmpeg -re -i clip.mp4 -c copy -f mpegts - | posefast run - --output -
  posefast run rtsp://cam1/live --track --view --output cam1.jsonl   # watch it posed

INPUT is an image, a video (every --every-th frame), a folder (searched recursively
for images and videos, in sorted path order), a glob pattern, or @FILE listing INPUTs
one per line. Writes one JSON line per image or frame, in input order, each written as
soon as it is done (the settings that made them go in FILE.settings.json beside it):
{"source", "frame" and "time" (seconds; both null for images), "width", "height",
"poses" (each with "score", "bbox" [x, y, w, h], "keypoints", and "track_id" with
--track), "error" (null unless that input failed)}. A bad input gets an error record
and the job goes on. An existing non-empty --output is refused unless --resume or
--overwrite; a job already writing it is named. Exit status: 0 if every input was
posed, 1 if any failed or an output (a drawing too) could not be written, 2 for usage
errors and refused outputs, 130 if interrupted (Ctrl-C), 143 if terminated (SIGTERM);
rerun an interrupted or terminated job with --resume to finish it.

INPUT may also be a live source (given on the command line): posed in this process
from the start, side by side with the other live sources and beside the files (they
share the cores), newest frame first, with "latency" (seconds from the frame's
arrival to its record being written); the frames dropped per source are in the
progress line and the summary.
The job ends after --duration, --max-frames, Ctrl-C (exit 130, every record posed
written, Parquet and --render-dir videos too) or once every live source has ended;
--resume is refused for live sources.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="pose many images, folders and videos in parallel, to JSON Lines, COCO "
               "or Parquet",
        description="Find the human poses in every INPUT, over several worker processes, "
                    "writing one record per image or video frame.",
        epilog=EXAMPLES + "\n" + VIDEO_HELP + "\n" + LIVE_HELP + "\n" + CONFIG_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image, video, folder, glob pattern or @list.txt; or a live "
                        "source: stream URL, camera (/dev/video0), - (standard input)")
    p.add_argument("-o", "--output", metavar="FILE", default="-",
                   help="where the records go (default: stdout)")
    p.add_argument("--format", choices=("jsonl", "coco", "parquet"), default="jsonl",
                   help="jsonl: one record per line (default); coco: COCO keypoint results "
                        "JSON, written at the end; parquet: one row per record (a file; "
                        "a folder of files with --engine ray), written at the end")
    p.add_argument("--resume", action="store_true",
                   help="keep the records already in --output and pose only the inputs "
                        "missing from it, and again those whose record is an error "
                        "(jsonl only; the settings must be those the file was made with)")
    p.add_argument("--keep-failed", action="store_true",
                   help="with --resume: keep error records as they are instead of retrying "
                        "those inputs")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing non-empty --output (refused otherwise)")
    p.add_argument("--coco-annotations", metavar="FILE",
                   help="with --format coco: the COCO annotation file (instances.json) whose "
                        "images map each file_name to its image_id (default: the number that "
                        "ends each file name)")
    p.add_argument("--eval", metavar="FILE",
                   help="when the job is done, score --output against these COCO keypoint "
                        "annotations (person_keypoints_*.json; see posefast eval)")
    p.add_argument("-j", "--workers", type=int_up_to(MAX_PROCESSES), default=None, metavar="N",
                   help="inference processes, each with its own backend (default: one per "
                        "core, one for a backend that owns a GPU; the cores are shared out "
                        "between them as threads); with --engine ray: the number of actors")
    p.add_argument("--preparers", type=int_up_to(MAX_PROCESSES), default=None, metavar="N",
                   help="processes that read, decode and resize the inputs (default: one "
                        "per core)")
    p.add_argument("--batch-size", type=int_up_to(MAX_BATCH), default=None, metavar="N",
                   help="images per network call (default: the backend's, measured)")
    p.add_argument("--time-limit", type=positive_float, default=None, metavar="SECONDS",
                   help="seconds one input may take before its process is taken for hung, "
                        "replaced, and the input retried once then failed (default 120)")
    p.add_argument("--every", type=positive_int, default=1, metavar="N",
                   help="pose every N-th frame of videos (default 1: every frame)")
    p.add_argument("--max-pixels", type=positive_int, default=None, metavar="N",
                   help="refuse images with more pixels than N (default 100000000)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line at the end")
    p.add_argument("--render-dir", metavar="DIR",
                   help="also draw the poses: each image as DIR/<name>.png, each video as "
                        "DIR/<name>.mp4 at its frame rate (tracks in their own colours)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: worker processes on this machine (default); ray: actors "
                        "on a Ray cluster (needs posefast[ray]; -j sets the number of actors)")
    p.add_argument("--ray-address", metavar="ADDRESS", default=None,
                   help="with --engine ray: the cluster to run on (host:port, ray://..., "
                        "or auto); default RAY_ADDRESS, else the cluster started on this "
                        "machine, else a new local Ray")
    add_video_options(p)
    add_live_options(p)
    add_config_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as cleanup:  # the --view server, however the job ends
        return _main(args, cleanup)


def _main(args: argparse.Namespace, cleanup: contextlib.ExitStack) -> int:
    from ..reading.inputs import InputError, expand_inputs
    from ..reading.video import video_support
    from ..job.output import OutputError, coco_image_ids
    from ..job.runner import plan_job, start_fork_server_early
    from ..runtime_logs import set_verbose
    from ..evaluation.annotations import EvaluationError
    from .eval import annotations_for_job, score_job

    from ..reading.live_names import is_live_source

    live = [name for name in args.inputs if is_live_source(name)]
    problem = _option_problem(args) or _live_problem(args, live)
    if problem:
        return fail(problem)
    set_verbose(args.verbose)  # the workers inherit it
    duplicates: list[str] = []
    try:
        files = [name for name in args.inputs if name not in live]
        sources = expand_inputs(files, duplicates=duplicates) if files else []
        inputs = InputFiles([s.path for s in sources])
        if args.output != "-":
            # before any work: a Parquet or COCO file is written only at the end
            check_output("--output", args.output, inputs,
                         folder=args.engine == "ray" and args.format == "parquet")
            # before the plan is printed as if the job would run
            _refuse_taken_output(args)
        if not sources and not live:  # an empty folder, a list of blank lines: not a job
            return fail(f"nothing to pose: no image or video file in "
                        f"{', '.join(map(repr, args.inputs))} (folders are searched for "
                        f"file names ending as images and videos do: .jpg, .png, .mp4, ...)", 1)
        if (live or any(s.kind == "video" for s in sources)) and not video_support():
            raise UsageError(f"reading {'live sources' if live else 'videos'} needs PyAV: "
                             f"pip install 'posefast[video]'")
        config, origins = resolve_from_args(args)
        if args.engine == "local" and sources:
            start_fork_server_early(config)  # it imports while the checks below run
        check_usable(config, origins)
        # Created once here, so that what the backend refuses (an option's value, the
        # model file, the input size) is a usage error naming its source, as in predict.
        # Its input spec is the job's: the runner need not load the model again.
        with open_estimator(config, origins) as probe:
            spec = probe.input_spec
        plan = plan_job(config, workers=args.workers, preparers=args.preparers,
                        batch_size=args.batch_size,
                        spec=spec if args.engine == "local" else None,  # (its /dev/shm)
                        inputs=(len(sources) if all(s.kind == "image" for s in sources)
                                else None))
        image_ids = (coco_image_ids([(s.path, s.kind) for s in sources],
                                    args.coco_annotations or args.eval)
                     if args.format == "coco" else None)
        if image_ids is not None and args.coco_annotations and args.eval:
            _check_same_ids(image_ids, coco_image_ids([(s.path, s.kind) for s in sources],
                                                      args.eval), args)
        truth = (annotations_for_job(args.eval, [(s.path, s.kind) for s in sources])
                 if args.eval else None)
        _check_output_place(args, sources)
        view = open_view(args) if live else None  # (a port in use: a usage error)
        if view is not None:
            cleanup.callback(view.close)
    except (InputError, UsageError, OutputError, ValueError, EvaluationError) as exc:
        if ctrl_c_came():  # the runtime turned Ctrl-C into a failure to load
            raise KeyboardInterrupt from None
        return fail(str(exc))
    if ctrl_c_came():  # the runtime swallowed Ctrl-C while loading the model
        raise KeyboardInterrupt
    if not args.quiet and args.engine == "local" and sources:
        print(f"posefast run: {plan.describe()}", file=sys.stderr)
    if not args.quiet and live:
        lanes, threads = _live_lanes(plan, live)
        print(f"posefast run: {len(live)} live source{'s' if len(live) != 1 else ''} posed "
              f"in this process{' beside the files' if sources else ''}, "
              f"{lanes} at a time ({threads} thread{'s' if threads != 1 else ''} each), "
              f"{'every frame' if args.all_frames else 'newest frame first'}",
              file=sys.stderr)
    if duplicates:
        print(f"posefast run: {len(duplicates)} input(s) named more than once, posed once "
              f"(the first repeat: {duplicates[0]})", file=sys.stderr)
    try:
        lock = _lock(args.output, folder=args.engine == "ray" and args.format == "parquet")
    except OutputError as exc:
        return fail(str(exc))
    stdout = sys.stdout
    try:
        status = _job(args, sources, config, plan, image_ids, inputs, spec, lock, live,
                      origins, view)
    finally:
        sys.stdout = stdout  # (--engine ray: see keep_ray_off_stdout)
        if lock is not None:
            lock.release()
    if truth is not None and status in (0, 1):  # scored even if some inputs failed
        status = (score_job(args.output, truth, [(s.path, s.kind) for s in sources],
                            quiet=args.quiet) or status)
    return status


def _check_same_ids(ids: dict[str, int], eval_ids: dict[str, int],
                    args: argparse.Namespace) -> None:
    """UsageError when --coco-annotations and --eval give an image different ids: the
    results carry the first file's ids and would be scored as other images."""
    for path, image_id in ids.items():
        if eval_ids.get(path) != image_id:
            raise UsageError(
                f"--coco-annotations {args.coco_annotations} gives {path} image_id "
                f"{image_id}, --eval {args.eval} gives it {eval_ids.get(path)}: the results "
                f"would be scored as other images; give one file (--eval's alone also "
                f"sets the ids)")


def _option_problem(args: argparse.Namespace) -> str | None:
    if args.resume and args.format != "jsonl":
        return (f"--resume works with --format jsonl only: {args.format} output is "
                f"written whole when the job ends, so there is no part-done job to finish")
    if args.resume and args.output == "-":
        return "--resume needs --output FILE (the file to complete)"
    if args.resume and args.overwrite:
        return "--resume keeps --output's records and --overwrite replaces them: give one"
    if args.keep_failed and not args.resume:
        return "--keep-failed goes with --resume"
    if args.coco_annotations and args.format != "coco":
        return "--coco-annotations goes with --format coco"
    if args.eval and args.output == "-":
        return "--eval needs --output FILE (the poses it scores)"
    if args.format == "parquet" and args.output == "-":
        return "--format parquet needs --output FILE (Parquet is not a stream)"
    if args.ray_address is not None and args.engine != "ray":
        return "--ray-address needs --engine ray"
    local_only = [flag for flag, value in (("--preparers", args.preparers),
                                           ("--batch-size", args.batch_size),
                                           ("--time-limit", args.time_limit))
                  if value is not None]
    if args.engine == "ray" and local_only:
        return (f"{', '.join(local_only)} set{'s' if len(local_only) == 1 else ''} the local "
                f"engine's processes and would do nothing with --engine ray, whose actors "
                f"(-j N) each read, prepare and pose their batches")
    if (args.engine == "ray" and args.format == "parquet"
            and (args.track or args.smooth or args.render_dir)):
        return ("--engine ray with --format parquet writes the rows on the cluster; --track, "
                "--smooth and --render-dir need the records here: use --format jsonl")
    if args.resume and (args.track or args.smooth or args.render_dir):
        return ("--resume cannot be combined with --track, --smooth or --render-dir "
                "(tracks and videos would restart part-way); rerun the whole job")
    return None


def _live_problem(args: argparse.Namespace, live: list[str]) -> str | None:
    """What the options cannot do with the live sources ``live`` (or without any)."""
    if not live:
        given = [flag for flag, value in (("--duration", args.duration),
                                          ("--max-frames", args.max_frames),
                                          ("--all-frames", args.all_frames),
                                          ("--view", args.view is not None),
                                          ("--ffmpeg-option", args.ffmpeg_options)) if value]
        if given:
            return (f"{given[0]} goes with live sources (stream URLs, cameras, -); "
                    f"video files are posed whole")
        return None
    from ..reading.live_names import mask_secrets

    name = mask_secrets(live[0])
    if len(set(live)) < len(live):
        return f"live source {mask_secrets(next(p for p in live if live.count(p) > 1))!r} " \
               f"given twice"
    if args.resume:
        return (f"--resume cannot finish a job with live sources ({name}): a stream goes on "
                f"and its frames are not there to pose again; start a new job, with "
                f"--overwrite or another --output")
    if args.engine != "local":
        return (f"live sources ({name}) are posed on this machine: --engine ray poses files "
                f"only")
    if args.format == "coco":
        return (f"--format coco gives images their COCO image_id; live sources ({name}) "
                f"have none: use --format jsonl or parquet")
    if args.eval:
        return f"--eval scores images against COCO annotations; live sources ({name}) have none"
    return None


def _check_output_place(args: argparse.Namespace, sources) -> None:
    """What can be checked of the outputs before any is touched (UsageError,
    OutputError): the render folder can be written, a Parquet folder holds nothing of
    the user's, and a file written whole is no block device. (An output holding
    records, or another job's, was refused before: ``_refuse_taken_output``.)"""
    from ..job.whole_file import check_whole_file_output

    if args.render_dir is not None:
        check_render_dir("--render-dir", args.render_dir)
    if args.output == "-":
        return
    if args.engine == "ray" and args.format == "parquet":
        parquet_folder_parts("--output", args.output, [s.path for s in sources])
    else:
        check_whole_file_output(args.output)  # (no block device, for JSON Lines too)


def _refuse_records(args: argparse.Namespace) -> None:
    """UsageError where ``--output`` holds records and neither --resume nor --overwrite
    says what to do with them (after a job writing it has been named: the lock first)."""
    ray_parquet = args.engine == "ray" and args.format == "parquet"
    if not (args.resume or args.overwrite) and _holds_data(args.output, ray_parquet):
        raise UsageError(
            f"--output {args.output} already holds records: add --resume to finish the "
            f"job that wrote it, --overwrite to replace it, or write to another file")


def _lock(output: str, folder: bool = False):
    """The lock on a regular (or new) output file, or ``folder``; None for stdout,
    FIFOs and devices. Once locked, the temporary files a killed job left beside the
    output are removed."""
    from ..job.lock import OutputLock, lockable
    from ..job.settings_file import settings_path
    from ..job.whole_file import remove_stale_temporaries

    if not lockable(output):
        return None
    lock = OutputLock(output, folder=folder)
    if not folder:
        remove_stale_temporaries(output)
        remove_stale_temporaries(settings_path(output))
    return lock


def _job(args: argparse.Namespace, sources, config, plan, image_ids, inputs, spec,
         lock, live: list[str], origins, view) -> int:
    from ..models import resolve_model, sha256_of
    from ..reading.images import DEFAULT_MAX_PIXELS
    from ..job.output import OutputError, make_header, open_writer
    from ..job.plan import Skipper, count_inputs
    from ..job.progress import Progress, summary
    from ..job.resume import ResumeState, job_settings, model_defaults, read_done
    from ..job.runner import DEFAULT_TIME_LIMIT, JobAborted, Runner, RunStats, WorkerStartError
    from ..job.live import LiveBeside

    settings = job_settings(config, every=args.every,
                            model_sha256=sha256_of(resolve_model(config.model)))
    ray_parquet = args.engine == "ray" and args.format == "parquet"
    old_parts: list[str] = []
    try:
        _refuse_records(args)  # again, now that no other job can write it
        if ray_parquet:
            old_parts = parquet_folder_parts("--output", args.output, [s.path for s in sources])
        state = (read_done(args.output, settings, retry_failed=not args.keep_failed,
                           inputs=[s.path for s in sources],
                           defaults=model_defaults(config, spec))
                 if args.resume else ResumeState())
        if lock is not None:
            lock.follow()  # --resume may have put a rewritten file in place
    except (UsageError, OutputError) as exc:
        return fail(str(exc))
    if state.retried:
        print(f"posefast run: posing again {len(state.retried)} input(s) whose record in "
              f"{args.output} is an error (first: {state.retried[0]}); --keep-failed keeps them",
              file=sys.stderr)
    if state.foreign:
        print(f"posefast run: {state.foreign} record(s) in {args.output} are of inputs this "
              f"job does not name; kept as they are", file=sys.stderr)
    skipper = Skipper(state.done)
    done_before = sum(skipper.done.values())
    max_pixels = args.max_pixels or DEFAULT_MAX_PIXELS
    ray_state = ""
    if args.engine == "ray":
        try:
            from ..ray.engine import RayEngineError, connect, keep_ray_off_stdout, run_on_ray
        except ImportError:
            return fail("--engine ray needs Ray Data: pip install 'posefast[ray]'")
        try:
            ray_state = connect(args.ray_address, verbose=args.verbose)
            if ray_state == "connected" and getattr(args, "exits_after", False):
                # the process ends as soon as the job is done (os._exit, see
                # cli.entry), which closes the connection as well; Ray's core worker
                # took 0.28 s to disconnect, 3% of a 168-image job
                ray_state = ""
        except RayEngineError as exc:
            return fail(str(exc))
    render_failures: list[str] = []
    annotator = _annotator(args.render_dir, inputs, render_failures)
    header = make_header(settings)
    # Ray writes a Parquet folder itself, in parallel on the cluster.
    try:
        writer = None if ray_parquet else open_writer(
            args.format, args.output, append=args.resume, header=header,
            image_ids=image_ids, tracked=args.track or args.smooth, live=bool(live))
    except OutputError as exc:
        _stop_ray(ray_state)
        return fail(str(exc), 1)
    if args.format == "jsonl" and lock is not None:
        lock.keep()  # an empty JSON Lines file is a whole output (no record yet)
        if state.header is None:
            _save_settings(args.output, header)
    if args.engine == "ray":
        keep_ray_off_stdout(args.verbose)
    workers = plan.workers if args.engine == "local" else (args.workers or available_cores())
    total = None if live else count_inputs(sources, args.every)
    if total is not None:
        total = max(0, total - done_before)
    progress = Progress(sys.stderr, total, enabled=sys.stderr.isatty())
    failures: list[str] = []

    def record_failures(record) -> None:
        if record["error"]:
            failures.append(record["error"])

    sinks = ([writer.write] if writer else []) + [record_failures]
    live_sinks = list(sinks)  # tracked per source by the live path; drawn from the frames
    sinks += [annotator.write] if annotator else []
    emit = video_stage(args, _tee(*sinks))
    live_emit = _tee(*live_sinks)
    frame_sinks = _frame_sinks(annotator, live)
    beside = None  # the live sources' thread, when the job has files too
    live_stats = RunStats()
    if live and sources and args.engine == "local":
        # records from both threads: one at a time into the output
        emit, live_emit = _one_at_a_time(emit, live_emit)
        progress.update = _one_at_a_time(progress.update)[0]
    if args.engine == "ray":
        stats = RunStats()
    else:
        runner = Runner(config, plan=plan, max_pixels=max_pixels,
                        time_limit=args.time_limit or DEFAULT_TIME_LIMIT, emit=emit,
                        on_progress=_heeding_ctrl_c(progress.update), spec=spec)
        stats = runner.stats

    previous = signal.signal(signal.SIGTERM, _interrupt)
    interrupted = False
    _terminated.clear()
    try:
        if args.engine == "ray":
            run_on_ray(sources, config, every=args.every, max_pixels=max_pixels,
                       skipper=skipper, writer=SimpleNamespace(write=emit), stats=stats,
                       parquet_folder=args.output if ray_parquet else None,
                       parquet_header=header, replace=old_parts if args.overwrite else [],
                       workers=args.workers, on_progress=_heeding_ctrl_c(progress.update))
        elif live and sources:
            # the files in the job's processes, the live sources beside them from the start
            file_stats = stats

            def show_both(_) -> None:  # either part's progress: the job's line
                progress.update(_combined(file_stats, live_stats))

            beside = LiveBeside(lambda on_stream: _pose_live(
                args, live, config, origins, plan, live_emit, live_stats, frame_sinks, view,
                show_both, on_stream))
            beside.start()
            runner.on_progress = _heeding_ctrl_c(show_both)
            stats = runner.run(_tasks(sources, args.every, skipper))
            beside.wait()
        else:
            stats = runner.run(_tasks(sources, args.every, skipper))
            if live:
                _pose_live(args, live, config, origins, plan, live_emit, stats,
                           frame_sinks, view, _heeding_ctrl_c(progress.update))
    except KeyboardInterrupt:
        interrupted = True
    except WorkerStartError as exc:
        _discard(writer)
        return fail(str(exc), 1)
    except JobAborted as exc:
        if args.format == "jsonl":
            writer.close()
        else:
            _discard(writer)
        hint = (f"; {args.output} holds every record written so far: run the same command "
                f"with --resume to finish" if args.format == "jsonl" and args.output != "-"
                else "")
        return fail(f"the job stopped: {exc}{hint}", 1)
    except OutputError as exc:
        _discard(writer)
        if args.output == "-":  # no more output: keep Python's exit flush quiet
            # (the process's own stdout: with --engine ray, sys.stdout is a stand-in
            # here, see keep_ray_off_stdout)
            to_devnull(sys.__stdout__.fileno() if sys.__stdout__ else 1)
        progress.close()
        return fail(str(exc), 1)
    except Exception as exc:
        if args.engine == "ray" and isinstance(exc, RayEngineError):
            _discard(writer)
            return fail(str(exc), 1)
        raise
    finally:
        if beside is not None:
            beside.stop()  # (ended already, unless the files' part failed or Ctrl-C came)
            _wait_quietly(beside)
            stats = _combined(stats, live_stats)
        signal.signal(signal.SIGTERM, previous)
        progress.update(stats, force=True)
        progress.close()
        if annotator is not None:
            annotator.close()  # an interrupted video is still a playable file
        for sink in frame_sinks:
            sink.close()
        _stop_ray(ray_state)
    if writer is None:
        pass
    elif interrupted and args.format != "jsonl" and not live:
        _discard(writer)  # COCO results and Parquet files are written only for a whole job
    else:
        try:
            writer.close()
        except OutputError as exc:
            return fail(str(exc), 1)
    for error in failures:
        print(f"posefast run: failed: {error}", file=sys.stderr)
    if render_failures:
        print(f"posefast run: {len(render_failures)} drawing(s) into --render-dir failed "
              f"(first: {render_failures[0]}); the records are complete", file=sys.stderr)
    if not args.quiet:
        print(f"posefast run: {summary(stats, skipper.skipped, workers)}; backend "
              f"{config.backend}, model {config.model}", file=sys.stderr)
    if interrupted:
        if live and args.output != "-":
            print(f"posefast run: {'terminated' if _terminated else 'interrupted'}; "
                  f"{args.output} holds every record posed", file=sys.stderr)
        elif args.format == "jsonl" and args.output != "-":
            print(f"posefast run: {'terminated' if _terminated else 'interrupted'}; "
                  f"{args.output} holds every record written so far; "
                  f"run the same command with --resume to finish", file=sys.stderr)
        # 128 + the signal's number, as a shell reports a process the signal ended
        return 128 + signal.SIGTERM if _terminated else 130
    return 1 if stats.failed or render_failures else 0


def _annotator(render_dir: str | None, inputs: InputFiles, failures: list[str]):
    """The drawing of the records into ``render_dir`` (checked writable before, see
    ``check_render_dir``), or None; never over one of the ``inputs``. What fails to be
    drawn is said at once and added to ``failures`` (the job then exits 1)."""
    if render_dir is None:
        return None
    from ..video.annotate import Annotator, RenderDir

    def failed(message: str) -> None:
        failures.append(message)
        print(f"posefast run: {message}", file=sys.stderr)

    return Annotator(RenderDir(render_dir, keep=inputs.holds), on_error=failed)


def _save_settings(output: str, header) -> None:
    """Write the settings file beside a JSON Lines output (see
    ``posefast.job.settings_file``); when it cannot be written the job goes on (its
    records are what matter), saying that --resume will not be able to check it."""
    from ..job.output import OutputError
    from ..job.settings_file import write_settings

    try:
        write_settings(output, header)
    except OutputError as exc:
        print(f"posefast run: {exc}; the records are written, but --resume will refuse "
              f"{output} (its settings cannot be checked)", file=sys.stderr)


def _pose_live(args: argparse.Namespace, live: list[str], config, origins, plan, emit, stats,
               frame_sinks, view, on_progress, on_stream=None) -> None:
    """Pose the live sources in this process (``posefast.job.live``), their records to
    ``emit``, counted in ``stats``, with the backend's threads over every core; each
    frame drawn into ``frame_sinks`` and shown on ``view`` (--view's page, or None)."""
    from ..job.live import pose_live
    from ..job.plan import with_backend_threads
    from .live_options import live_options
    from .video_options import tracking_options

    tracking, smoothing = tracking_options(args)
    # One source: one estimator with a thread per core, each frame posed soonest.
    # Several: a lane per core (as many as the job's inference processes, and no more
    # than the sources), one thread each, posing frames of different sources at once:
    # more frames a second (posefast.video.live_lanes). A GPU backend: one.
    # (Beside the files' processes the cores are shared, the scheduler giving turns.)
    lanes, threads = _live_lanes(plan, live)
    with contextlib.ExitStack() as opened:
        estimators = [opened.enter_context(open_estimator(with_backend_threads(config, threads),
                                                          origins))
                      for _ in range(lanes)]
        if ctrl_c_came():  # the runtime swallowed Ctrl-C while loading the model
            raise KeyboardInterrupt
        pose_live(estimators[0], live, emit=emit, stats=stats,
                  options=live_options(args, every=args.every), duration=args.duration,
                  max_frames=args.max_frames, tracking=tracking, smoothing=smoothing,
                  frame_sinks=frame_sinks, view=view, on_progress=on_progress,
                  on_stream=on_stream, lanes=estimators[1:])


def _live_lanes(plan, live: list[str]) -> tuple[int, int]:
    """How many estimators pose the live sources at once, and the backend threads
    of each (see ``_pose_live``)."""
    lanes = 1 if plan.exclusive else max(1, min(plan.workers, len(live)))
    return lanes, max(1, plan.cores // lanes)


def _frame_sinks(annotator, live: list[str]) -> list:
    """What each posed live frame is drawn into (``posefast.job.live.FrameSink``):
    --render-dir's video per source, named as the files' drawings are (one folder,
    no name twice). (--view's page is shown each frame by the stream itself.)"""
    sinks = []
    if live and annotator is not None:
        from ..video.live_render import LiveRenders

        sinks.append(LiveRenders(annotator.path_for, on_error=annotator.on_error))
    return sinks


def _heeding_ctrl_c(update):
    """``update`` (the progress line), then a KeyboardInterrupt if Ctrl-C came: one
    raised while Python ran one of its own callbacks (the import system's, as a
    module is imported while the job starts) is printed as "Exception ignored" and
    dropped, and the job ran to its end (about one Ctrl-C in 40 sent as the job
    started). Counted all the same (``posefast.cli.interrupted``), it stops the job
    at the next record."""
    def heeding(stats) -> None:
        update(stats)
        if ctrl_c_came():
            raise KeyboardInterrupt
    return heeding


def _one_at_a_time(*calls):
    """``calls``, each made under one shared lock: the file job (main thread) and the
    live sources (their thread) write records to one output and one progress line."""
    lock = threading.Lock()

    def locked(call):
        def under_lock(*args, **kwargs):
            with lock:
                return call(*args, **kwargs)
        return under_lock
    return tuple(locked(c) for c in calls)


def _combined(files, live):
    """The job's counts: the files' ``RunStats`` and the live sources' posed beside them
    (the two ran at once: the job's seconds are the longer part's)."""
    from ..job.tasks import RunStats

    return RunStats(done=files.done + live.done, failed=files.failed + live.failed,
                    seconds=max(files.seconds, live.seconds),
                    infer_seconds=files.infer_seconds, prepare_seconds=files.prepare_seconds,
                    restarts=files.restarts, dropped=dict(live.dropped))


def _wait_quietly(beside) -> None:
    """Wait for the live thread to end after the job stopped (Ctrl-C, an error): a
    second Ctrl-C or the live part's own error do not hide what stopped the job."""
    try:
        beside.wait()
    except BaseException as exc:  # noqa: BLE001 - the job's own ending is being reported
        if isinstance(exc, KeyboardInterrupt):
            beside.wait(timeout=30)


def _tee(*sinks):
    def emit(record) -> None:
        for sink in sinks:
            sink(record)
    return emit


def _refuse_taken_output(args: argparse.Namespace) -> None:
    """OutputError naming the job that writes ``--output`` now (its lock, taken and
    let go: the job takes it for good later); else :func:`_refuse_records`."""
    probe = _lock(args.output, folder=args.engine == "ray" and args.format == "parquet")
    if probe is not None:
        probe.release()
    _refuse_records(args)


def _holds_data(output: str, folder: bool = False) -> bool:
    """Whether ``output`` is a regular file with something in it, or with ``folder``
    (Parquet written by Ray: a folder of files) a folder with something in it."""
    import stat

    if output == "-":
        return False
    try:
        st = os.stat(output)
        if folder and stat.S_ISDIR(st.st_mode):  # (what readers skip aside)
            return any(not e.name.startswith((".", "_")) for e in os.scandir(output))
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size > 0


def _stop_ray(ray_state: str) -> None:
    """Stop the local Ray this job started, or disconnect from the cluster it
    connected to (``connect``'s "started" / "connected"; "": nothing to do)."""
    if ray_state:
        import ray

        ray.shutdown()


def _discard(writer) -> None:
    if writer is None:
        return
    if hasattr(writer, "discard"):
        writer.discard()
    else:
        writer.close()


#: Non-empty once SIGTERM came during the job.
_terminated: list[int] = []


def _interrupt(signum, frame):  # SIGTERM: stop like Ctrl-C, leaving a resumable file
    _terminated.append(signum)
    raise KeyboardInterrupt


def _tasks(sources, every: int, skipper) -> Iterator:
    """The runner's tasks in input order, leaving out those ``skipper`` says are done.
    Videos are decoded by the preparation stage, skipping the frames already done."""
    from ..job.tasks import Task

    for s in sources:
        if s.kind == "image":
            if skipper.fresh((s.path, None)):
                yield Task(s.path, None, s.path)
            continue
        if not skipper.fresh((s.path, None)):  # an error record of this video is done
            continue
        frames = skipper.take_frames(s.path)
        yield Task(s.path, "video", every=every, skip=frozenset(frames))
