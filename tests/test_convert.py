"""``posefast convert`` as a user runs it: where the model comes from, what it refuses,
and that errors name the file (issue 11 item 17). Every error is exit 2 with a message."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from posefast.cli import main as cli_main

from conftest import IMAGES, MODEL_353

NAME = "posenet_mobilenet_v1_075_353_481_quant"


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "posefast", "convert", *map(str, args)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_a_registry_name_resolves_through_the_model_path(shared_data, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(MODEL_353, folder)
    out = tmp_path / "out.onnx"
    r = run(NAME, out, env={"POSEFAST_MODEL_PATH": str(folder),
                            "POSEFAST_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 100_000 and f"wrote {out}" in r.stdout


def test_the_default_model_by_name_needs_no_model_path(shared_data, tmp_path):
    out = tmp_path / "default.onnx"
    r = run("posenet_mobilenet_v1_075_481_641_quant.tflite", out,
            env={"POSEFAST_MODEL_PATH": "", "POSEFAST_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr and out.is_file()


def test_a_non_tflite_input_gets_a_message(tmp_path, capsys):
    """It was a 3.7 GB buffer error from tflite2onnx."""
    out = tmp_path / "x.onnx"
    assert cli_main(["convert", str(IMAGES / "couple.jpg"), str(out)]) == 2
    err = capsys.readouterr().err
    assert "couple.jpg" in err and "is not a TF Lite model" in err
    assert not out.exists()


def test_an_existing_output_is_kept_unless_overwrite(shared_data, tmp_path, capsys):
    out = tmp_path / "x.onnx"
    out.write_bytes(b"precious")
    assert cli_main(["convert", str(MODEL_353), str(out)]) == 2
    assert f"output {str(out)!r} exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"
    assert cli_main(["convert", str(MODEL_353), str(out), "--overwrite"]) == 0
    assert out.stat().st_size > 100_000
    assert [p.name for p in tmp_path.iterdir()] == ["x.onnx"]  # no temporary file left


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_an_unwritable_output_place_is_named(shared_data, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert cli_main(["convert", str(MODEL_353), str(ro / "x.onnx")]) == 2
        assert str(ro / "x.onnx") in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


def test_output_places_that_cannot_be_made_are_named(shared_data, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    target = blocker / "sub" / "x.onnx"
    assert cli_main(["convert", str(MODEL_353), str(target)]) == 2
    err = capsys.readouterr().err
    assert str(target) in err and "Traceback" not in err
    assert cli_main(["convert", str(MODEL_353), str(tmp_path)]) == 2
    assert f"output {str(tmp_path)!r} is a folder" in capsys.readouterr().err


def test_missing_and_unknown_sources_are_usage_errors(tmp_path, capsys):
    assert cli_main(["convert", "no_such_model", str(tmp_path / "x.onnx")]) == 2
    assert "unknown model 'no_such_model'" in capsys.readouterr().err
    assert cli_main(["convert", str(tmp_path / "gone.tflite"), str(tmp_path / "x.onnx")]) == 2
    assert "gone.tflite" in capsys.readouterr().err
