"""posefast.job.heap: the job's processes keep freed memory for the next image.

Each case runs in a fresh interpreter: the setting holds for a whole process, and
this one's heap is pytest's."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import IMAGES

# Prepares the shared images for the 481x641 input a few times over, and says how
# many page faults an image took once the first round has warmed up.
PREPARE = """
import json, resource, sys
import numpy as np
from posefast.backend import InputSpec
from posefast.estimator import prepare_image
from posefast.job.heap import keep_heap

kept = keep_heap() if sys.argv[1] == "keep" else None
spec = InputSpec(481, 641, np.dtype(np.uint8))
paths = sys.argv[2:]
for path in paths:
    prepare_image(path, spec, "stretch")
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    for path in paths:
        prepare_image(path, spec, "stretch")
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"kept": kept, "faults": faults / (3 * len(paths))}))
"""


def _faults_per_image(mode: str) -> dict:
    paths = [str(p) for p in sorted(IMAGES.iterdir())]
    out = subprocess.run([sys.executable, "-c", PREPARE, mode, *paths], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "GLIBC_TUNABLES": ""})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc (Linux)")
def test_prepared_images_reuse_the_memory_the_last_one_freed():
    plain = _faults_per_image("plain")
    kept = _faults_per_image("keep")
    if not kept["kept"]:
        pytest.skip("the C library is not glibc: mallopt did nothing")
    # glibc's adaptive thresholds map each image's megabyte buffers afresh (about
    # 345 faults an image here); kept, they come from the heap the last image left
    assert plain["faults"] > 100, plain
    assert kept["faults"] < plain["faults"] / 10, (plain, kept)


def test_keep_heap_says_whether_it_did_anything():
    out = subprocess.run([sys.executable, "-c",
                          "from posefast.job.heap import keep_heap; print(keep_heap())"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    expected = sys.platform.startswith("linux") and _is_glibc()
    assert out.stdout.strip() == str(expected)


def _is_glibc() -> bool:
    import platform

    return platform.libc_ver()[0] == "glibc"
