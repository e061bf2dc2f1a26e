"""Annotated output: the inputs with their poses drawn, as the records come.

Images become PNG files, videos MP4 files at the same frame rate and frame times.
The frames are read again from the source file here, in the main process, so the
workers never ship pixels back. Each track is drawn in its own colour with its id
above the head; untracked poses are coloured by side of the body. With ``--every N``
the frames between two posed frames show the poses of the last posed one.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..pose import Pose
from .timeline import Timeline

Record = dict[str, Any]

#: Track colours (RGB), picked by id: bright enough on dark and light scenes.
TRACK_COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    (170, 255, 195),
)


def track_colour(track_id: int) -> tuple[int, int, int]:
    """The colour a track is drawn in."""
    return TRACK_COLOURS[(track_id - 1) % len(TRACK_COLOURS)]


def record_drawing(record: Record, *, min_score: float = 0.3
                   ) -> Callable[[np.ndarray], np.ndarray]:
    """A function drawing ``record``'s poses over a frame: (H, W, 3) uint8 RGB pixels
    in, the same shape out (the frame itself when there is no pose). The poses'
    keypoints are pixels of that frame. A pose with a ``track_id`` is drawn in its
    track's colour with its id above the head; one without, by side of the body."""
    from PIL import Image

    from ..render import draw_poses

    poses = [Pose.from_dict(p) for p in record.get("poses") or []]
    ids = [p.get("track_id") for p in record.get("poses") or []]
    colours = [track_colour(i) if i is not None else None for i in ids]
    labels = [str(i) if i is not None else None for i in ids]

    def draw(pixels: np.ndarray) -> np.ndarray:
        if not poses:
            return pixels
        out = draw_poses(Image.fromarray(pixels), poses, min_score=min_score,
                         colours=colours, labels=labels)
        return np.asarray(out)
    return draw


class RenderDir:
    """Names the outputs in one folder: ``<stem>.png`` / ``<stem>.mp4``, with
    ``-2``, ``-3``, ... added when two inputs share a name, or when the name is a file
    that ``keep(path)`` says must not be written over (the job's own inputs, when
    the folder is theirs)."""

    def __init__(self, folder: str | os.PathLike,
                 keep: Callable[[str], bool] = lambda path: False) -> None:
        self.folder = Path(folder)
        self.keep = keep
        self._used: set[str] = set()
        # files' drawings are named in the main thread, live sources' videos in theirs
        self._lock = threading.Lock()

    def __call__(self, source: str, video: bool) -> str:
        stem, suffix = Path(source).stem or "input", ".mp4" if video else ".png"
        name, n = stem + suffix, 1
        with self._lock:
            while name in self._used or self.keep(str(self.folder / name)):
                n += 1
                name = f"{stem}-{n}{suffix}"
            self._used.add(name)
        return str(self.folder / name)


class Annotator:
    """Draws each record (in input order) into the file ``path_for(source, video)``
    names. A drawing that fails is reported to ``on_error(message)`` and skipped:
    the poses themselves are never lost over a picture."""

    def __init__(self, path_for: Callable[[str, bool], str], *, min_score: float = 0.3,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.path_for = path_for
        self.min_score = min_score
        self.on_error = on_error or (lambda message: None)
        self._video: _VideoOut | None = None
        self.written: list[str] = []

    def __call__(self, record: Record) -> None:
        self.write(record)

    def write(self, record: Record) -> None:
        frame = record.get("frame")
        if frame is None or (self._video is not None and (
                record["source"] != self._video.source or frame <= self._video.index)):
            self._finish_video()
        if frame is None:
            if record.get("error") is None:
                self._guard(record["source"], self._image, record)
            return
        if self._video is None:
            self._video = self._guard(record["source"], self._open_video, record["source"])
            if self._video is None:
                self._video = _VideoOut.failed(record["source"])
        if not self._video.broken:
            self._guard(record["source"], self._video.draw_until, frame, self._drawing(record))

    def close(self) -> None:
        """Finish the video being written, if any."""
        self._finish_video()

    # -- helpers --

    def _drawing(self, record: Record) -> Callable[[np.ndarray], np.ndarray]:
        return record_drawing(record, min_score=self.min_score)

    def _image(self, record: Record) -> None:
        from ..reading.images import load_image

        pixels = np.asarray(load_image(record["source"]).image)
        out = self.path_for(record["source"], False)
        from PIL import Image

        Image.fromarray(self._drawing(record)(pixels)).save(out)
        self.written.append(out)

    def _open_video(self, source: str) -> _VideoOut:
        return _VideoOut(source, self.path_for(source, True))

    def _finish_video(self) -> None:
        if self._video is not None:
            video, self._video = self._video, None
            try:
                video.finish()
            except Exception as exc:
                self.on_error(f"{video.source}: could not finish {video.out_path}: "
                              f"{type(exc).__name__}: {exc}")
                return
            if not video.broken:
                self.written.append(video.out_path)

    def _guard(self, source: str, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:
            if self._video is not None and self._video.source == source:
                self._video.broken = True
            self.on_error(f"{source}: could not draw the poses: {type(exc).__name__}: {exc}")
            return None


class _VideoOut:
    """One source video being copied to its annotated MP4, frame by frame."""

    def __init__(self, source: str, out_path: str) -> None:
        from ..reading.video import frame_rate, iter_frames

        self.source, self.out_path = source, out_path
        self.index = -1
        self.broken = False
        self._frames: Iterator = iter_frames(source)
        self._fps = frame_rate(source) or 30.0
        self._timeline = Timeline(1 / self._fps)
        self._writer = None
        self._hold: Callable[[np.ndarray], np.ndarray] = lambda px: px
        self._t0: float | None = None

    @classmethod
    def failed(cls, source: str) -> "_VideoOut":
        self = cls.__new__(cls)
        self.source, self.out_path, self.index = source, "", -1
        self.broken = True
        self._writer = None
        return self

    def draw_until(self, index: int, draw: Callable[[np.ndarray], np.ndarray]) -> None:
        """Write the frames up to ``index``: those before it with the poses held from
        the last posed frame, frame ``index`` with ``draw``."""
        self.index = index
        for frame in self._frames:
            self._put(frame, draw if frame.index == index else self._hold)
            if frame.index >= index:
                break
        self._hold = draw

    def finish(self) -> None:
        try:
            if not self.broken:
                for frame in self._frames:  # the tail after the last posed frame
                    self._put(frame, self._hold)
        finally:
            if self._writer is not None:
                self._writer.close()

    def _put(self, frame, draw) -> None:
        from .writing import VideoWriter

        pixels = draw(frame.pixels)
        if self._writer is None:
            h, w = frame.pixels.shape[:2]
            Path(self.out_path).parent.mkdir(parents=True, exist_ok=True)
            self._writer = VideoWriter(self.out_path, w, h, self._fps)
        t = frame.time if frame.time is not None else frame.index / self._fps
        self._writer.write(pixels, self._timeline(t)[0])  # every frame, time going forward
