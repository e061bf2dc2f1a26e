"""Live sources drawn as they are posed: an MP4 per source (``posefast run
--render-dir`` with live sources).

A live source cannot be read again afterwards, as a video file is, so each posed
frame is drawn from the pixels it was posed on, and written at its time in the
stream (``record["time"]``): the video holds the posed frames only, each shown
until the next, so it plays at the stream's speed with the frame rate posing
reached. The file is finished when the job ends, Ctrl-C included.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .annotate import RenderDir, record_drawing

#: The frame rate announced in the files' headers (the frames carry their own times).
NOMINAL_FPS = 30.0


class LiveRenders:
    """``publish(source, pixels, record)`` draws ``record``'s poses over
    ``pixels`` ((H, W, 3) uint8 RGB) into the MP4 that ``path_for`` names for the
    source (standard input, ``-``, is named ``stdin``). A drawing that fails is said
    to ``on_error(message)`` once and that source is drawn no more: the records
    never wait on a picture. ``written``: the files finished by ``close``."""

    def __init__(self, path_for: RenderDir | Callable[[str, bool], str], *,
                 min_score: float = 0.3,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.path_for = path_for
        self.min_score = min_score
        self.on_error = on_error or (lambda message: None)
        self._writers: dict[str, Any] = {}  # source -> VideoWriter, or None once broken
        self._paths: dict[str, str] = {}
        self.written: list[str] = []

    def publish(self, source: str, pixels: np.ndarray, record: dict[str, Any]) -> None:
        if record.get("error") is not None or record.get("time") is None:
            return
        if source in self._writers and self._writers[source] is None:
            return  # broken: said once
        try:
            writer = self._writers.get(source)
            if writer is None:
                writer = self._open(source, pixels)
            writer.write(record_drawing(record, min_score=self.min_score)(pixels),
                         record["time"])
        except Exception as exc:
            self._writers[source] = None
            self.on_error(f"{source}: could not draw the poses into "
                          f"{self._paths.get(source, 'its video')}: "
                          f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Finish every file (a playable MP4 however the job ended)."""
        for source, writer in self._writers.items():
            if writer is None:
                continue
            try:
                writer.close()
                self.written.append(self._paths[source])
            except Exception as exc:
                self.on_error(f"{source}: could not finish {self._paths[source]}: "
                              f"{type(exc).__name__}: {exc}")
        self._writers = {}

    def _open(self, source: str, pixels: np.ndarray):
        from .writing import VideoWriter

        path = self.path_for("stdin" if source == "-" else source, True)
        self._paths[source] = path
        h, w = pixels.shape[:2]
        writer = VideoWriter(path, w, h, NOMINAL_FPS)
        self._writers[source] = writer
        return writer
