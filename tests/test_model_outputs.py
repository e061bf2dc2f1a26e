"""Recognising PoseNet output tensors by channel count and name (posefast.model_outputs)."""
from __future__ import annotations

import numpy as np
import pytest

from posefast.model_outputs import TensorInfo, find_posenet_outputs, output_stride
from posefast.quantized import Quantized

# The shared quantised models, as ai-edge-litert lists their outputs.
QUANT = [
    TensorInfo("float_heatmaps", (1, 31, 41, 17), (0.0784314, 128)),
    TensorInfo("float_short_offsets", (1, 31, 41, 34), (0.0784314, 128)),
    TensorInfo("float_mid_offsets", (1, 31, 41, 64), (1.3875765, 117)),
]
# The TF Lite starter model's float layout (four outputs), in its own output order.
STARTER = [
    TensorInfo("MobilenetV1/offset_2/BiasAdd", (1, 9, 9, 34)),
    TensorInfo("MobilenetV1/displacement_bwd_2/BiasAdd", (1, 9, 9, 32)),
    TensorInfo("MobilenetV1/heatmap_2/BiasAdd", (1, 9, 9, 17)),
    TensorInfo("MobilenetV1/displacement_fwd_2/BiasAdd", (1, 9, 9, 32)),
]


def chw(infos):
    return [TensorInfo(t.name, (t.shape[0], t.shape[3], t.shape[1], t.shape[2]), t.quantization)
            for t in infos]


def test_quantised_layout_with_mid_offsets():
    found = find_posenet_outputs(QUANT)
    assert (found.layout, found.heatmaps, found.offsets, found.mid_offsets) == ("hwc", 0, 1, 2)
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, t.shape, dtype=np.uint8) for t in QUANT]
    out = found.build(arrays, (481, 641))
    assert out.output_stride == 16 and out.layout == "hwc"
    assert isinstance(out.heatmaps, Quantized) and out.heatmaps.array is arrays[0]
    assert out.displacements_fwd.zero_point == 117
    # the two halves are views of the one 64-channel tensor, not copies
    assert np.shares_memory(out.displacements_fwd.array, arrays[2])
    np.testing.assert_array_equal(out.displacements_bwd.array, arrays[2][..., 32:])


def test_starter_float_layout_found_by_name_in_either_layout():
    for infos, layout in ((STARTER, "hwc"), (chw(STARTER), "chw")):
        found = find_posenet_outputs(infos)
        assert found.layout == layout
        assert (found.heatmaps, found.offsets, found.displacements_fwd,
                found.displacements_bwd, found.mid_offsets) == (2, 0, 3, 1, None)
        arrays = [np.zeros(t.shape, np.float32) for t in infos]
        out = found.build(arrays, (257, 257))
        assert out.output_stride == 32 and out.displacements_bwd is arrays[1]


def test_chw_mid_offsets_split_on_the_channel_axis():
    infos = chw(QUANT)
    found = find_posenet_outputs(infos, layout="chw")
    arrays = [np.arange(np.prod(t.shape), dtype=np.float32).reshape(t.shape) for t in infos]
    out = found.build(arrays, (481, 641))
    assert out.displacements_fwd.shape == (1, 32, 31, 41)
    np.testing.assert_array_equal(out.displacements_bwd, arrays[2][:, 32:])


@pytest.mark.parametrize("drop, missing", [(0, "heatmaps"), (1, "offsets"),
                                           (2, "displacements_fwd")])
def test_not_a_posenet_names_the_missing_tensor(drop, missing):
    infos = [t for i, t in enumerate(QUANT) if i != drop]
    with pytest.raises(ValueError, match=f"m.tflite is not a PoseNet: no {missing} output"):
        find_posenet_outputs(infos, model="m.tflite")


def test_unnamed_displacements_are_ambiguous():
    infos = [TensorInfo("a", (1, 9, 9, 17)), TensorInfo("b", (1, 9, 9, 34)),
             TensorInfo("c", (1, 9, 9, 32)), TensorInfo("d", (1, 9, 9, 32))]
    with pytest.raises(ValueError, match="no displacements_fwd output"):
        find_posenet_outputs(infos)


def test_outputs_of_different_grids_are_refused():
    infos = QUANT[:2] + [TensorInfo("float_mid_offsets", (1, 16, 21, 64))]
    with pytest.raises(ValueError, match="different grid sizes"):
        find_posenet_outputs(infos)


@pytest.mark.parametrize("size, grid, stride", [
    ((481, 641), (31, 41), 16), ((257, 257), (9, 9), 32), ((353, 481), (23, 31), 16),
    ((721, 1281), (46, 81), 16), ((257, 353), (17, 23), 16), ((224, 224), (14, 14), 16),
    ((225, 225), (29, 29), 8),
])
def test_output_stride(size, grid, stride):
    assert output_stride(size, grid) == stride


@pytest.mark.parametrize("size, grid", [((481, 641), (31, 21)), ((100, 100), (3, 3)),
                                        ((0, 10), (1, 1))])
def test_output_stride_refuses_sizes_that_do_not_fit(size, grid):
    with pytest.raises(ValueError):
        output_stride(size, grid)


def test_the_models_own_stride_decides_for_tiny_inputs():
    # an 8x8 input gives a 1x1 grid, which stride 8 fits as well as 16
    assert output_stride((8, 8), (1, 1), expected=16) == 16
    with pytest.raises(ValueError, match="does not fit input 481x641 at the model's output stride 32"):
        output_stride((481, 641), (31, 41), expected=32)
    found = find_posenet_outputs(QUANT, input_hw=(481, 641))
    assert found.stride == 16
    arrays = [np.zeros((1, 1, 1, t.shape[3]), np.uint8) for t in QUANT]
    assert found.build(arrays, (8, 8)).output_stride == 16
