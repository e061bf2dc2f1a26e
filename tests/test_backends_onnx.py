"""The ``onnx`` backend and ``posefast convert``, against the ``tflite`` backend on real data."""
from __future__ import annotations

import numpy as np
import pytest

from backend_helpers import IMAGE_NAMES, network_input, poses
from conftest import MODEL_353, MODEL_481
from posefast.cli import main as cli_main
from posefast.backend_registry import create_backend, list_backends

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("tflite2onnx")
pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="session")
def onnx_481(shared_data, tmp_path_factory):
    """The 481x641 model converted once per session by `posefast convert` (dynamic size)."""
    path = tmp_path_factory.mktemp("onnx") / "posenet_481.onnx"
    assert cli_main(["convert", str(MODEL_481), str(path)]) == 0
    return path


@pytest.fixture(scope="session")
def onnx_353_fixed(shared_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "posenet_353_fixed.onnx"
    assert cli_main(["convert", "--fixed-size", str(MODEL_353), str(path)]) == 0
    return path


def assert_same_poses(expected, actual, where):
    assert len(actual) == len(expected), where
    for e, a in zip(expected, actual):
        assert abs(e.score - a.score) <= 0.01, where
        np.testing.assert_allclose(a.keypoints[:, :2], e.keypoints[:, :2], atol=1.0, err_msg=where)
        np.testing.assert_allclose(a.keypoints[:, 2], e.keypoints[:, 2], atol=0.01, err_msg=where)


def test_registered_and_usable():
    info = {i.name: i for i in list_backends()}["onnx"]
    assert info.target == "posefast_backends.onnx:OnnxBackend"
    assert info.availability.usable and "CPUExecutionProvider" in info.availability.reason


def test_same_poses_as_tflite_on_every_shared_image(onnx_481):
    with create_backend("tflite", str(MODEL_481)) as lite, \
            create_backend("onnx", str(onnx_481), num_threads=2) as onx:
        assert (onx.input_spec.height, onx.input_spec.width) == (481, 641)  # from the metadata
        found = 0
        for name in IMAGE_NAMES:
            expected = poses(lite, name)
            assert_same_poses(expected, poses(onx, name), name)
            found += len(expected)
        assert found == 7  # two people in couple.jpg, one in each 640x480 frame, none on the porch


def test_same_poses_at_a_resized_input(onnx_481):
    size = (257, 353)
    with create_backend("tflite", str(MODEL_481), input_size=size) as lite, \
            create_backend("onnx", str(onnx_481), input_size=size) as onx:
        for name in ("couple.jpg", "standing.png"):
            assert_same_poses(poses(lite, name), poses(onx, name), name)


def test_outputs_are_nchw_as_onnx_runtime_produced_them(onnx_481):
    with create_backend("onnx", str(onnx_481), providers="cpu") as onx:
        batch = np.concatenate([network_input("couple.jpg", onx), network_input("sitting.png", onx)])
        out = onx.run(batch)
    assert out.layout == "chw" and out.output_stride == 16
    assert out.heatmaps.shape == (2, 17, 31, 41) and out.heatmaps.dtype == np.float32
    assert out.heatmaps.flags.c_contiguous  # not a transposed view, not a transposed copy
    assert out.displacements_fwd.shape == (2, 32, 31, 41)
    assert np.shares_memory(out.displacements_fwd, out.displacements_bwd.base)


def test_fixed_size_model_agrees_and_says_it_cannot_resize(onnx_353_fixed):
    with create_backend("onnx", str(onnx_353_fixed)) as onx, \
            create_backend("tflite", str(MODEL_353)) as lite:
        assert (onx.input_spec.height, onx.input_spec.width) == (353, 481)
        for name in IMAGE_NAMES:
            assert_same_poses(poses(lite, name), poses(onx, name), f"353x481 {name}")
        a, b = network_input("couple.jpg", onx), network_input("kneeling.png", onx)
        both = onx.run(np.concatenate([a, b]))  # a batch of one model, run image by image
        np.testing.assert_array_equal(both.heatmaps[1:], onx.run(b).heatmaps)
    with pytest.raises(ValueError, match="fixed input size 353x481.*cannot resize.*posefast convert"):
        create_backend("onnx", str(onnx_353_fixed), input_size=(257, 353))


def test_four_output_float_layout_is_recognised(onnx_481, tmp_path):
    """The starter model's layout: separate displacement_fwd / displacement_bwd outputs,
    in a shuffled order, made from the converted model with the onnx package."""
    model = onnx.load(str(onnx_481))
    graph = model.graph
    mid = next(o for o in graph.output if "mid_offsets" in o.name)
    heat = next(o for o in graph.output if "heatmaps" in o.name)
    short = next(o for o in graph.output if "short_offsets" in o.name)
    fwd, bwd = "posenet/displacement_fwd", "posenet/displacement_bwd"
    # opset 11 (tflite2onnx's): Split takes the sizes as an attribute
    graph.node.append(onnx.helper.make_node("Split", [mid.name], [fwd, bwd], axis=1, split=[32, 32]))
    outputs = [short, onnx.helper.make_tensor_value_info(bwd, onnx.TensorProto.FLOAT,
                                                         ["batch", 32, "grid_height", "grid_width"]),
               heat, onnx.helper.make_tensor_value_info(fwd, onnx.TensorProto.FLOAT,
                                                        ["batch", 32, "grid_height", "grid_width"])]
    del graph.output[:]
    graph.output.extend(outputs)
    path = tmp_path / "four_outputs.onnx"
    onnx.save(model, str(path))
    with create_backend("onnx", str(onnx_481)) as three, create_backend("onnx", str(path)) as four:
        out = four.run(network_input("couple.jpg", four))
        np.testing.assert_array_equal(out.displacements_fwd,
                                      three.run(network_input("couple.jpg", three)).displacements_fwd)
        assert_same_poses(poses(three, "couple.jpg"), poses(four, "couple.jpg"), "four outputs")


def test_a_model_that_is_not_a_posenet(tmp_path):
    weights = onnx.numpy_helper.from_array(np.zeros((10, 3, 1, 1), np.float32), "w")
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Conv", ["image", "w"], ["features"])], "not_posenet",
        [onnx.helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, [1, 3, 33, 33])],
        [onnx.helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, [1, 10, 33, 33])],
        [weights])
    path = tmp_path / "classifier.onnx"
    # IR version 8: what every supported onnxruntime loads (a newer onnx package would
    # otherwise stamp a version an older onnxruntime refuses, as on Python 3.10 here)
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 13)],
                                     ir_version=8), str(path))
    with pytest.raises(ValueError, match="classifier.onnx is not a PoseNet: no heatmaps output"):
        create_backend("onnx", str(path))


