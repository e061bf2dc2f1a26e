import os
import subprocess
import sys

import pytest

import posefast


def test_skeleton_tables():
    assert len(posefast.KEYPOINT_NAMES) == 17
    assert posefast.KEYPOINT_NAMES[0] == "nose" and posefast.KEYPOINT_NAMES[-1] == "right_ankle"
    assert len(posefast.SKELETON) == 16
    # a tree over all 17 keypoints: 16 edges, every keypoint reached from the nose
    reached = {0}
    for parent, child in posefast.SKELETON:
        assert parent in reached
        reached.add(child)
    assert reached == set(range(17))


def test_every_public_name_is_there_when_asked_for():
    # in a fresh interpreter: here the names are loaded already
    code = ("import posefast, sys; assert 'numpy' not in sys.modules; "
            "ns = {}; exec('from posefast import *', ns); "
            "missing = [n for n in posefast.__all__ if n not in ns]; "
            "assert not missing, missing; "
            "assert set(posefast.__all__) <= set(dir(posefast)); "
            "print(posefast.PoseEstimator.__name__, posefast.decode_multiple_poses.__name__, "
            "posefast.video.PoseTracker.__name__, posefast.decode.SIMD != '')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["PoseEstimator", "decode_multiple_poses", "PoseTracker", "True"]
    with pytest.raises(AttributeError, match="no attribute 'decode_everything'"):
        posefast.decode_everything  # noqa: B018


def test_the_command_starts_its_fork_server_before_importing_numpy():
    """``posefast run``'s processes wait for the fork server's imports (0.2 s): the
    command starts it before its own imports, which then overlap the server's."""
    code = ("import sys; from posefast.cli import entry; from posefast.job import forkserver; "
            "print(sorted(m for m in ('numpy', 'PIL', 'posefast.estimator') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_fork_server_is_wanted_by_local_runs_only():
    from posefast.job.forkserver import wanted_by

    assert wanted_by(["run", "photos/", "-o", "poses.jsonl"])
    assert wanted_by(["run", "--engine", "local", "a.jpg"])
    assert not wanted_by([])
    assert not wanted_by(["predict", "a.jpg"])
    assert not wanted_by(["run", "--help"])
    assert not wanted_by(["run", "a.jpg", "-h"])
    assert not wanted_by(["run", "a.jpg", "--engine", "ray"])
    assert not wanted_by(["run", "--engine=ray", "a.jpg"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc")
def test_the_command_loads_numpy_without_openblas_threads():
    """OpenBLAS starts a thread per core at NumPy's import, which spin for a while:
    on 2 cores, CPU taken from the fork server importing beside the command. No
    command makes BLAS calls; the environment is left as the user had it."""
    code = ("import os, sys; from posefast.cli import main; status = main(['config']); "
            "print(status, len(os.listdir('/proc/self/task')), "
            "'OPENBLAS_NUM_THREADS' in os.environ, 'numpy' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-4:] == ["0", "1", "False", "True"], out.stdout
