"""Running a piece of decoding in a child process, so that a crash (SIGSEGV, abort)
fails the test that provoked it instead of killing the whole pytest run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def run_in_child(code: str, timeout: float = 300.0) -> str:
    """Run ``code`` with this interpreter (the tests folder on its path, the same
    ``posefast`` as this process) and return its stdout; fail the calling test with
    the child's output if it exits non-zero or dies of a signal."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        how = f"exit status {proc.returncode}"
        if proc.returncode < 0:
            how = f"killed by {signal.Signals(-proc.returncode).name}"
        raise AssertionError(f"child process failed ({how}):\n{proc.stdout[-2000:]}"
                             f"\n{proc.stderr[-4000:]}")
    return proc.stdout
