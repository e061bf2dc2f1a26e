"""A third-party backend, installed outside posefast the way a plugin package would be,
is found through the entry-point group and selected by configuration alone."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import IMAGES

PLUGIN = textwrap.dedent('''
    """A stand-in inference runtime: one person, every keypoint at the grid's centre."""
    import numpy as np

    from posefast.backend import Availability, Backend, InputSpec, ModelOutputs


    class FakeBackend(Backend):
        name = "fake"

        @classmethod
        def availability(cls):
            return Availability(True, "fakepose needs nothing")

        def __init__(self, model_path, *, input_size=None, **options):
            self.height, self.width = input_size or (257, 321)
            self.options = options

        @property
        def input_spec(self):
            return InputSpec(self.height, self.width, np.dtype(np.uint8))

        def run(self, batch):
            n = batch.shape[0]
            gh, gw = (self.height - 1) // 16 + 1, (self.width - 1) // 16 + 1
            heat = np.full((n, gh, gw, 17), -8.0, np.float32)
            heat[:, gh // 2, gw // 2, :] = 6.0
            zeros = lambda c: np.zeros((n, gh, gw, c), np.float32)
            return ModelOutputs(heat, zeros(34), zeros(32), zeros(32), output_stride=16)
''')


@pytest.fixture
def plugin_path(tmp_path):
    """A folder holding the plugin module and its distribution metadata, as pip leaves them."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "fakepose_backend.py").write_text(PLUGIN)
    dist = site / "fakepose-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepose\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[posefast.backends]\nfake = fakepose_backend:FakeBackend\n")
    return site


def run(args, site, cwd, **env):
    environ = dict(os.environ, PYTHONPATH=str(site), **env)
    return subprocess.run([sys.executable, "-m", "posefast", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=120)


def check_one_person_at_centre(stdout):
    records = json.loads(stdout)
    assert len(records) == 1 and records[0]["error"] is None
    poses = records[0]["poses"]
    assert len(poses) == 1
    nose = poses[0]["keypoints"][0]
    # the grid centre, mapped back to the 640x480 image
    assert abs(nose["x"] - 320) < 20 and abs(nose["y"] - 240) < 20
    assert nose["score"] == pytest.approx(1 / (1 + 2.718281828 ** -6), abs=1e-4)


def test_selected_by_environment_variable(shared_data, plugin_path, tmp_path):
    r = run(["predict", str(IMAGES / "standing.png")], plugin_path, tmp_path,
            POSEFAST_BACKEND="fake")
    assert r.returncode == 0, r.stderr
    check_one_person_at_centre(r.stdout)


def test_selected_by_configuration_file(shared_data, plugin_path, tmp_path):
    (tmp_path / "posefast.toml").write_text('backend = "fake"\n[backend_options]\ncolour = "red"\n')
    r = run(["predict", str(IMAGES / "standing.png")], plugin_path, tmp_path)
    assert r.returncode == 0, r.stderr
    check_one_person_at_centre(r.stdout)


def test_listed_with_its_distribution(plugin_path, tmp_path):
    r = run(["backends", "--json"], plugin_path, tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["fake"] == {"name": "fake", "usable": True, "reason": "fakepose needs nothing",
                            "entry_point": "fakepose_backend:FakeBackend",
                            "distribution": "fakepose"}
    assert {"tflite", "onnx", "tflite-gpu"} <= set(rows)


def test_without_the_plugin_the_name_is_a_usage_error(shared_data, tmp_path):
    r = run(["predict", str(IMAGES / "standing.png")], tmp_path, tmp_path,
            POSEFAST_BACKEND="fake")
    assert r.returncode == 2
    assert "no backend named 'fake'" in r.stderr and "tflite" in r.stderr
