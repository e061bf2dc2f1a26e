"""Command-line options for live sources (network streams, cameras, a pipe):
how long to pose them, and how they are read."""
from __future__ import annotations

import argparse
import sys

from .options import UsageError, positive_int
from .video_options import _number

LIVE_HELP = """\
live sources: rtsp://, rtmp://, http(s)://, tcp://, udp://, srt:// URLs, V4L2 cameras
(/dev/video0) and - (a stream piped on standard input, e.g. `ffmpeg ... -f mpegts - |`)
are posed as their frames come, newest frame first: frames arriving while one is posed
are dropped (--all-frames: none is). Records carry "latency", seconds from a frame's
arrival to its record. A source that drops is reconnected for --reconnect-for seconds.
--view serves a web page showing the sources as they are posed (its address is
printed on stderr at the start): the poses drawn, track ids, frames per second posed
and dropped, latency.
"""


def add_live_options(parser: argparse.ArgumentParser) -> None:
    """--duration, --max-frames, --all-frames and the reading timeouts."""
    from ..reading.live import (DEFAULT_OPEN_TIMEOUT, DEFAULT_READ_TIMEOUT,
                                DEFAULT_RECONNECT_FOR)

    g = parser.add_argument_group("live sources")
    g.add_argument("--duration", type=_number(0.0, inclusive=False), metavar="SECONDS",
                   help="pose live sources for this long, then stop")
    g.add_argument("--max-frames", type=positive_int, metavar="N",
                   help="stop after N frames of the live sources are posed")
    g.add_argument("--all-frames", action="store_true",
                   help="pose every frame of a live source instead of the newest "
                        "(the reading waits for the posing: the lag may grow)")
    g.add_argument("--open-timeout", type=_number(0.0, inclusive=False),
                   default=DEFAULT_OPEN_TIMEOUT, metavar="SECONDS",
                   help=f"a live source not open by then fails (default "
                        f"{DEFAULT_OPEN_TIMEOUT:g})")
    g.add_argument("--read-timeout", type=_number(0.0, inclusive=False),
                   default=DEFAULT_READ_TIMEOUT, metavar="SECONDS",
                   help=f"a live source silent this long is lost and reconnected "
                        f"(default {DEFAULT_READ_TIMEOUT:g})")
    g.add_argument("--reconnect-for", type=_number(0.0), default=DEFAULT_RECONNECT_FOR,
                   metavar="SECONDS",
                   help=f"a lost live source not back within this fails; 0: at once "
                        f"(default {DEFAULT_RECONNECT_FOR:g})")
    g.add_argument("--ffmpeg-option", action="append", type=ffmpeg_option, default=[],
                   metavar="KEY=VALUE", dest="ffmpeg_options",
                   help="an option for FFmpeg's reading of the live sources, repeatable "
                        "(e.g. rtsp_transport=tcp for a camera behind a firewall, "
                        "video_size=1280x720 for a V4L2 camera)")
    g.add_argument("--view", nargs="?", const=("127.0.0.1", 0), type=view_address,
                   metavar="HOST:PORT",
                   help="show the live sources as they are posed on a local web page, "
                        "served on HOST:PORT (default 127.0.0.1 and a free port; its "
                        "address is printed on stderr). Put it after the sources, or "
                        "write --view=HOST:PORT")


def ffmpeg_option(text: str) -> tuple[str, str]:
    """argparse type of --ffmpeg-option: ``(key, value)``."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. rtsp_transport=tcp), "
                                         f"got {text!r}")
    return key, value


def view_address(text: str) -> tuple[str, int]:
    """argparse type of --view: ``(host, port)``."""
    import os

    from ..reading.live_names import is_live_source
    from ..video.view import parse_address

    try:
        return parse_address(text)
    except ValueError as exc:
        hint = ""
        if is_live_source(text) or os.path.exists(text):
            hint = ("; it looks like a source: put --view after the sources, or write "
                    "--view=HOST:PORT")
        raise argparse.ArgumentTypeError(f"{exc}{hint}") from None


def open_view(args: argparse.Namespace):
    """The ``LiveView`` --view asks for (None without --view), its address printed on
    stderr; UsageError when it cannot listen there."""
    if args.view is None:
        return None
    from ..video.view import LiveView, LiveViewError

    try:
        view = LiveView(*args.view)
    except LiveViewError as exc:
        raise UsageError(f"--view: {exc.strerror}") from None
    print(f"posefast: live view at {view.url}", file=sys.stderr, flush=True)
    return view


def live_options(args: argparse.Namespace, every: int = 1):
    """The ``LiveOptions`` the arguments ask for."""
    from ..reading.live import LiveOptions

    return LiveOptions(open_timeout=args.open_timeout, read_timeout=args.read_timeout,
                       reconnect_for=args.reconnect_for, keep_all=args.all_frames,
                       every=every, ffmpeg_options=dict(args.ffmpeg_options))
