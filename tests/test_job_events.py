"""The scheduler's wait (posefast/job/events.py): real processes, their messages and
their ends, with Linux's poll set and with the connection.wait fallback (Windows)."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

import pytest

from posefast.job import events as events_module
from posefast.job.events import Events
from conftest import IMAGES, MODEL_353
from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from processes import descendants

ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


@dataclass(eq=False)
class Proc:
    process: Any
    conn: Any


def talker(conn, count, then_wait):
    for i in range(count):
        conn.send(("message", i))
    if then_wait:
        conn.recv()  # until told to end


def start(count, then_wait=False):
    parent, child = ctx.Pipe(duplex=True)
    process = ctx.Process(target=talker, args=(child, count, then_wait), daemon=True)
    process.start()
    child.close()
    return Proc(process, parent)


@pytest.fixture(params=["poll", "connection.wait"])
def mode(request, monkeypatch):
    if request.param == "connection.wait":
        monkeypatch.setattr(events_module, "_POLL", False)
    elif not events_module._POLL:
        pytest.skip("no select.poll here")
    return request.param


def collect(events, procs, until, timeout=20.0):
    """Messages per process, and the processes seen ending (pipe closed, or sentinel
    spoken and no longer alive), until ``until(got, ended)`` holds."""
    got = {id(p): [] for p in procs}
    ended = set()
    deadline = time.monotonic() + timeout
    while not until(got, ended):
        assert time.monotonic() < deadline, (got, ended)
        for p, sentinel in events.wait(1.0):
            if id(p) in ended:
                continue
            messages, gone = events.drain(p)
            got[id(p)] += messages
            if gone or (sentinel and not p.process.is_alive()):
                ended.add(id(p))
                events.remove(p)
    return got, ended


def test_every_message_of_every_process_then_its_end(mode):
    events = Events()
    procs = [start(50), start(3), start(0)]
    for p in procs:
        events.add(p)
    got, ended = collect(events, procs, lambda got, ended: len(ended) == 3)
    assert [got[id(p)] for p in procs] == [[("message", i) for i in range(n)]
                                            for n in (50, 3, 0)]
    for p in procs:
        p.process.join()
        p.conn.close()


def test_a_killed_process_is_reported_and_a_live_one_is_not(mode):
    events = Events()
    alive, victim = start(2, then_wait=True), start(1, then_wait=True)
    for p in (alive, victim):
        events.add(p)
    got, ended = collect(events, [alive, victim],
                         lambda got, ended: len(got[id(alive)]) == 2 and len(got[id(victim)]) == 1)
    assert not ended
    os.kill(victim.process.pid, signal.SIGKILL)
    got, ended = collect(events, [alive, victim], lambda got, ended: ended)
    assert ended == {id(victim)} and alive.process.is_alive()
    assert events.wait(0.2) == []  # the live one has nothing to say; the dead one is gone
    alive.conn.send(None)
    alive.process.join()
    victim.process.join()


def test_nothing_to_report_returns_after_the_timeout(mode):
    events = Events()
    p = start(0, then_wait=True)
    events.add(p)
    t0 = time.monotonic()
    assert events.wait(0.3) == []
    assert 0.25 <= time.monotonic() - t0 < 5
    p.conn.send(None)
    p.process.join()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"),
                    reason="finding the job's processes needs Linux's /proc")
def test_the_job_through_the_fallback_gives_every_record_in_order(monkeypatch, pipeline):
    """The whole scheduler on connection.wait (as on Windows), a process killed
    halfway: every input comes back once, in order."""
    from posefast.config import load_config
    from posefast.job.runner import Runner, plan_job
    from posefast.job.tasks import Task

    monkeypatch.setattr(events_module, "_POLL", False)
    names = [str(p) for p in sorted(IMAGES.iterdir())] * 3
    config = load_config(api={"model": str(MODEL_353), "input_size": (177, 241)})
    emitted = []

    def emit(record):
        emitted.append(record)
        if len(emitted) == 4:  # kill the inference process once, mid-job
            for pid in descendants(os.getpid()):
                try:
                    name = open(f"/proc/{pid}/comm").read().strip()
                except OSError:
                    continue
                if name == "posefast-infer":
                    os.kill(pid, signal.SIGKILL)
                    break

    runner = Runner(config, plan=plan_job(config, workers=1, preparers=1), emit=emit)
    stats = runner.run(Task(n) for n in names)
    assert [r["source"] for r in emitted] == names
    assert all(r["error"] is None for r in emitted)
    assert stats.done == len(names) and stats.restarts == 1
