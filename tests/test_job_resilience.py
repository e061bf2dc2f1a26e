"""The local job where its surroundings are hostile: a current folder holding another
posefast, a fork server killed or stopped, a small /dev/shm."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import posefast
from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES
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
