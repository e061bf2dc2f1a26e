"""``posefast predict``: poses of a few images, as a JSON array, optionally drawn."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from .options import (CONFIG_HELP, UsageError, add_config_options, check_usable, fail,
                      open_estimator, resolve_from_args, unit_float)
from . import interrupted as ctrl_c_came
from .paths import InputFiles, check_output
from .live_options import LIVE_HELP, add_live_options, live_options, open_view
from .video_options import VIDEO_HELP, add_video_options, tracking_options, video_stage

EXAMPLES = """\
examples:
  posefast predict photo.jpg
  posefast predict a.jpg b.png --output poses.json
  posefast predict photo.jpg --render photo_poses.png
  posefast predict photo.jpg --mode single --model posenet_mobilenet_v1_075_353_481_quant
  posefast predict clip.mp4 --smooth --render clip_poses.mp4
  posefast predict rtsp://cam.local/live --duration 10
  ffmpeg -i clip.mp4 -f mpegts - | posefast predict -
  posefast predict rtsp://cam.local/live --duration 60 --view

Prints a JSON array with one record per image, in the order given, in the record
format of `posefast run`: {"source", "frame": null, "time": null, "width", "height",
"poses", "error"}; a video gives one record per frame, with its "frame" and "time";
a live source a record per frame posed, with "latency" too. Live sources are posed
side by side, their records where the first of them is given; a network stream or
camera needs --duration or --max-frames.
Keypoints are pixels of the original image. Folders and glob patterns are for
`posefast run`, which expands them. Exit status: 0 if every image was posed, 1 if
any could not be read, 2 for usage errors, 130 if interrupted.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="pose a few images and print the poses as JSON",
        description="Find the human poses in each IMAGE and print them as a JSON array.",
        epilog=EXAMPLES + "\n" + VIDEO_HELP + "\n" + LIVE_HELP + "\n" + CONFIG_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image files, videos (a record per frame), or live sources: "
                        "stream URLs, cameras (/dev/video0), - (standard input)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the JSON here instead of stdout")
    p.add_argument("--render", metavar="OUT.png",
                   help="draw the poses over the image and save it (with several images: "
                        "OUT-<n>.png for the n-th, counting from 0); a video is drawn as "
                        "an MP4 of the same name with the .mp4 suffix")
    p.add_argument("--render-threshold", type=unit_float, default=0.3, metavar="S",
                   help="hide keypoints scoring below S when rendering (default 0.3)")
    add_video_options(p)
    add_live_options(p)
    add_config_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as cleanup:  # the --view server, however predict ends
        return _predict(args, cleanup)


def _predict(args: argparse.Namespace, cleanup: contextlib.ExitStack) -> int:
    from ..reading.images import ImageLoadError
    from ..job.records import error_record, make_record
    from ..reading.live_names import is_live_source, live_kind
    from ..reading.video import is_video_path, video_support
    from ..runtime_logs import set_verbose

    set_verbose(args.verbose)
    if args.render and Path(args.render).suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp",
                                                                ".mp4"):
        return fail(f"--render {args.render!r}: expected a .png (or .jpg/.webp/.mp4) file name")
    live = [p for p in args.images if is_live_source(p)]
    try:
        for path in args.images:
            if not is_live_source(path):
                _only_files(path)
        if live:
            _check_live(args, live, live_kind)
        elif args.view is not None:
            raise UsageError("--view shows live sources as they are posed; none is given")
        inputs = InputFiles(args.images)
        if args.render:
            for index, path in enumerate(args.images):
                check_output("--render", _render_out(args.render, path, index,
                                                     len(args.images)), inputs)
        if args.output:
            check_output("--output", args.output, inputs)
        config, origins = resolve_from_args(args)
        check_usable(config, origins)
        if (live or any(is_video_path(p) for p in args.images)) and not video_support():
            raise UsageError(f"reading {'live sources' if live else 'videos'} needs PyAV: "
                             f"pip install 'posefast[video]'")
        view = open_view(args)  # before the model loads: a port in use fails at once
        if view is not None:
            cleanup.callback(view.close)
        estimator = open_estimator(config, origins)
    except UsageError as exc:
        if ctrl_c_came():  # the runtime turned Ctrl-C into a failure to load
            raise KeyboardInterrupt from None
        return fail(str(exc))
    if ctrl_c_came():  # the runtime swallowed Ctrl-C while loading the model
        estimator.close()
        raise KeyboardInterrupt

    records = []
    add = video_stage(args, records.append)  # with --track: "track_id": null, as run does
    with estimator:
        for index, path in enumerate(args.images):
            if path in live:
                if path == live[0]:  # all of them at once, side by side
                    records.extend(_live(estimator, live, args, view))
                continue
            if is_video_path(path):
                records.extend(_video(estimator, path, args, index))
                continue
            try:
                prepared = estimator.prepare(path)
            except ImageLoadError as exc:
                records.append(error_record(path, None, str(exc)))
                continue
            try:
                poses = estimator.infer([prepared])[0]
            except ValueError as exc:  # the output does not fit the input size, as run says
                records.append(error_record(path, None, f"inference failed: {exc}"))
                continue
            add(make_record(path, None, prepared.width, prepared.height, poses))
            if args.render:
                out = _render_out(args.render, path, index, len(args.images))
                try:
                    _render(path, poses, out, args.render_threshold)
                except OSError as exc:
                    return fail(f"--render: cannot write {out}: {exc.strerror or exc}", 1)

    # One record per line: readable, and each line is a record as `posefast run` writes it.
    text = "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]"
    if args.output:
        try:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            return fail(f"cannot write {args.output}: {exc.strerror or exc}")
    elif sys.stdout is None:  # started with stdout closed (`>&-`)
        return fail("stdout is closed: give --output FILE", 1)
    else:
        sys.stdout.write(text + "\n")
    for r in records:
        if r["error"]:
            print(f"posefast: {r['error']}", file=sys.stderr)
    return 1 if any(r["error"] for r in records) else 0


