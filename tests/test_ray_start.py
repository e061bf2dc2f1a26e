"""A cluster started as users start one, with ``ray start --head``, reached by
``posefast run --engine ray --ray-address HOST:PORT`` from another process.

Since Ray 2.59 such a cluster wants an authentication token, which a process given an
explicit address does not send unless told (RAY_AUTH_MODE=token): the command must say
so, not retry in silence and fail with "Failed to connect"."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from pipeline_ready import pipeline  # noqa: E402,F401  (a fixture)
from conftest import IMAGES, MODEL_353  # noqa: E402

FAST = ["--model", str(MODEL_353), "--input-size", "177x241"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def started_head(pipeline, tmp_path_factory):
    """``ray start --head --block`` in a session of its own: ending it stops its Ray."""
    ray_cli = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    if ray_cli is None:
        pytest.skip("the ray command is not installed")
    port = free_port()
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    env.pop("RAY_AUTH_MODE", None)
    log = tmp_path_factory.mktemp("head") / "ray-start.log"
    with open(log, "wb") as out:
        # in a folder of its own, as a cluster is started elsewhere than its users' jobs:
        # its workers' working folder is not the command's
        head = subprocess.Popen([ray_cli, "start", "--head", "--block", "--num-cpus", "1",
                                 "--include-dashboard", "false", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, cwd=log.parent)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if head.poll() is not None:
                pytest.fail(f"ray start failed:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"ray start did not listen on {port}:\n{log.read_text()}")
        time.sleep(2)  # the raylet registers after the GCS listens
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGINT)  # Ctrl-C: `ray start --block` stops its processes
        try:
            head.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        try:  # and whatever is left of its session
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        head.wait()
        # the address Ray keeps for the next ray.init() on this machine: ours is gone
        current = Path("/tmp/ray/ray_current_cluster")
        if current.is_file() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()


def posefast_on(address: str, out: Path, *args: str, cwd: Path | None = None,
                **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", **env}
    full.pop("RAY_ADDRESS", None)
    if "RAY_AUTH_MODE" not in env:
        full.pop("RAY_AUTH_MODE", None)
    args = args or (str(IMAGES / "couple.jpg"), *FAST)
    return subprocess.run([sys.executable, "-m", "posefast", "run", *args,
                           "--engine", "ray", "--ray-address", address, "--output", str(out)],
                          capture_output=True, text=True, timeout=300, env=full, cwd=cwd)


def test_a_started_cluster_is_reached_by_address_with_its_token(started_head, tmp_path):
    r = posefast_on(started_head, tmp_path / "without.jsonl")
    if r.returncode != 0:  # a Ray whose clients send no token unless told (2.59-2.60)
        assert r.returncode == 2, r.stderr
        assert "wants an authentication token" in r.stderr and "RAY_AUTH_MODE=token" in r.stderr
        assert "Traceback" not in r.stderr and "gcs_client" not in r.stderr
    r = posefast_on(started_head, tmp_path / "out.jsonl", RAY_AUTH_MODE="token")
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [rec["source"] for rec in records] == [str(IMAGES / "couple.jpg")]
    assert len(records[0]["poses"]) == 2
    # The command ends without Ray's disconnect (its process exits, closing the
    # connection): the cluster must still end the job and free its actor's CPU.
    assert cluster_cpus_free_again(started_head) == 1.0


def cluster_cpus_free_again(address: str, timeout: float = 60.0) -> float:
    """The CPUs available on the cluster once they stop changing (from a process of
    its own, so that this one stays off Ray), or what it last saw at the timeout."""
    code = (
        "import os, sys, time, ray\n"
        "ray.init(address=sys.argv[1], logging_level='ERROR')\n"
        "deadline = time.monotonic() + float(sys.argv[2])\n"
        "free = ray.available_resources().get('CPU', 0.0)\n"
        "while free < ray.cluster_resources().get('CPU', 0.0) and time.monotonic() < deadline:\n"
        "    time.sleep(0.5)\n"
        "    free = ray.available_resources().get('CPU', 0.0)\n"
        "print(free, flush=True)\n"
        "os._exit(0)\n")
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token"}
    env.pop("RAY_ADDRESS", None)
    r = subprocess.run([sys.executable, "-c", code, address, str(timeout)], capture_output=True,
                       text=True, timeout=timeout + 60, env=env)
    assert r.returncode == 0, r.stderr
    return float(r.stdout.split()[-1])


def test_relative_paths_reach_actors_whose_working_folder_is_rays(started_head, tmp_path):
    """The actors of a cluster started elsewhere run in Ray's working folder: a model
    and inputs named relative to the command's folder were not found there (the job
    died, "The actor died because of an error raised in its creation task"). The
    records name the inputs as given, as the local engine's do, bad files included."""
    shutil.copy(MODEL_353, tmp_path / "model.tflite")
    shutil.copy(IMAGES / "couple.jpg", tmp_path / "couple.jpg")
    (tmp_path / "notes.jpg").write_text("not an image\n")
    args = ("couple.jpg", "notes.jpg", "--model", "model.tflite", "--input-size", "177x241")
    r = posefast_on(started_head, Path("ray.jsonl"), *args, cwd=tmp_path, RAY_AUTH_MODE="token")
    assert r.returncode == 1, r.stderr  # 1: an input failed
    local = subprocess.run([sys.executable, "-m", "posefast", "run", *args, "--output",
                            "local.jsonl"], capture_output=True, text=True, timeout=300,
                           cwd=tmp_path)
    assert local.returncode == 1, local.stderr

    def records(name: str) -> list[dict]:
        return [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]

    assert [rec["source"] for rec in records("ray.jsonl")] == ["couple.jpg", "notes.jpg"]
    assert records("ray.jsonl") == records("local.jsonl")
    assert records("ray.jsonl")[1]["error"] == "notes.jpg: not an image Pillow can read"
    # a Parquet folder, written by the cluster's workers: it was written into Ray's
    # working folder, and the one the user named stayed empty
    r = posefast_on(started_head, Path("rows"), *args, "--format", "parquet", cwd=tmp_path,
                    RAY_AUTH_MODE="token")
    assert r.returncode == 1, r.stderr
    pq = pytest.importorskip("pyarrow.parquet")
    rows = pq.read_table(tmp_path / "rows").to_pylist()
    assert sorted(row["source"] for row in rows) == ["couple.jpg", "notes.jpg"]
