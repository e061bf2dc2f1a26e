"""The ``tflite`` backend on the real shared models and images."""
from __future__ import annotations

import numpy as np
import pytest

from backend_helpers import network_input, poses
from conftest import MODEL_353, MODEL_481, MODEL_721
from posefast.quantized import Quantized
from posefast.backend_registry import create_backend, get_backend_class, list_backends

litert = pytest.importorskip("ai_edge_litert.interpreter")


@pytest.fixture(scope="module")
def backend(shared_data):
    with create_backend("tflite", str(MODEL_481), num_threads=2) as b:
        yield b


def test_registered_by_entry_point_and_usable():
    info = {i.name: i for i in list_backends()}["tflite"]
    assert info.target == "posefast_backends.tflite:TFLiteBackend"
    assert info.availability.usable, info.availability.reason
    assert get_backend_class("tflite").threads_option == "num_threads"


def test_outputs_match_the_interpreter_run_directly(backend):
    """Same bytes as a plain Interpreter run; quantised, mid offsets split into views."""
    batch = network_input("couple.jpg", backend)
    out = backend.run(batch)
    ref = litert.Interpreter(model_path=str(MODEL_481))
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], batch)
    ref.invoke()
    raw = {d["name"]: ref.get_tensor(d["index"]) for d in ref.get_output_details()}
    assert out.layout == "hwc" and out.output_stride == 16
    for tensor in (out.heatmaps, out.offsets, out.displacements_fwd, out.displacements_bwd):
        assert isinstance(tensor, Quantized) and tensor.array.dtype == np.uint8
    np.testing.assert_array_equal(out.heatmaps.array, raw["float_heatmaps"])
    np.testing.assert_array_equal(out.offsets.array, raw["float_short_offsets"])
    np.testing.assert_array_equal(out.displacements_fwd.array, raw["float_mid_offsets"][..., :32])
    np.testing.assert_array_equal(out.displacements_bwd.array, raw["float_mid_offsets"][..., 32:])
    assert out.heatmaps.array.shape == (1, 31, 41, 17)
    assert out.heatmaps.scale == pytest.approx(0.0784314) and out.heatmaps.zero_point == 128
    assert out.displacements_fwd.scale == pytest.approx(1.3875765)
    assert out.displacements_fwd.zero_point == 117


@pytest.mark.parametrize("model, size", [(MODEL_353, (353, 481)), (MODEL_481, (481, 641)),
                                         (MODEL_721, (721, 1281))])
def test_each_shared_model_finds_the_people(shared_data, model, size):
    with create_backend("tflite", str(model)) as b:
        spec = b.input_spec
        assert (spec.height, spec.width, spec.dtype) == (*size, np.uint8)
        couple = poses(b, "couple.jpg")
        assert len(couple) == 2 and min(p.score for p in couple) > 0.5
        assert poses(b, "no_person.jpg") == []


def test_resized_input(shared_data):
    with create_backend("tflite", str(MODEL_481), input_size=(257, 353)) as b:
        spec = b.input_spec
        assert (spec.height, spec.width) == (257, 353)
        out = b.run(network_input("standing.png", b))
        assert out.heatmaps.array.shape == (1, 17, 23, 17)  # (257-1)/16+1, (353-1)/16+1
        assert out.output_stride == 16
        found = poses(b, "standing.png")
        assert len(found) == 1 and found[0].score > 0.5
        assert np.all(found[0].keypoints[:, 0] <= 353 + 16)


def test_batch_equals_single_runs_and_results_are_not_reused(backend):
    a = network_input("couple.jpg", backend)
    b = network_input("kneeling.png", backend)
    single_a = backend.run(a)
    single_b = backend.run(b)
    both = backend.run(np.concatenate([a, b]))
    for name in ("heatmaps", "offsets", "displacements_fwd", "displacements_bwd"):
        np.testing.assert_array_equal(getattr(both, name).array[0], getattr(single_a, name).array[0])
        np.testing.assert_array_equal(getattr(both, name).array[1], getattr(single_b, name).array[0])
    # single_a was not overwritten by the later runs (the interpreter reuses its buffers)
    assert not np.array_equal(single_a.heatmaps.array, single_b.heatmaps.array)
    np.testing.assert_array_equal(single_a.heatmaps.array, backend.run(a).heatmaps.array)


def test_bad_batches_are_refused(backend):
    with pytest.raises(ValueError, match=r"\(N, 481, 641, 3\)"):
        backend.run(np.zeros((1, 480, 641, 3), np.uint8))
    with pytest.raises(ValueError, match="dtype uint8"):
        backend.run(np.zeros((1, 481, 641, 3), np.float32))


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.tflite"):
        create_backend("tflite", str(tmp_path / "nowhere.tflite"))
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"not a flatbuffer" * 64)
    with pytest.raises(ValueError, match="corrupt.tflite.*TF Lite model"):
        create_backend("tflite", str(corrupt))


@pytest.mark.parametrize("options, message", [
    ({"threads": 2}, "no option 'threads'.*num_threads"),
    ({"num_threads": 0}, "num_threads must be"),
    ({"num_threads": "two"}, "num_threads must be"),
    ({"input_size": (0, 10)}, "input_size must be"),
    ({"input_size": (257.5, 353)}, "input_size must be"),
])
def test_bad_options(shared_data, options, message):
    with pytest.raises(ValueError, match=message):
        create_backend("tflite", str(MODEL_481), **options)


def test_closed_backend_says_so(shared_data):
    b = create_backend("tflite", str(MODEL_353))
    b.close()
    with pytest.raises(RuntimeError, match="closed"):
        b.run(np.zeros((1, 353, 481, 3), np.uint8))


def test_tiny_input_keeps_the_models_stride(shared_data):
    with create_backend("tflite", str(MODEL_481), input_size=(8, 8)) as b:
        out = b.run(np.zeros((1, 8, 8, 3), np.uint8))
        assert out.heatmaps.array.shape == (1, 1, 1, 17) and out.output_stride == 16


@pytest.mark.parametrize("size", [None, (49, 65)])
def test_float_model_in_the_starter_layout(tmp_path, size):
    """Float input in [-1, 1] and four float outputs found by name, at its size and resized."""
    from posefast import decode_outputs
    from tiny_tflite import expected, write_model

    model = write_model(tmp_path / "starter_layout.tflite")
    with create_backend("tflite", str(model), input_size=size) as b:
        spec = b.input_spec
        assert spec.dtype == np.float32 and spec.offset == -1.0
        assert spec.scale == pytest.approx(1 / 127.5)
        assert (spec.height, spec.width) == (size or (33, 33))
        batch = np.random.default_rng(1).uniform(-1, 1, (2, spec.height, spec.width, 3))
        out = b.run(batch.astype(np.float32))
    want = expected(batch.astype(np.float32))
    assert out.layout == "hwc" and out.output_stride == 16
    for got, name in ((out.heatmaps, "heatmap"), (out.offsets, "offset"),
                      (out.displacements_fwd, "displacement_fwd"),
                      (out.displacements_bwd, "displacement_bwd")):
        assert isinstance(got, np.ndarray) and got.dtype == np.float32
        np.testing.assert_allclose(got, want[f"MobilenetV1/{name}_2/BiasAdd"], rtol=1e-5, atol=1e-5)
    assert len(decode_outputs(out, score_threshold=0.0, max_detections=3)) == 2
