"""A one-line progress bar for terminals, and the end-of-job summary."""
from __future__ import annotations

import time
from typing import TextIO

from .tasks import RunStats


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Redraws ``done/total [bar] images/s ETA`` on ``stream`` at most 5 times a second.

    Draws nothing unless ``enabled`` (the caller passes ``stream.isatty()``, so a
    job in a pipe or a log stays quiet). ``total`` may be None when unknown.
    """

    def __init__(self, stream: TextIO, total: int | None, *, enabled: bool,
                 width: int = 24) -> None:
        self.stream = stream
        self.total = total
        self.enabled = enabled
        self.width = width
        self._start = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def update(self, stats: RunStats, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        n = stats.done + stats.failed
        elapsed = now - self._start
        rate = n / elapsed if elapsed > 0 else 0.0
        if self.total:
            frac = min(1.0, n / self.total)
            filled = int(frac * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            eta = _clock((self.total - n) / rate) if rate > 0 else "--:--"
            line = f"{n}/{self.total} [{bar}] {rate:.1f} images/s ETA {eta}"
        else:
            line = f"{n} [{rate:.1f} images/s] {_clock(elapsed)}"
        if stats.failed:
            line += f" ({stats.failed} failed)"
        if stats.dropped:
            line += f", {dropped(stats.dropped)}"
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def summary(stats: RunStats, skipped: int, workers: int) -> str:
    """One line: done, failed, skipped, seconds, images/s, and the workers' share of
    time in the network (what is left is loading, pre-processing, decoding, start-up
    and waiting)."""
    n = stats.done + stats.failed
    rate = n / stats.seconds if stats.seconds > 0 else 0.0
    line = (f"done {stats.done}, failed {stats.failed}, skipped {skipped} "
            f"in {stats.seconds:.1f} s ({rate:.1f} images/s)")
    if stats.seconds > 0 and stats.infer_seconds > 0:
        share = stats.infer_seconds / (workers * stats.seconds)
        line += (f"; {workers} worker{'s' if workers != 1 else ''}, "
                 f"{share:.0%} of their time in the network")
    if stats.restarts:
        line += f"; {stats.restarts} worker process(es) died and were replaced"
    if stats.dropped:
        line += f"; live sources: {dropped(stats.dropped)} (newest frame first)"
    return line


def dropped(counts: dict[str, int]) -> str:
    """``dropped N (source: n, ...)``: the frames of live sources dropped, per source."""
    each = ", ".join(f"{source}: {n}" for source, n in counts.items())
    return f"dropped {sum(counts.values())} ({each})"
