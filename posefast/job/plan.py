"""What a job will do, whichever engine runs it: the inputs left to pose after a
resume, how many there are, and the config each worker (process or Ray actor) uses."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from typing import Sequence

from ..config import Config
from .resume import input_key
from ..reading.inputs import Source


#: Processes of one kind, and images per batch, a job accepts: each process costs
#: tens of MB and a fraction of a second to start, each slot of a batch its shared
#: memory; far beyond these a job only runs out of memory (or of PIDs) before it
#: starts.
MAX_PROCESSES = 1024
MAX_BATCH = 1024


def available_cores() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Skipper:
    """Leaves out the inputs whose records are already in the output (``--resume``).

    ``done`` counts the (source, frame) keys already written; each key is left out
    as many times as it was written. Sources are compared by real path
    (``posefast.job.resume.input_key``): ``a.jpg``, ``./a.jpg`` and a link to it are
    one input.
    """

    def __init__(self, done: Counter | None = None) -> None:
        self.done: Counter = Counter()
        for key, count in (done or Counter()).items():
            self.done[input_key(*key)] += count
        #: Records not yet matched to an input: while none is, no input is looked up
        #: (a fresh job's inputs would each cost a realpath for nothing).
        self._left = sum(self.done.values())
        #: Inputs left out so far.
        self.skipped = 0

    def take_frames(self, source: str) -> list[int]:
        """The frames of the video ``source`` whose records are already written (each
        as many times as it was), now counted as left out."""
        real = input_key(source, None)[0]
        frames = [f for (src, f), n in self.done.items()
                  if src == real and f is not None for _ in range(n)]
        for f in frames:
            self.done[(real, f)] -= 1
        self._left -= len(frames)
        self.skipped += len(frames)
        return sorted(frames)

    def fresh(self, key: tuple[str, int | None]) -> bool:
        """Whether the input ``key`` is to be posed (False: its record is already written)."""
        if not self._left:
            return True
        key = input_key(*key)
        if self.done[key] > 0:
            self.done[key] -= 1
            self._left -= 1
            self.skipped += 1
            return False
        return True


def count_inputs(sources: Sequence[Source], every: int) -> int | None:
    """Images plus video frames to pose (None when a video's frame count is unknown)."""
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


def with_backend_threads(config: Config, threads: int) -> Config:
    """``config`` with the backend's thread option (``threads_option`` of its class)
    set to ``threads``, unless the user set it: every worker otherwise starts a
    thread per core, and the workers fight over the cores."""
    from ..backend_registry import get_backend_class

    options = dict(config.backend_options)
    threads_option = getattr(get_backend_class(config.backend), "threads_option", None)
    if threads_option and threads_option not in options:
        options[threads_option] = max(1, threads)
    return replace(config, backend_options=options)
