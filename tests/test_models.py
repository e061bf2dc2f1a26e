"""The model registry: resolution through POSEFAST_MODEL_PATH and the cache, and
checksum verification of local and downloaded files (no network: downloads are served
from local files)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from posefast import models
from posefast.models import REGISTRY, ChecksumError, resolve_model

from posefast.config import DEFAULT_MODEL

from conftest import IMAGES, MODEL_353, MODEL_481, MODELS

NAME = "posenet_mobilenet_v1_075_353_481_quant"
DEFAULT = "posenet_mobilenet_v1_075_481_641_quant"


@pytest.fixture
def dirs(tmp_path, monkeypatch, shared_data):
    """An empty model path folder and cache, and a fresh verification memo."""
    path_dir, cache = tmp_path / "models", tmp_path / "cache"
    path_dir.mkdir()
    monkeypatch.setenv("POSEFAST_MODEL_PATH", str(path_dir))
    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(cache))
    monkeypatch.delenv("POSEFAST_ALLOW_UNVERIFIED", raising=False)
    monkeypatch.setattr(models.resolve, "_verified", {})
    return path_dir, cache


class Served:
    """Stands in for urllib's opener: serves bytes and records the URLs asked for."""

    def __init__(self, data: bytes):
        self.data, self.urls = data, []

    def __call__(self, url):
        self.urls.append(url)
        response = io.BytesIO(self.data)
        response.headers = {"Content-Length": str(len(self.data))}
        return response


def test_registry_checksums_are_those_of_the_shared_models(shared_data):
    for info in REGISTRY.values():
        if info.sha256 is not None:
            data = (MODELS / info.filename).read_bytes()
            assert hashlib.sha256(data).hexdigest() == info.sha256, info.name
            assert info.url.endswith(info.filename)


def test_an_existing_path_is_returned_as_it_is(dirs):
    assert resolve_model(str(MODEL_353)) == MODEL_353


def test_names_resolve_through_the_model_path_then_the_cache(dirs, tmp_path, monkeypatch):
    path_dir, cache = dirs
    second = tmp_path / "second"
    second.mkdir()
    shutil.copy(MODEL_353, second)
    monkeypatch.setenv("POSEFAST_MODEL_PATH", os.pathsep.join([str(path_dir), str(second)]))
    assert resolve_model(NAME) == second / f"{NAME}.tflite"
    assert resolve_model(NAME + ".tflite") == second / f"{NAME}.tflite"
    monkeypatch.setenv("POSEFAST_MODEL_PATH", str(path_dir))
    cache.mkdir()
    shutil.copy(MODEL_353, cache)
    assert resolve_model(NAME, download=False) == cache / f"{NAME}.tflite"


def test_a_local_file_failing_its_checksum_is_never_used(dirs):
    path_dir, _ = dirs
    bad = path_dir / f"{NAME}.tflite"
    bad.write_bytes(MODEL_353.read_bytes()[:-1] + b"x")
    with pytest.raises(ChecksumError) as info:
        resolve_model(NAME)
    message = str(info.value)
    assert str(bad) in message and REGISTRY[NAME].sha256 in message


def test_verification_is_remembered_until_the_file_changes(dirs, monkeypatch):
    path_dir, _ = dirs
    target = path_dir / f"{NAME}.tflite"
    shutil.copy(MODEL_353, target)
    hashed = []
    real = models.resolve.sha256_of
    monkeypatch.setattr(models.resolve, "sha256_of", lambda p: hashed.append(p) or real(p))
    resolve_model(NAME)
    resolve_model(NAME)
    assert len(hashed) == 1
    target.write_bytes(target.read_bytes()[:-1] + b"y")  # new size / mtime: hashed again
    with pytest.raises(ChecksumError):
        resolve_model(NAME)


def test_download_verifies_and_lands_in_the_cache(dirs, monkeypatch):
    _, cache = dirs
    served = Served(MODEL_353.read_bytes())
    monkeypatch.setattr(models.resolve.urllib.request, "urlopen", served)
    path = resolve_model(NAME)
    assert path == cache / f"{NAME}.tflite" and path.read_bytes() == MODEL_353.read_bytes()
    assert served.urls == [REGISTRY[NAME].url]
    assert resolve_model(NAME) == path and served.urls == [REGISTRY[NAME].url]  # cached now
    assert [p.name for p in cache.iterdir()] == [f"{NAME}.tflite"]


def test_a_download_failing_its_checksum_is_deleted(dirs, monkeypatch):
    _, cache = dirs
    served = Served(b"not a model")
    monkeypatch.setattr(models.resolve.urllib.request, "urlopen", served)
    with pytest.raises(ChecksumError, match="deleted"):
        resolve_model(NAME)
    assert list(cache.iterdir()) == []


def test_a_model_without_checksum_is_not_downloaded_unless_allowed(dirs, monkeypatch):
    name = "posenet_mobilenet_v1_100_257x257_multi_kpt_stripped"
    served = Served(b"float model bytes")
    monkeypatch.setattr(models.resolve.urllib.request, "urlopen", served)
    with pytest.raises(ChecksumError, match="POSEFAST_ALLOW_UNVERIFIED"):
        resolve_model(name)
    assert served.urls == []
    monkeypatch.setenv("POSEFAST_ALLOW_UNVERIFIED", "1")
    assert resolve_model(name).read_bytes() == b"float model bytes"


