"""The local job where its surroundings are hostile: a current folder holding another
posefast, a fork server killed or stopped, a small /dev/shm."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import posefast
from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES, MODEL_721
from processes import descendants
from test_job import (FAST, image_list, linux_only, records, running, stage_processes,
                      wait_until, lines)


# -- issue 24 must-fix 5: the job's processes import the command's posefast ------------

def test_the_job_imports_its_own_posefast_whatever_the_current_folder_holds(pipeline,
                                                                           tmp_path):
    command = Path(sys.executable).with_name("posefast")
    if not command.is_file():
        pytest.skip("the posefast command is not installed beside this Python")
    # A source checkout whose extension was not built, as the current folder: the
    # package's Python files, and its compiled kernels missing.
    clone = tmp_path / "clone"
    shutil.copytree(Path(posefast.__file__).parent, clone / "posefast",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    for kernels in ("_core", "_core_avx2"):  # (a hook may find the built ones otherwise)
        (clone / "posefast" / f"{kernels}.py").write_text(
            "raise ImportError(\"cannot import name '_core': this checkout is not built\")\n")
    out = tmp_path / "poses.jsonl"
    r = subprocess.run([str(a) for a in (command, "run", IMAGES / "standing.png", IMAGES / "couple.jpg",
                        "--output", out, "--workers", 2, *FAST)],
                       cwd=clone, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "died" not in r.stderr
    got = records(out)
    assert [rec["error"] for rec in got] == [None, None]
    assert len(got[1]["poses"]) == 2


# -- issue 24 must-fix 8: a small /dev/shm ----------------------------------------------

def _small_shm(size: str, *command) -> subprocess.CompletedProcess:
    """``command`` run with a /dev/shm of ``size`` (a tmpfs mounted in a mount namespace
    of its own, as root): Docker's default is 64 MB."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("a private /dev/shm needs root and unshare")
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            "mount -t tmpfs -o size=1m tmpfs /dev/shm"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a mount namespace here: {probe.stderr!r}")
    script = f'mount -t tmpfs -o size={size} tmpfs /dev/shm && exec "$@"'
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *map(str, command)],
                          capture_output=True, text=True, timeout=180)


LARGE = ["--model", str(MODEL_721)]  # 721x1281 inputs: 2.6 MB an image in flight


@linux_only
def test_a_small_dev_shm_fits_the_images_in_flight(pipeline, tmp_path):
    out = tmp_path / "poses.jsonl"
    r = _small_shm("12m", sys.executable, "-m", "posefast", "run", IMAGES, "--output", out,
                   "--workers", 2, "--preparers", 2, "--batch-size", 1, *LARGE)
    # before: preparation processes died on SIGBUS, "died ... times"
    assert r.returncode == 0, r.stderr
    assert "images in flight, not 10: /dev/shm holds no more" in r.stderr
    got = records(out)
    assert len(got) == len(list(IMAGES.iterdir())) and all(rec["error"] is None for rec in got)


@linux_only
def test_a_dev_shm_too_small_for_two_images_is_refused_before_the_output(pipeline, tmp_path):
    out = tmp_path / "poses.jsonl"
    r = _small_shm("5m", sys.executable, "-m", "posefast", "run", IMAGES, "--output", out,
                   *LARGE)
    assert r.returncode == 2, r.stderr
    assert "/dev/shm has 5.0 MB free" in r.stderr and "--input-size" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


@linux_only
def test_the_slot_pool_takes_its_memory_up_front(pipeline):
    r = _small_shm("4m", sys.executable, "-c", (
        "import errno\n"
        "from posefast.job.slots import SlotPool\n"
        "try:\n"
        "    pool = SlotPool.create(4, (721, 1281, 3), 'uint8')\n"
        "except OSError as exc:\n"
        "    print('refused', errno.errorcode[exc.errno])\n"
        "else:\n"
        "    pool.view(3)[...] = 1  # SIGBUS: the page is not there\n"
        "    print('written')\n"))
    assert r.stdout.strip() == "refused ENOSPC", (r.returncode, r.stdout, r.stderr)


