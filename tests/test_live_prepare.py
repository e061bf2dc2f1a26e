"""The live loop's preparer (posefast.video.live_prepare.FramePreparer): the next
frame taken and prepared in a thread beside the network, just in time, none lost."""
from __future__ import annotations

import threading
import time

import pytest

from posefast.video.live_prepare import FramePreparer


class Frames:
    """A source of ``count`` numbered frames, each available at once; records when
    each was taken."""

    def __init__(self, count: int) -> None:
        self.left = list(range(count))
        self.taken_at: dict[int, float] = {}
        self.lock = threading.Lock()

    def take(self, timeout: float):
        with self.lock:
            if not self.left:
                time.sleep(min(timeout, 0.01))
                return None
            k = self.left.pop(0)
            self.taken_at[k] = time.monotonic()
            return ("source", k)

    def exhausted(self) -> bool:
        with self.lock:
            return not self.left


def consume(preparer: FramePreparer, run_seconds: float = 0.0) -> list:
    got = []
    while True:
        ready = preparer.get(1.0)
        if ready is None:
            if preparer.finished:
                return got
            continue
        preparer.running()
        time.sleep(run_seconds)
        preparer.done()
        got.append((ready.source, ready.frame, ready.prepared))


def test_every_frame_in_order_and_none_lost_at_the_end():
    """Frames come out in the order taken, each prepared once; the last one taken is
    still given after the source ran out (finished only once it was got)."""
    frames = Frames(25)
    with FramePreparer(frames.take, lambda k: k * 10, frames.exhausted) as preparer:
        got = consume(preparer)
        assert preparer.finished
    assert got == [("source", k, k * 10) for k in range(25)]


def test_the_next_frame_is_taken_near_the_end_of_the_run_not_at_its_start():
    """The network runs 0.3 s a frame and preparing takes 0.02 s: once the preparer
    has seen a few runs, it takes the next frame late in the current run (so that
    the frame is fresh when the network is free), not as the run starts."""
    frames = Frames(6)
    starts: list[float] = []

    def prepare(k):
        time.sleep(0.02)
        return k

    with FramePreparer(frames.take, prepare, frames.exhausted) as preparer:
        while True:
            ready = preparer.get(2.0)
            if ready is None:
                if preparer.finished:
                    break
                continue
            preparer.running()
            starts.append(time.monotonic())
            time.sleep(0.3)
            preparer.done()
    assert len(starts) == 6
    # frame 0 is taken at once; frames 3 to 5, after runs were seen, well into the
    # run before them (that run started at starts[k - 1])
    for k in (3, 4, 5):
        assert frames.taken_at[k] - starts[k - 1] > 0.15, (k, frames.taken_at, starts)
        assert frames.taken_at[k] < starts[k]


def test_an_error_in_preparing_is_raised_to_the_consumer():
    frames = Frames(5)

    def prepare(k):
        if k == 2:
            raise ValueError("frame 2 is bad")
        return k

    with FramePreparer(frames.take, prepare, frames.exhausted) as preparer:
        got = []
        with pytest.raises(ValueError, match="frame 2 is bad"):
            while True:
                ready = preparer.get(1.0)
                if ready is not None:
                    got.append(ready.frame)
    assert got == [0, 1]


def test_stop_ends_the_thread_while_it_waits_for_frames():
    """A source with no frame yet: stop() ends the preparer promptly."""
    frames = Frames(0)
    preparer = FramePreparer(frames.take, lambda k: k, lambda: False)
    assert preparer.get(0.05) is None and not preparer.finished
    t0 = time.monotonic()
    preparer.stop()
    assert not preparer._thread.is_alive()
    assert time.monotonic() - t0 < 5