@pytest.mark.parametrize("text, error, words", [
    ("no_such_model", LookupError, ["unknown model 'no_such_model'", NAME]),
    ("missing/model.tflite", FileNotFoundError, ["missing/model.tflite"]),
    ("model.onnx", FileNotFoundError, ["model.onnx"]),
])
def test_unknown_names_and_missing_paths(dirs, text, error, words):
    with pytest.raises(error) as info:
        resolve_model(text)
    for w in words:
        assert w in str(info.value)


def test_download_false_says_where_it_looked(dirs):
    path_dir, cache = dirs
    with pytest.raises(FileNotFoundError, match=str(path_dir)):
        resolve_model(NAME, download=False)


def test_list_models_reports_local_files(dirs):
    path_dir, _ = dirs
    shutil.copy(MODEL_353, path_dir)
    found = {info.name: path for info, path in models.list_models()}
    assert found[NAME] == path_dir / f"{NAME}.tflite"
    assert found[DEFAULT] == models.DATA_DIR / f"{DEFAULT}.tflite"  # shipped in the package
    assert found["posenet_mobilenet_v1_075_721_1281_quant"] is None


# -- the default model, shipped in the package ------------------------------------------

def test_the_embedded_model_is_the_registry_file_with_its_notice(shared_data):
    shipped = models.DATA_DIR / f"{DEFAULT}.tflite"
    assert shipped.read_bytes() == MODEL_481.read_bytes()
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == REGISTRY[DEFAULT].sha256
    notice = (models.DATA_DIR / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice and "google-coral/project-posenet" in notice
    assert "TERMS AND CONDITIONS" in (models.DATA_DIR / "LICENSE-Apache-2.0").read_text()
    assert [i.name for i in REGISTRY.values() if i.embedded] == [DEFAULT] == [DEFAULT_MODEL]


def test_the_default_model_resolves_before_the_cache_and_downloads(dirs, monkeypatch):
    monkeypatch.delenv("POSEFAST_MODEL_PATH")
    served = Served(MODEL_353.read_bytes())
    monkeypatch.setattr(models.resolve.urllib.request, "urlopen", served)
    assert resolve_model(DEFAULT) == models.DATA_DIR / f"{DEFAULT}.tflite"
    assert resolve_model(DEFAULT + ".tflite") == models.DATA_DIR / f"{DEFAULT}.tflite"
    assert served.urls == [] and not dirs[1].exists()  # nothing downloaded, no cache made
    resolve_model(NAME)  # the other names still download
    assert served.urls == [REGISTRY[NAME].url]


def test_the_embedded_model_is_verified_like_any_other(dirs, monkeypatch, tmp_path):
    fake = tmp_path / "data"
    fake.mkdir()
    (fake / f"{DEFAULT}.tflite").write_bytes(MODEL_481.read_bytes()[:-1] + b"x")
    monkeypatch.setattr(models.resolve, "DATA_DIR", fake)
    with pytest.raises(ChecksumError, match=REGISTRY[DEFAULT].sha256):
        resolve_model(DEFAULT)


def test_the_embedded_model_serves_other_input_sizes(shared_data):
    from posefast import PoseEstimator

    with PoseEstimator(input_size=(353, 481)) as est:  # the default model, resized
        assert (est.input_spec.height, est.input_spec.width) == (353, 481)
        assert len(est.estimate(IMAGES / "couple.jpg")) == 2


def test_a_clean_environment_runs_the_default_model_without_network(shared_data, tmp_path):
    """No POSEFAST_MODEL_PATH, an empty cache, and every download bound to fail."""
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSEFAST_")}
    env.update(POSEFAST_CACHE_DIR=str(cache), HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path),
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
               HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    out = tmp_path / "poses.jsonl"
    r = subprocess.run([sys.executable, "-m", "posefast", "run", str(IMAGES / "couple.jpg"),
                        "--output", str(out), "--workers", "1"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    record = json.loads(out.read_text().splitlines()[-1])
    assert record["error"] is None and len(record["poses"]) == 2
    assert not cache.exists() or not any(cache.iterdir())


@pytest.mark.parametrize("command", ["build_py", "sdist"])
def test_the_wheel_and_the_sdist_carry_the_model(tmp_path, command):
    """build_py lays out the Python part of the wheel; sdist follows MANIFEST.in. Both
    run the project's own setup.py and pyproject.toml; Cython is stubbed out (the
    extensions are not what this checks, and the test environment need not have it)."""
    root = Path(__file__).resolve().parents[1]
    stub = tmp_path / "stub" / "Cython"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("")
    (stub / "Build.py").write_text("def cythonize(extensions, **kwargs):\n    return []\n")
    out = tmp_path / "out"
    args = (["build_py", "--build-lib", str(out)] if command == "build_py"
            else ["sdist", "--dist-dir", str(out), "--formats", "tar"])
    env = {**os.environ, "PYTHONPATH": str(stub.parent)}
    r = subprocess.run([sys.executable, "setup.py", "-q", *args], cwd=root, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    wanted = {f"posefast/models/data/{DEFAULT}.tflite", "posefast/models/data/NOTICE",
              "posefast/models/data/LICENSE-Apache-2.0"}
    if command == "build_py":
        assert (out / f"posefast/models/data/{DEFAULT}.tflite").read_bytes() \
            == (models.DATA_DIR / f"{DEFAULT}.tflite").read_bytes()
        found = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    else:
        (archive,) = out.glob("*.tar")
        with tarfile.open(archive) as tar:
            found = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert wanted <= found
