"""Reading the frames of a video file, with their presentation times.

PyAV (FFmpeg's decoders, shipped in its wheels) is optional: ``video_support()``
says whether it is installed; everything else raises ``VideoError`` without it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .files import special_kind

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}
)


def is_video_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` has a video file extension (case-insensitive)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: its index among all frames of the stream (from 0), its
    presentation time in seconds from the stream's start (None when the container
    gives none), and its pixels, an (H, W, 3) uint8 RGB array."""

    index: int
    time: float | None
    pixels: np.ndarray


# -- video frames --------------------------------------------------------------

class VideoError(Exception):
    """A video could not be opened or decoded; the message names it and says why."""


def _av():
    try:
        import av  # PyAV: FFmpeg's decoders, as wheels for every platform
    except ImportError:
        raise VideoError("reading videos needs PyAV: pip install 'posefast[video]'") from None
    return av


def video_support() -> bool:
    """Whether videos can be read here (PyAV is installed)."""
    try:
        _av()
    except VideoError:
        return False
    return True


def _regular_file_problem(path: str) -> str | None:
    """Why ``path`` is not opened as a video: FFmpeg would block forever on a FIFO or a
    device (deaf to Ctrl-C, inside its C code), so only regular files are opened."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    kind = special_kind(st.st_mode)
    return None if kind is None else f"is {kind}, not a video file"


def _header(path: str, attribute: str):
    """``attribute`` of the first video stream, as the container's header gives it;
    None if unknown, unreadable, or not a regular file (a FIFO would block the probe)."""
    if _regular_file_problem(path):
        return None
    try:
        av = _av()
        with av.open(path) as container:
            return getattr(container.streams.video[0], attribute)
    except Exception:
        return None


def count_frames(path: str, every: int = 1) -> int | None:
    """How many frames ``iter_frames`` will yield, from the container's header (None if unknown)."""
    frames = _header(path, "frames")
    return (frames + every - 1) // every if frames else None


def iter_frames(path: str, every: int = 1) -> Iterator[VideoFrame]:
    """Every ``every``-th frame, from frame 0, as ``VideoFrame``.

    The index counts every frame of the video's first video stream. Raises
    VideoError naming the file on a file that is not a readable video, or on
    corrupt data part-way (after the frames decoded before it).
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a whole number >= 1 (frames), got {every!r}")
    av = _av()
    problem = _regular_file_problem(path)
    if problem:
        raise VideoError(f"{path}: {problem}")
    try:
        container = av.open(path)
    except Exception as exc:  # PyAV raises its own FFmpegError subclasses and OSError
        raise VideoError(f"{path}: not a readable video ({_reason(exc)}: not a video "
                         f"format FFmpeg knows, or a damaged file)") from None
    with container:
        if not container.streams.video:
            raise VideoError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # decode with FFmpeg's frame threads
        index = 0
        try:
            for frame in container.decode(stream):
                if index % every == 0:
                    yield VideoFrame(index, _seconds(frame, stream, index),
                                     frame.to_ndarray(format="rgb24"))
                index += 1
        except av.FFmpegError as exc:
            raise VideoError(f"{path}: video data corrupt at frame {index} "
                             f"({_reason(exc)})") from None
        if index == 0:
            # FFmpeg drops what it cannot decode without a word: a stream cut before its
            # first keyframe (every frame refers to a picture that is not there) gives
            # no frame at all, which would otherwise give no record at all
            raise VideoError(f"{path}: no frame of its video stream could be decoded (the "
                             f"stream is empty, or cut before its first keyframe)")


def _reason(exc: BaseException) -> str:
    """What FFmpeg (or the OS) said, in words: without PyAV's ``[Errno 1094995529]``,
    FFmpeg's error codes being tags that mean nothing to a reader."""
    words = getattr(exc, "strerror", None)
    if isinstance(words, str) and words:
        return words[0].lower() + words[1:]
    return str(exc) or type(exc).__name__


def frame_rate(path: str) -> float | None:
    """The average frame rate (frames per second) of the first video stream, from the
    container's header (None if unknown or unreadable)."""
    rate = _header(path, "average_rate")
    return float(rate) if rate else None


def _seconds(frame, stream, index: int) -> float | None:
    # The frame's own timestamp: a stream whose frame rate varies keeps true times.
    if frame.pts is None:  # no timestamps in the container: count at the average rate
        rate = stream.average_rate
        return index / float(rate) if rate else None
    base = frame.time_base or stream.time_base
    start = stream.start_time or 0
    return float((frame.pts - start) * base) if base is not None else None