def test_the_plan_fits_the_images_in_flight_to_the_shared_memory():
    from posefast.backend import InputSpec
    from posefast.config import load_config
    from posefast.job.runner import SharedMemoryTooSmall, plan_job

    config = load_config(api={"backend": "tflite"})
    spec = InputSpec(height=721, width=1281, dtype="uint8")
    one = 721 * 1281 * 3
    roomy = plan_job(config, cores=4, spec=spec, shm_free=lambda: 10 ** 12)
    assert roomy.slots == 4 * 2 + 4 * 2 * roomy.batch_size + 2
    assert "in flight" not in roomy.describe()
    tight = plan_job(config, cores=4, spec=spec, shm_free=lambda: 5 * one + (1 << 20))
    assert tight.slots == 5 and "5 images in flight" in tight.describe()
    unknown = plan_job(config, cores=4, spec=spec, shm_free=lambda: None)
    assert unknown.slots == roomy.slots
    with pytest.raises(SharedMemoryTooSmall, match="/dev/shm has .* --input-size"):
        plan_job(config, cores=4, spec=spec, shm_free=lambda: one)


# -- issue 24: the fork server killed or stopped -----------------------------------------

def _fork_server(job_pid: int) -> int | None:
    for task in Path(f"/proc/{job_pid}/task").glob("*/children"):
        for child in task.read_text().split():
            try:
                if b"multiprocessing.forkserver" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
            except OSError:
                continue
    return None


def _finish(job, timeout=90):
    """The job's exit code and stderr; a job still running after ``timeout`` s hung."""
    try:
        job.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in [*descendants(job.pid), job.pid]:  # (they hold its stderr open)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        job.wait()
        pytest.fail(f"the job hung: {job.stderr.read()}")
    return job.returncode, job.stderr.read()


@linux_only
@pytest.mark.parametrize("how", ["killed", "stopped", "stopped, then SIGTERM"])
def test_a_fork_server_killed_or_stopped_neither_hangs_the_job_nor_loses_a_record(
        pipeline, tmp_path, how):
    """Before: killing the fork server gave an EOFError traceback (5 tries in 6);
    stopping it, and any worker's death, hung the job for good, SIGTERM (and Ctrl-C)
    ignored. Now the job goes on with a new fork server, or SIGTERM ends it with
    every record whole."""
    lst, names = image_list(tmp_path, 40)
    out = tmp_path / "out.jsonl"
    with running("run", f"@{lst}", "--output", out, "--workers", 1, "--preparers", 1,
                 *FAST) as job:
        wait_until(lambda: lines(out) >= 4, job)
        server = wait_until(lambda: _fork_server(job.pid), job, what="the fork server")
        try:
            if how == "killed":
                os.kill(server, signal.SIGKILL)
            else:
                os.kill(server, signal.SIGSTOP)
                os.kill(stage_processes(job.pid, "posefast-infer")[0], signal.SIGKILL)
            if how.endswith("SIGTERM"):
                job.send_signal(signal.SIGTERM)
            code, err = _finish(job, timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):  # (the job killed it)
                os.kill(server, signal.SIGCONT)
    assert "Traceback" not in err
    got = records(out)
    if how.endswith("SIGTERM"):
        assert code in (130, 143) and "--resume" in err, err
        assert [r["source"] for r in got] == names[:len(got)]  # every line whole
    else:
        assert code == 0, err
        assert [r["source"] for r in got] == names and all(r["error"] is None for r in got)


def _noop():
    pass


@linux_only
def test_a_fork_server_that_does_not_answer_is_replaced_and_ctrl_c_is_heard(monkeypatch):
    """The start of a process waits for the fork server's answer: a stopped server gave
    none and the wait never ended, deaf to Ctrl-C. Here, in this process."""
    import threading
    import time
    from multiprocessing import forkserver as mp_forkserver

    from posefast.job import forkserver

    ctx = forkserver.context(None)
    if ctx.get_start_method() != "forkserver":
        pytest.skip("processes come from no fork server here")
    forkserver.start()
    first = ctx.Process(target=_noop, daemon=True)
    forkserver.start_process(first)
    first.join(10)
    monkeypatch.setattr(forkserver, "ANSWER_LIMIT", 1.0)
    server = mp_forkserver._forkserver._forkserver_pid
    os.kill(server, signal.SIGSTOP)
    with pytest.raises(forkserver.ForkServerError, match="did not answer in time"):
        forkserver.start_process(ctx.Process(target=_noop, daemon=True))
    assert mp_forkserver._forkserver._forkserver_pid != server  # a new one
    again = ctx.Process(target=_noop, daemon=True)
    forkserver.start_process(again)
    again.join(10)
    assert again.exitcode == 0
    # Ctrl-C while the server does not answer: heard within the grace period
    monkeypatch.setattr(forkserver, "ANSWER_LIMIT", 60.0)
    os.kill(mp_forkserver._forkserver._forkserver_pid, signal.SIGSTOP)
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        forkserver.start_process(ctx.Process(target=_noop, daemon=True))
    assert time.monotonic() - t0 < 10
    forkserver.end_server()  # (stopped: the next start in this process gets a new one)
