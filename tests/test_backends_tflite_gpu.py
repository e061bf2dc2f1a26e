"""The ``tflite-gpu`` backend. CI has no GPU: the error and fallback paths are what run there."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from backend_helpers import network_input, poses
from conftest import MODEL_481
from posefast.registry import create_backend, get_backend_class

pytest.importorskip("ai_edge_litert.compiled_model")
gpu = pytest.importorskip("posefast_backends.tflite_gpu")


@pytest.fixture
def no_gpu(monkeypatch):
    """This machine, as far as the checks can tell, has no Vulkan driver."""
    monkeypatch.setattr(gpu, "_vulkan_loader", lambda: None)


def test_availability_is_what_the_checks_find():
    availability = get_backend_class("tflite-gpu").availability()
    assert availability.usable == (gpu.gpu_problem() is None)
    if not availability.usable:
        assert "remedy" in availability.reason and 'fallback="cpu"' in availability.reason


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the checks are Linux's")
def test_each_missing_piece_is_named(monkeypatch):
    monkeypatch.setattr(gpu, "_vulkan_loader", lambda: None)
    assert gpu.gpu_problem().startswith("no Vulkan driver found: the Vulkan loader")
    monkeypatch.setattr(gpu, "_vulkan_loader", lambda: "libvulkan.so.1")
    monkeypatch.setattr(gpu, "_vulkan_drivers", lambda: [])
    assert "no driver (ICD manifest" in gpu.gpu_problem()
    monkeypatch.setattr(gpu, "_vulkan_drivers", lambda: ["/usr/share/vulkan/icd.d/x.json"])
    monkeypatch.setattr(gpu, "_gpu_devices", lambda: [])
    assert gpu.gpu_problem().startswith("no GPU adapter")
    monkeypatch.setattr(gpu, "_gpu_devices", lambda: ["/dev/dri/renderD128"])
    assert gpu.gpu_problem() is None


def test_without_a_gpu_creation_fails_naming_cause_and_remedy(shared_data, no_gpu):
    with pytest.raises(gpu.GpuUnavailableError,
                       match=r"no Vulkan driver found.*Remedy: install.*fallback=\"cpu\""):
        create_backend("tflite-gpu", str(MODEL_481))


def test_the_runtime_itself_refuses_without_an_adapter(shared_data, monkeypatch):
    """Past the checks, LiteRT's GPU accelerator fails for real where there is no GPU."""
    if gpu.gpu_problem() is None:
        pytest.skip("this machine seems to have a GPU")
    monkeypatch.setattr(gpu, "gpu_problem", lambda: None)
    with pytest.raises(gpu.GpuUnavailableError, match="could not compile.*Remedy"):
        create_backend("tflite-gpu", str(MODEL_481))


def test_fallback_to_the_cpu_warns_and_gives_the_tflite_outputs(shared_data, no_gpu):
    with pytest.warns(RuntimeWarning, match="no Vulkan driver found.*running on the CPU"):
        backend = create_backend("tflite-gpu", str(MODEL_481), fallback="cpu",
                                 input_size=(257, 353), num_threads=2)
    with backend, create_backend("tflite", str(MODEL_481), input_size=(257, 353)) as lite:
        assert backend.device == "cpu (fallback)"
        assert backend.input_spec == lite.input_spec
        batch = np.concatenate([network_input("couple.jpg", lite), network_input("sitting.png", lite)])
        ours, theirs = backend.run(batch), lite.run(batch)
        assert ours.output_stride == 16 and ours.heatmaps.array.shape == (2, 17, 23, 17)
        for name in ("heatmaps", "offsets", "displacements_fwd", "displacements_bwd"):
            assert getattr(ours, name).scale == getattr(theirs, name).scale
            np.testing.assert_array_equal(getattr(ours, name).array, getattr(theirs, name).array)
        assert len(poses(backend, "couple.jpg")) == 2


def test_a_delegate_that_cannot_load(shared_data, tmp_path):
    missing = tmp_path / "libgpu_delegate.so"
    with pytest.raises(gpu.GpuUnavailableError, match="libgpu_delegate.so"):
        create_backend("tflite-gpu", str(MODEL_481), delegate=str(missing))
    with pytest.warns(RuntimeWarning, match="libgpu_delegate.so"):
        backend = create_backend("tflite-gpu", str(MODEL_481), delegate=str(missing),
                                 fallback="cpu")
    with backend:
        assert backend.device == "cpu (fallback)"


@pytest.mark.parametrize("options, message", [
    ({"fallback": "gpu"}, "fallback must be 'cpu'"),
    ({"delegate_options": "x"}, None),
    ({"fall_back": "cpu"}, "no option 'fall_back'"),
])
def test_bad_options(shared_data, options, message, tmp_path):
    if message is None:  # delegate_options are checked once a delegate is asked for
        options = dict(options, delegate=str(tmp_path / "lib.so"))
        message = "delegate_options must be"
    with pytest.raises(ValueError, match=message):
        create_backend("tflite-gpu", str(MODEL_481), **options)


def test_usable_with_a_cpu_fallback_even_without_a_gpu(shared_data, no_gpu, capsys):
    cls = get_backend_class("tflite-gpu")
    assert not cls.availability_for({})
    assert cls.availability_for({"fallback": "cpu"}).usable
    assert "fallback='cpu'" in cls.availability_for({"fallback": "cpu"}).reason
    from posefast.cli import main as cli_main

    image = str(shared_data / "images" / "standing.png")
    assert cli_main(["predict", image, "--backend", "tflite-gpu", "--model", str(MODEL_481)]) == 2
    assert "no Vulkan driver found" in capsys.readouterr().err
    with pytest.warns(RuntimeWarning, match="running on the CPU"):
        assert cli_main(["predict", image, "--backend", "tflite-gpu", "--backend-option",
                         "fallback=cpu", "--model", str(MODEL_481)]) == 0
    assert '"poses": [{"score"' in capsys.readouterr().out
