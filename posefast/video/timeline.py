"""One clock per video that only moves forward, whatever the file's time stamps do.

Two ``.ts`` segments joined (a recorder restarted, a stream cut and pasted) give
time stamps that jump back to 0, or forward by hours; a damaged file repeats them.
Taken as they are, a jump back froze the One Euro filters (no time passed, so the
output held still for the whole second segment), the MP4 writer dropped every frame
that did not move its clock forward, and a leap of 10^6 s made a one-frame file.
Here such a jump starts a new *segment*: its frames go on from the last one, one
usual frame interval later, and the caller resets what must not carry over (the
filters). The records keep the times the file gives.
"""
from __future__ import annotations

#: Seconds between two frames beyond which the second starts a new segment: far more
#: than a frame interval (a variable frame rate's, or ``--every``'s between two posed
#: frames), far less than a leap between joined segments.
MAX_GAP = 60.0


class Timeline:
    """Maps each frame's time in the file (seconds, in the order decoded) to a time on
    a clock that only moves forward. ``step`` is the interval assumed until two frames
    have shown one (seconds)."""

    def __init__(self, step: float = 1 / 30, max_gap: float = MAX_GAP) -> None:
        if not step > 0:
            raise ValueError(f"step must be > 0 seconds, got {step}")
        self.step = float(step)
        self.max_gap = float(max_gap)
        self._raw: float | None = None
        self._now = 0.0

    def __call__(self, t: float) -> tuple[float, bool]:
        """The time on the clock of a frame the file puts at ``t``, and whether it
        starts a new segment (the time went back, stood still, or leapt ahead)."""
        t = float(t)
        if self._raw is None:
            self._raw = self._now = t
            return t, False
        gap = t - self._raw
        self._raw = t
        if 0 < gap <= self.max_gap:
            self.step = gap
            self._now += gap
            return self._now, False
        self._now += self.step
        return self._now, True
