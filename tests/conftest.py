"""Shared fixtures: where the real models and images live.

They are read from ``../shared`` beside the project root, or from the folder
named by ``POSEFAST_TEST_DATA``; tests that need them skip only if it is absent.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("POSEFAST_TEST_DATA", ROOT.parent / "shared"))
MODELS = DATA / "models"
IMAGES = DATA / "images"

MODEL_481 = MODELS / "posenet_mobilenet_v1_075_481_641_quant.tflite"
MODEL_353 = MODELS / "posenet_mobilenet_v1_075_353_481_quant.tflite"
MODEL_721 = MODELS / "posenet_mobilenet_v1_075_721_1281_quant.tflite"

# The machines the tests run on have no network: registry names (the default model
# included) resolve to the shared models, in this process and in the commands the
# tests start, and nothing is downloaded into the user's cache. Tests of the
# registry itself set these per test.
for _var in [v for v in os.environ if v.startswith("POSEFAST_") and v != "POSEFAST_TEST_DATA"]:
    del os.environ[_var]  # a developer's own settings must not change the results
os.environ["POSEFAST_MODEL_PATH"] = str(MODELS)
os.environ["POSEFAST_CACHE_DIR"] = str(ROOT / "build" / "test-model-cache")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not MODELS.is_dir() or not IMAGES.is_dir():
        pytest.skip(f"shared data not found at {DATA} (set POSEFAST_TEST_DATA)")
    return DATA


def stderr_on_a_terminal(args, **popen) -> tuple[int, str]:
    """Run ``args`` with its stderr on a pseudo-terminal (so that it draws its
    progress line) until it closes it: (exit status, what it wrote there)."""
    import pty
    import subprocess

    leader, follower = pty.openpty()
    job = subprocess.Popen(list(map(str, args)), stderr=follower, **popen)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the job closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    return job.wait(timeout=60), seen.decode()
