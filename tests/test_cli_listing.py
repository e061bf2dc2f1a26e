"""``posefast backends`` and ``posefast models`` as a user reads them."""
from __future__ import annotations

import json

from posefast.cli import main

from posefast.models import DATA_DIR

from conftest import MODELS


def test_backends_table_says_what_runs_here_and_why_not(capsys):
    assert main(["backends"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    tflite = next(line for line in lines if line.startswith("tflite "))
    assert "usable" in tflite and "not usable" not in tflite
    assert "posefast_backends.tflite:TFLiteBackend" in tflite
    gpu_at = next(i for i, line in enumerate(lines) if line.startswith("tflite-gpu"))
    if "not usable" in lines[gpu_at]:  # no GPU here: the next line says why
        assert lines[gpu_at + 1].strip()


def test_backends_json_matches_the_registry(capsys):
    from posefast.backend_registry import list_backends

    assert main(["backends", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["usable"]) for r in rows] == [
        (i.name, i.availability.usable) for i in list_backends()]


def test_models_lists_the_registry_and_local_files(shared_data, capsys):
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    for size in ("353_481", "481_641", "721_1281"):
        name = f"posenet_mobilenet_v1_075_{size}_quant"
        folder = DATA_DIR if size == "481_641" else MODELS  # the default ships in the package
        assert rows[name]["path"] == str(folder / f"{name}.tflite")
        assert len(rows[name]["sha256"]) == 64
    assert rows["posenet_mobilenet_v1_100_257x257_multi_kpt_stripped"]["path"] is None
    assert main(["models"]) == 0


def test_models_says_truly_whether_a_missing_model_is_downloaded(shared_data, capsys,
                                                                 monkeypatch, tmp_path):
    """The starter model has no known sha256: it is refused unless
    POSEFAST_ALLOW_UNVERIFIED=1, and the listing must say so, not "downloaded on first
    use"."""
    import pytest

    from posefast.models import resolve_model
    from posefast.models.resolve import ChecksumError

    starter = "posenet_mobilenet_v1_100_257x257_multi_kpt_stripped"
    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("POSEFAST_ALLOW_UNVERIFIED", raising=False)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    block = out[out.index(starter):]
    assert "downloaded on first use" not in block.split("(download")[0]
    assert "not downloaded: no sha256 is known" in block and "POSEFAST_ALLOW_UNVERIFIED=1" in block
    assert main(["models", "--json"]) == 0
    row = {r["name"]: r for r in json.loads(capsys.readouterr().out)}[starter]
    assert row["download"] == "refused: no known sha256"
    with pytest.raises(ChecksumError, match="POSEFAST_ALLOW_UNVERIFIED"):  # as listed
        resolve_model(starter)
    monkeypatch.setenv("POSEFAST_ALLOW_UNVERIFIED", "1")
    assert main(["models", "--json"]) == 0
    row = {r["name"]: r for r in json.loads(capsys.readouterr().out)}[starter]
    assert row["download"] == "on first use"
    assert main(["models"]) == 0
    assert "not here (downloaded on first use)" in capsys.readouterr().out