def _only_files(path: str) -> None:
    """UsageError pointing at ``posefast run`` for a folder or a glob pattern: predict
    poses the files it is given, run expands folders and patterns."""
    import glob
    import os
    import shlex

    if os.path.isdir(path):
        raise UsageError(f"{path} is a folder: predict poses the image and video files it "
                         f"is given; `posefast run {shlex.quote(path)}` poses every image "
                         f"and video in a folder")
    if glob.has_magic(path) and not os.path.lexists(path):
        raise UsageError(f"{path!r} is a pattern, not a file: predict poses the files it is "
                         f"given (the shell expands patterns it is not quoted in); "
                         f"`posefast run {shlex.quote(path)}` expands patterns itself")


def _video(estimator, path: str, args: argparse.Namespace, index: int) -> list:
    from ..video.clip import pose_video

    tracking, smoothing = tracking_options(args)
    render = None
    if args.render:
        render = _render_out(args.render, path, index, len(args.images))
    return pose_video(estimator, path, tracking=tracking, smoothing=smoothing, render=render,
                      min_score=args.render_threshold,
                      on_error=lambda msg: print(f"posefast: {msg}", file=sys.stderr))


def _check_live(args: argparse.Namespace, live: list[str], live_kind) -> None:
    """UsageError for live sources predict cannot pose as asked."""
    if len(set(live)) < len(live):
        raise UsageError(f"live source {next(p for p in live if live.count(p) > 1)!r} "
                         f"given twice")
    endless = [p for p in live if live_kind(p) != "pipe"]
    if endless and args.duration is None and args.max_frames is None:
        from ..reading.live_names import mask_secrets

        raise UsageError(f"{mask_secrets(endless[0])} is a live source and never ends: "
                         f"give --duration SECONDS or --max-frames N")
    if args.render:
        raise UsageError("--render draws images and video files; live sources are not "
                         "drawn yet (--view shows them as they are posed)")


def _live(estimator, names: list[str], args: argparse.Namespace, view) -> list:
    tracking, smoothing = tracking_options(args)
    with estimator.stream(names, duration=args.duration, max_frames=args.max_frames,
                          options=live_options(args), tracking=tracking, smoothing=smoothing,
                          on_error="record", view=view) as stream:
        records = list(stream)
        for name, dropped in stream.dropped.items():
            if dropped:
                print(f"posefast: {name}: {dropped} frames dropped (posing is slower than "
                      f"the stream; --all-frames poses every one)", file=sys.stderr)
    return records


def _render_path(template: str, index: int, count: int) -> str:
    if count == 1:
        return template
    p = Path(template)
    return str(p.with_name(f"{p.stem}-{index}{p.suffix}"))


def _render_out(template: str, path: str, index: int, count: int) -> str:
    """The file --render writes for input ``path``: a video as .mp4, an image as the
    name given (as .png where the name given is the videos' .mp4)."""
    from ..reading.video import is_video_path

    out = _render_path(template, index, count)
    if is_video_path(path):
        return str(Path(out).with_suffix(".mp4"))
    if out.lower().endswith(".mp4"):
        return str(Path(out).with_suffix(".png"))
    return out


def _render(path: str, poses, out: str, threshold: float) -> None:
    from ..reading.images import load_image
    from ..render import draw_poses

    image = load_image(path).image  # full resolution: the drawing is for people
    draw_poses(image, poses, min_score=threshold).save(out)
