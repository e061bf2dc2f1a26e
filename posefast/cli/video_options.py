"""Command-line options for videos, shared by predict and run: tracking, smoothing."""
from __future__ import annotations

import argparse
import math
from typing import Any, Callable

from .options import positive_int

VIDEO_HELP = """\
video: --track gives each pose of a video frame a "track_id" that stays the same while
the person stays in view (OKS keypoint tracker, or --tracker iou); --smooth (implies
--track) filters each track's keypoints over time with the One Euro filter.
"""


def _number(low: float, *, inclusive: bool = True) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(
                f"expected a number {'>=' if inclusive else '>'} {low}, got {text!r}")
        return value
    return parse


def _fraction(text: str) -> float:
    value = _number(0.0)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def add_video_options(parser: argparse.ArgumentParser) -> None:
    """--track, --tracker and its parameters, --smooth and the filter's parameters."""
    from ..video.smoothing import DEFAULT_BETA, DEFAULT_D_CUTOFF, DEFAULT_MIN_CUTOFF
    from ..video.stream import TrackingOptions

    d = TrackingOptions()
    g = parser.add_argument_group("video tracking and smoothing")
    g.add_argument("--track", action="store_true",
                   help="give each pose of a video frame a track_id, stable while the "
                        "person stays in view")
    g.add_argument("--tracker", choices=("oks", "iou"), default=d.tracker,
                   help="oks: keypoint similarity (default); iou: overlap of the boxes")
    g.add_argument("--max-age", type=_number(0.0), default=d.max_age, metavar="SECONDS",
                   help=f"a track unmatched for longer ends (0: at the first frame it "
                        f"misses); its id is not reused (default {d.max_age})")
    g.add_argument("--min-similarity", type=_fraction, default=d.min_similarity,
                   metavar="S", help=f"least OKS/IoU that continues a track "
                                     f"(default {d.min_similarity})")
    g.add_argument("--max-tracks", type=positive_int, default=d.max_tracks, metavar="N",
                   help=f"tracks kept at once (default {d.max_tracks})")
    g.add_argument("--smooth", action="store_true",
                   help="smooth each track's keypoints with the One Euro filter "
                        "(implies --track)")
    g.add_argument("--min-cutoff", type=_number(0.0, inclusive=False),
                   default=DEFAULT_MIN_CUTOFF, metavar="HZ",
                   help=f"One Euro cut-off at rest: lower, less jitter "
                        f"(default {DEFAULT_MIN_CUTOFF})")
    g.add_argument("--beta", type=_number(0.0), default=DEFAULT_BETA, metavar="B",
                   help=f"One Euro speed weight: higher, less lag when moving "
                        f"(default {DEFAULT_BETA})")
    g.add_argument("--d-cutoff", type=_number(0.0, inclusive=False),
                   default=DEFAULT_D_CUTOFF, metavar="HZ",
                   help=f"One Euro cut-off of the speed estimate (default {DEFAULT_D_CUTOFF})")


def tracking_options(args: argparse.Namespace) -> tuple[Any, Any]:
    """(TrackingOptions, SmoothingOptions) the options ask for, each None when not."""
    if not (args.track or args.smooth):
        return None, None
    from ..video.stream import SmoothingOptions, TrackingOptions

    tracking = TrackingOptions(args.tracker, args.max_age, args.min_similarity, args.max_tracks)
    smoothing = (SmoothingOptions(args.min_cutoff, args.beta, args.d_cutoff)
                 if args.smooth else None)
    return tracking, smoothing


def video_stage(args: argparse.Namespace,
                sink: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """``sink`` behind tracking (and smoothing) when the options ask for it."""
    tracking, smoothing = tracking_options(args)
    if tracking is None:
        return sink
    from ..video.stream import TrackingStage

    return TrackingStage(sink, tracking, smoothing)
