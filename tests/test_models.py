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
import urllib.error
import urllib.request
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
    """An empty model path folder and cache."""
    path_dir, cache = tmp_path / "models", tmp_path / "cache"
    path_dir.mkdir()
    monkeypatch.setenv("POSEFAST_MODEL_PATH", str(path_dir))
    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(cache))
    monkeypatch.delenv("POSEFAST_ALLOW_UNVERIFIED", raising=False)
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


def test_verification_keys_on_content_not_size_and_mtime(dirs):
    """Issue 11 item 15: a same-size edit with the mtime put back was let through."""
    path_dir, _ = dirs
    target = path_dir / f"{NAME}.tflite"
    shutil.copy(MODEL_353, target)
    assert resolve_model(NAME) == target
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(ChecksumError, match=str(target)):
        resolve_model(NAME)


def test_a_same_named_file_in_the_working_directory_is_not_loaded(dirs, tmp_path, monkeypatch):
    """Issue 11 item 15: a registry name resolves only through the registry's folders."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    planted = cwd / f"{NAME}.tflite"
    planted.write_bytes(b"an impostor, never verified")
    with pytest.raises(FileNotFoundError, match="is not in"):
        resolve_model(NAME, download=False)
    with pytest.raises(FileNotFoundError):
        resolve_model(f"{NAME}.tflite", download=False)
    shutil.copy(MODEL_353, dirs[0])
    assert resolve_model(NAME) == dirs[0] / f"{NAME}.tflite"
    assert resolve_model(f"./{NAME}.tflite") == Path(f"./{NAME}.tflite")  # a path, as written


def test_offline_error_names_the_folders_the_url_and_the_remedy(dirs, tmp_path, monkeypatch):
    """Issue 11 item 16: was `<urlopen error [Errno 111] Connection refused>` alone, and a
    POSEFAST_MODEL_PATH folder that does not exist went unmentioned."""
    path_dir, cache = dirs
    missing = tmp_path / "typo"
    monkeypatch.setenv("POSEFAST_MODEL_PATH", os.pathsep.join([str(path_dir), str(missing)]))

    def refused(url):
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    monkeypatch.setattr(urllib.request, "urlopen", refused)
    with pytest.raises(models.ModelNotAvailableError) as info:
        resolve_model(NAME)
    message = str(info.value)
    for part in (str(path_dir), f"{missing} (which does not exist)", str(cache),
                 REGISTRY[NAME].url, "Connection refused", "POSEFAST_MODEL_PATH"):
        assert part in message, part
    assert list(cache.iterdir()) == []  # no partial download left
    assert models.missing_model_path_dirs() == [missing]


def test_the_command_warns_about_a_missing_model_path_folder(shared_data, tmp_path):
    env = {**os.environ, "POSEFAST_MODEL_PATH": str(tmp_path / "nowhere")}
    r = subprocess.run([sys.executable, "-m", "posefast", "predict", str(IMAGES / "standing.png")],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"POSEFAST_MODEL_PATH names '{tmp_path / 'nowhere'}', which is not a folder" in r.stderr
    r = subprocess.run([sys.executable, "-m", "posefast", "models"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "which is not a folder" in r.stderr


def test_a_relative_model_path_in_a_toml_file_is_relative_to_the_file(tmp_path, monkeypatch):
    """Issue 11 item 16: it was relative to the working directory."""
    from posefast.config import load_config

    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    toml = conf_dir / "posefast.toml"
    toml.write_text('model = "models/mine.tflite"\n')
    monkeypatch.chdir(tmp_path)
    assert load_config(config_file=toml, env={}).model == str(conf_dir / "models" / "mine.tflite")
    toml.write_text(f'model = "{NAME}"\n')  # a registry name stays a name
    assert load_config(config_file=toml, env={}).model == NAME
    toml.write_text(f'model = "{MODEL_353}"\n')  # an absolute path stays as it is
    assert load_config(config_file=toml, env={}).model == str(MODEL_353)
    # the other layers are relative to the working directory, as a user typing them expects
    assert load_config(cli={"model": "x/mine.tflite"}, config_file=toml, env={}).model \
        == "x/mine.tflite"


def test_an_onnx_model_picks_the_onnx_backend_unless_one_is_named(tmp_path):
    """Issue 11 item 13: `--model x.onnx` with no backend configured ran tflite on it."""
    from posefast.config import load_config

    assert load_config(cli={"model": "x.onnx"}, env={}).backend == "onnx"
    assert load_config(env={"POSEFAST_MODEL": "x.ONNX"}).backend == "onnx"
    assert load_config(cli={"model": "x.onnx", "backend": "tflite"}, env={}).backend == "tflite"
    assert load_config(cli={"model": "x.onnx"}, env={"POSEFAST_BACKEND": "tflite-gpu"}).backend \
        == "tflite-gpu"
    assert load_config(cli={"model": "x.tflite"}, env={}).backend == "tflite"


def test_backend_onnx_with_a_tflite_model_converts_once_and_caches(shared_data, tmp_path,
                                                                   monkeypatch):
    """Issue 11 item 13: `--backend onnx` with the default (TF Lite) model failed with a
    protobuf error."""
    from posefast import PoseEstimator
    from posefast.models import convert
    from posefast.models.derived import derived_dir

    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(tmp_path / "cache"))
    made = []
    real = convert.convert_tflite_to_onnx
    monkeypatch.setattr(convert, "convert_tflite_to_onnx",
                        lambda *a, **k: made.append(a[0]) or real(*a, **k))
    with PoseEstimator(backend="onnx") as est:
        onnx_poses = est.estimate(IMAGES / "couple.jpg")
    with PoseEstimator(backend="onnx") as est:
        again = est.estimate(IMAGES / "couple.jpg")
    assert len(made) == 1  # converted once, then taken from the cache
    cached = derived_dir() / f"{REGISTRY[DEFAULT].sha256}.onnx"
    assert cached.is_file() and (derived_dir() / (cached.name + ".sha256")).is_file()
    with PoseEstimator(backend="tflite") as est:
        tflite_poses = est.estimate(IMAGES / "couple.jpg")
    assert len(onnx_poses) == len(tflite_poses) == len(again) == 2
    for a, b in zip(onnx_poses, tflite_poses):
        assert abs(a.score - b.score) < 0.02
    # a cached file that no longer matches its record is made again, not used
    cached.write_bytes(cached.read_bytes()[:-10])
    with PoseEstimator(backend="onnx"):
        pass
    assert len(made) == 2


def test_a_backend_given_a_model_of_the_wrong_format_is_told(shared_data, tmp_path):
    from posefast.models.derived import ModelFormatError, model_for_backend

    (tmp_path / "x.onnx").write_bytes(b"an ONNX model")
    with pytest.raises(ModelFormatError, match="backend 'tflite' runs .tflite models, not"):
        model_for_backend(tmp_path / "x.onnx", "tflite")
    assert model_for_backend(MODEL_353, "tflite") == MODEL_353


def test_the_command_line_converts_for_onnx_too(shared_data, tmp_path):
    env = {**os.environ, "POSEFAST_CACHE_DIR": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-m", "posefast", "predict", str(IMAGES / "couple.jpg"),
                        "--backend", "onnx"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)[0]["poses"]) == 2


def test_download_verifies_and_lands_in_the_cache(dirs, monkeypatch):
    _, cache = dirs
    served = Served(MODEL_353.read_bytes())
    monkeypatch.setattr(urllib.request, "urlopen", served)
    path = resolve_model(NAME)
    assert path == cache / f"{NAME}.tflite" and path.read_bytes() == MODEL_353.read_bytes()
    assert served.urls == [REGISTRY[NAME].url]
    assert resolve_model(NAME) == path and served.urls == [REGISTRY[NAME].url]  # cached now
    assert [p.name for p in cache.iterdir()] == [f"{NAME}.tflite"]


def test_a_download_failing_its_checksum_is_deleted(dirs, monkeypatch):
    _, cache = dirs
    served = Served(b"not a model")
    monkeypatch.setattr(urllib.request, "urlopen", served)
    with pytest.raises(ChecksumError, match="deleted"):
        resolve_model(NAME)
    assert list(cache.iterdir()) == []


def test_a_model_without_checksum_is_not_downloaded_unless_allowed(dirs, monkeypatch):
    name = "posenet_mobilenet_v1_100_257x257_multi_kpt_stripped"
    served = Served(b"float model bytes")
    monkeypatch.setattr(urllib.request, "urlopen", served)
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
    monkeypatch.setattr(urllib.request, "urlopen", served)
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
