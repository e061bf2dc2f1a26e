"""Several live sources read side by side, their frames taken fairly.

The sources share one condition, so that a consumer waits for whichever has a frame
first; among those with a frame waiting, the one served least recently is served, so
that a busy consumer takes turns between sources whatever their frame rates. (The
oldest frame first would not do: a source's waiting frame is replaced by each newer
one, so a fast source's frame would always look young and wait.)
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
        self._turn = 0
        self._served = [0] * len(self.sources)  # the turn each source was last served
        self._held: set[int] = set()  # sources whose frame is out with hold=True

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

    def next_frame(self, timeout: float | None = None, *,
                   hold: bool = False) -> tuple[LiveSource, LiveFrame] | None:
        """The newest frame of the source served least recently among those with a
        frame waiting, with its source; None when none came within ``timeout``
        seconds (None: wait until one comes) or every source has ended. Safe to call
        from several threads. ``hold``: the source gives no other frame until
        :meth:`release` is called for it, so that consumers posing frames at once
        finish each source's frames in their order."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._next() is not None or self.ended,
                                       timeout):
                return None
            k = self._next()
            if k is None:
                return None
            source = self.sources[k]
            item = source._take()
            self._turn += 1
            self._served[k] = self._turn
            if hold and item is not None:
                self._held.add(k)
        # converted to RGB outside the lock, so that the readers go on meanwhile
        return None if item is None else (source, _to_frame(item))

    def release(self, source: LiveSource) -> None:
        """Let ``source``, held by ``next_frame(hold=True)``, give frames again."""
        with self._cond:
            self._held.discard(self.sources.index(source))
            self._cond.notify_all()

    def _next(self) -> int | None:
        waiting = [k for k, s in enumerate(self.sources)
                   if k not in self._held and s.pending_arrival() is not None]
        return min(waiting, key=self._served.__getitem__) if waiting else None

    def __enter__(self) -> "LiveGroup":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
