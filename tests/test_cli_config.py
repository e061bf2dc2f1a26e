"""`posefast --version`, the defaults in --help, and `posefast config`."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import posefast
from posefast.cli import build_parser
from posefast.config import Config

from test_cli import posefast as run_posefast


def test_version():
    r = run_posefast("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == (f"posefast {posefast.__version__} "
                                f"(decoder kernels: {posefast.decode.SIMD})")
    assert posefast.decode.SIMD in ("avx2", "sse2", "neon", "none")


def test_help_shows_every_default():
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    default = Config()
    for name in ("predict", "run", "config"):
        text = " ".join(sub.choices[name].format_help().split())
        for shown in (f"(default: {default.backend})", f"(default: {default.model})",
                      f"(default: {default.resize})", f"(default: {default.decoder.mode})",
                      f"(default: {default.decoder.score_threshold})",
                      f"(default: {default.decoder.nms_radius})",
                      f"(default: {default.decoder.max_detections})",
                      f"(default: {default.decoder.refine_steps})", "(default: the model's)"):
            assert shown in text, (name, shown)
    assert "(default 0.3)" in " ".join(sub.choices["predict"].format_help().split())


def test_config_shows_each_value_and_where_it_came_from(tmp_path):
    (tmp_path / "posefast.toml").write_text("resize = 'letterbox'\n[backend_options]\n"
                                            "num_threads = 2\n")
    env = {**os.environ, "POSEFAST_MODE": "single"}
    r = subprocess.run([sys.executable, "-m", "posefast", "config", "--score-threshold", "0.3",
                        "--json"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["config_file"] == "posefast.toml"
    s = got["settings"]
    assert s["mode"] == {"value": "single", "from": "environment variable POSEFAST_MODE"}
    assert s["score_threshold"] == {"value": 0.3, "from": "command-line option --score-threshold"}
    assert s["resize"] == {"value": "letterbox", "from": "file posefast.toml"}
    assert s["backend_options.num_threads"] == {"value": 2, "from": "file posefast.toml"}
    assert s["backend"] == {"value": "tflite", "from": "default"}
    r = subprocess.run([sys.executable, "-m", "posefast", "config"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    line = next(l for l in r.stdout.splitlines() if l.startswith("mode "))
    assert line.split() == ["mode", "single", "environment", "variable", "POSEFAST_MODE"]
    r = subprocess.run([sys.executable, "-m", "posefast", "config"], cwd=tmp_path,
                       env={**env, "POSEFAST_NMS_RADIUS": "inf"}, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "POSEFAST_NMS_RADIUS" in r.stderr
