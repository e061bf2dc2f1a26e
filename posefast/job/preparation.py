"""The preparation stage: a process that reads, decodes and resizes inputs into slots.

Pure CPU work, no backend: a job runs as many of these as the cores allow. Each
takes one task at a time from its pipe, in the order sent:

- ``("image", key, path, slot)``: load ``path``, resize it to the network input and
  write it into ``slot``; answer ``("prepared", key, slot, meta)`` or
  ``("failed", key, reason, seconds)``;
- ``("video", key, path, every, skip, start_after)``: decode the video from the
  start, sequentially, and prepare every ``every``-th frame after ``start_after``
  (-1: all) whose index is not in ``skip``, each into a slot granted by a
  ``("slots", [...])`` message, answering ``("frame", key, index, time, slot, meta)``
  per frame, then ``("video_end", key, unused_slots, error)``; slots granted after
  the video ended go back with ``("returned", slots)``;
- ``None``: exit.

``meta`` is ``(transform, width, height, seconds)``: the Transform back to the
original image, its size in pixels and the time the preparation took.
"""
from __future__ import annotations

import os
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

from ..backend import InputSpec
from .records import failure_reason
from .slots import SlotLayout, SlotPool, begin_process


def preparation_main(conn: Connection, layout: SlotLayout, spec: InputSpec, resize: str,
                     max_pixels: int, verbose: bool = False) -> None:
    """The body of a preparation process (the target given to multiprocessing);
    ``verbose``: let the runtime's log lines through (``--verbose``)."""
    begin_process("posefast-prep", verbose)
    try:
        pool = SlotPool.attach(layout)
    except FileNotFoundError:
        return  # the job ended (Ctrl-C) while this process was starting
    stage = _Preparer(conn, pool, spec, resize, max_pixels)
    try:
        conn.send(("ready", os.getpid()))
        stage.serve()
    except (BrokenPipeError, EOFError, OSError):
        pass  # the main process is gone, or closed our pipe: nothing to report to
    finally:
        pool.close()


class _Preparer:
    def __init__(self, conn: Connection, pool: SlotPool, spec: InputSpec, resize: str,
                 max_pixels: int) -> None:
        self.conn = conn
        self.pool = pool
        self.spec = spec
        self.resize = resize
        self.max_pixels = max_pixels
        self.credits: deque[int] = deque()
        self.stopped = False

    def serve(self) -> None:
        while not self.stopped and (msg := self.conn.recv()) is not None:
            kind = msg[0]
            if kind == "image":
                _, key, path, slot = msg
                self.conn.send(self._prepare(key, path, slot))
            elif kind == "video":
                self._video(*msg[1:])
            elif kind == "slots":  # granted as the video ended: not ours to keep
                self.conn.send(("returned", msg[1]))

    def _prepare(self, key: Any, image: Any, slot: int) -> tuple:
        from ..estimator import prepare_image

        t0 = time.perf_counter()
        try:
            prepared = prepare_image(image, self.spec, self.resize, self.max_pixels)
        except Exception as exc:
            return ("failed", key, failure_reason(exc), time.perf_counter() - t0)
        self.pool.view(slot)[...] = prepared.array
        meta = (prepared.transform, prepared.width, prepared.height, time.perf_counter() - t0)
        return ("prepared", key, slot, meta)

    def _video(self, key: Any, path: str, every: int, skip: frozenset, start_after: int) -> None:
        from ..reading.video import VideoError, iter_frames

        error = None
        try:
            for frame in iter_frames(path, every):
                if frame.index <= start_after or frame.index in skip:
                    continue
                slot = self._credit()
                if slot is None:
                    return  # told to stop
                answer = self._prepare(key, frame.pixels, slot)
                if answer[0] == "failed":  # a frame array is always loadable; be safe anyway
                    self.credits.appendleft(slot)
                    raise VideoError(f"{path}: frame {frame.index}: {answer[2]}")
                self.conn.send(("frame", key, frame.index, frame.time, slot, answer[3]))
        except VideoError as exc:
            error = str(exc)
        except Exception as exc:  # anything else PyAV raises: the video fails, not the job
            error = f"{path}: {type(exc).__name__}: {exc}"
        unused, self.credits = list(self.credits), deque()
        self.conn.send(("video_end", key, unused, error))

    def _credit(self) -> int | None:
        while not self.credits:
            msg = self.conn.recv()
            if msg is None:
                self.stopped = True
                return None
            if msg[0] == "slots":
                self.credits.extend(msg[1])
        return self.credits.popleft()