def test_providers(onnx_481):
    from posefast_backends.onnx import provider_names

    assert provider_names("cuda, cpu") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert provider_names(["OpenVINOExecutionProvider"]) == ["OpenVINOExecutionProvider"]
    assert provider_names(None) == ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(ValueError, match="CUDAExecutionProvider is not available.*CPUExec"):
            create_backend("onnx", str(onnx_481), providers="cuda")
    with pytest.raises(ValueError, match="providers must"):
        create_backend("onnx", str(onnx_481), providers=5)


def test_missing_and_corrupt_files(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="nowhere.onnx"):
        create_backend("onnx", str(tmp_path / "nowhere.onnx"))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(ValueError, match="corrupt.onnx.*ONNX model"):
        create_backend("onnx", str(corrupt))
    assert cli_main(["convert", str(tmp_path / "nowhere.tflite"), str(tmp_path / "x.onnx")]) == 2
    assert "nowhere.tflite" in capsys.readouterr().err
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer" * 64)
    assert cli_main(["convert", str(bad), str(tmp_path / "x.onnx")]) == 2
    assert "bad.tflite" in capsys.readouterr().err


def test_convert_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        cli_main(["convert", "--help"])
    assert "posefast convert posenet_mobilenet_v1_075_481_641_quant.tflite" in capsys.readouterr().out


def _conv_model(pads, op="Conv"):
    weights = onnx.numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    node = (onnx.helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=pads,
                                  strides=[2, 2]) if op == "Conv"
            else onnx.helper.make_node(op, ["x"], ["y"]))
    out_shape = [1, 4, 16, 16] if op == "Conv" else [1, 3, 33, 33]
    graph = onnx.helper.make_graph(
        [node], "g", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 33, 33])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, out_shape)], [weights])
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 11)])


def test_only_same_padding_becomes_dynamic():
    from posefast.models.convert import _make_size_dynamic

    same = _conv_model([1, 1, 1, 1])  # 33 -> 17 at stride 2: TF 'same' pads 1 each side
    assert _make_size_dynamic(same, onnx) == ""
    conv = same.graph.node[0]
    assert [a.s for a in conv.attribute if a.name == "auto_pad"] == [b"SAME_UPPER"]
    assert same.graph.input[0].type.tensor_type.shape.dim[2].dim_param == "height"
    assert "does not pad the 'same' way" in _make_size_dynamic(_conv_model([0, 0, 0, 0]), onnx)
    assert "Reshape may depend" in _make_size_dynamic(_conv_model(None, "Reshape"), onnx)
