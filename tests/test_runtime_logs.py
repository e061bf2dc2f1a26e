"""Keeping the runtimes' log lines off stderr (``posefast.runtime_logs``) when
several threads do it at once: estimators of their own, one per thread, running
their first inference side by side (``posefast run`` on live sources)."""
from __future__ import annotations

import os
import threading

from posefast.runtime_logs import quiet_runtime_logs


def stderr_target() -> str:
    return os.readlink("/proc/self/fd/2")


def test_threads_quieting_at_once_leave_stderr_as_it_was(capfd, monkeypatch):
    """A enters, B enters, A leaves, B leaves: fd 2 is the same file after as before
    (it was left pointing at A's deleted capture file, and stderr was lost), the
    runtime's INFO lines of both are dropped and their other lines kept, once."""
    monkeypatch.delenv("POSEFAST_VERBOSE", raising=False)
    before = stderr_target()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a() -> None:
        with quiet_runtime_logs():
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
            a_in.set()
            b_in.wait(10)
            os.write(2, b"error from a\n")
        a_out.set()

    def b() -> None:
        a_in.wait(10)
        with quiet_runtime_logs():
            b_in.set()
            a_out.wait(10)
            os.write(2, b"INFO: b's runtime\nerror from b\n")

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert stderr_target() == before
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert err == "error from a\nerror from b\nafter\n"
