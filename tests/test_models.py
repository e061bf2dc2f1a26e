"""The model registry: resolution through POSEFAST_MODEL_PATH and the cache, and
checksum verification of local and downloaded files (no network: downloads are served
from local files)."""
from __future__ import annotations

import hashlib
import io
import os
import shutil

import pytest

from posefast import models
from posefast.models import REGISTRY, ChecksumError, resolve_model

from conftest import MODEL_353, MODELS

NAME = "posenet_mobilenet_v1_075_353_481_quant"


@pytest.fixture
def dirs(tmp_path, monkeypatch, shared_data):
    """An empty model path folder and cache, and a fresh verification memo."""
    path_dir, cache = tmp_path / "models", tmp_path / "cache"
    path_dir.mkdir()
    monkeypatch.setenv("POSEFAST_MODEL_PATH", str(path_dir))
    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(cache))
    monkeypatch.delenv("POSEFAST_ALLOW_UNVERIFIED", raising=False)
    monkeypatch.setattr(models, "_verified", {})
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
    real = models.sha256_of
    monkeypatch.setattr(models, "sha256_of", lambda p: hashed.append(p) or real(p))
    resolve_model(NAME)
    resolve_model(NAME)
    assert len(hashed) == 1
    target.write_bytes(target.read_bytes()[:-1] + b"y")  # new size / mtime: hashed again
    with pytest.raises(ChecksumError):
        resolve_model(NAME)


def test_download_verifies_and_lands_in_the_cache(dirs, monkeypatch):
    _, cache = dirs
    served = Served(MODEL_353.read_bytes())
    monkeypatch.setattr(models.urllib.request, "urlopen", served)
    path = resolve_model(NAME)
    assert path == cache / f"{NAME}.tflite" and path.read_bytes() == MODEL_353.read_bytes()
    assert served.urls == [REGISTRY[NAME].url]
    assert resolve_model(NAME) == path and served.urls == [REGISTRY[NAME].url]  # cached now
    assert [p.name for p in cache.iterdir()] == [f"{NAME}.tflite"]


def test_a_download_failing_its_checksum_is_deleted(dirs, monkeypatch):
    _, cache = dirs
    served = Served(b"not a model")
    monkeypatch.setattr(models.urllib.request, "urlopen", served)
    with pytest.raises(ChecksumError, match="deleted"):
        resolve_model(NAME)
    assert list(cache.iterdir()) == []


def test_a_model_without_checksum_is_not_downloaded_unless_allowed(dirs, monkeypatch):
    name = "posenet_mobilenet_v1_100_257x257_multi_kpt_stripped"
    served = Served(b"float model bytes")
    monkeypatch.setattr(models.urllib.request, "urlopen", served)
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
    assert found["posenet_mobilenet_v1_075_481_641_quant"] is None
