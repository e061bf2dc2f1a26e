"""Several live sources read side by side, their frames taken fairly.

The sources share one condition, so that a consumer waits for whichever has a frame
first; among those with a frame waiting, the one whose frame has waited longest is
served, so that a busy consumer takes turns between sources instead of favouring
the fastest one.
"""
from __future__ import annotations

import threading
from typing import BinaryIO, Sequence

from .live import LiveFrame, LiveOptions, LiveSource, _to_frame


class LiveGroup:
    """Live sources read at once: ``next_frame`` gives (source, frame) in fair turns.

    ``names``: the sources (see :class:`LiveSource`); one ``options`` for all.
    ``stdin``: the pipe ``-`` reads (default standard input; at most one ``-``).
    Use it as a context manager, or call ``start`` and ``stop``.
    """

    def __init__(self, names: Sequence[str], options: LiveOptions | None = None, *,
                 stdin: BinaryIO | int | None = None) -> None:
        if isinstance(names, str) or not names:
            raise ValueError(f"names must be a non-empty list of live sources, got {names!r}")
        if sum(1 for n in names if n == "-") > 1:
            raise ValueError("standard input (-) can be read by one source only")
        self._cond = threading.Condition()
        self.sources = [LiveSource(n, options, stdin=stdin, condition=self._cond)
                        for n in names]

    def start(self) -> "LiveGroup":
        for source in self.sources:
            source.start()
        return self

    def stop(self, wait: float | None = None) -> None:
        """Stop every source (their readers end together: all are asked first)."""
        for source in self.sources:
            source.stop(wait=0)
        for source in self.sources:
            source.stop(wait)

    @property
    def ended(self) -> bool:
        """Whether every source has ended, with no frame left to take."""
        return all(s.ended for s in self.sources)

    def next_frame(self, timeout: float | None = None) -> tuple[LiveSource, LiveFrame] | None:
        """The frame that has waited longest among the sources' newest ones, with its
        source; None when none came within ``timeout`` seconds (None: wait until one
        comes) or every source has ended."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._oldest() is not None or self.ended,
                                       timeout):
                return None
            source = self._oldest()
            if source is None:
                return None
            item = source._take()
        # converted to RGB outside the lock, so that the readers go on meanwhile
        return None if item is None else (source, _to_frame(item))

    def _oldest(self) -> LiveSource | None:
        best, when = None, None
        for source in self.sources:
            arrival = source.pending_arrival()
            if arrival is not None and (when is None or arrival < when):
                best, when = source, arrival
        return best

    def __enter__(self) -> "LiveGroup":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
