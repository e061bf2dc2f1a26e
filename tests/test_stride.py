"""Output stride 8, 16 and 32 from one model (issue 13): the plan of what changes, the
TF Lite and ONNX rewrites, their caching, and the poses the rewritten shared model finds
on the shared images against stride 16's."""
from __future__ import annotations

import os

import numpy as np
import pytest

from posefast import PoseEstimator, decode_outputs
from posefast.cli import main as cli_main
from posefast.config import load_config
from posefast.models.derived import derived_dir, model_for_backend
from posefast.backend_registry import create_backend
from posefast.models.stride import (Layer, UnreachableStrideError, UnsupportedModelError,
                              model_stride, plan_stride, rewrite_stride)
from posefast.models.stride.tflite import tflite_plan

from backend_helpers import IMAGE_NAMES, network_input
from conftest import IMAGES, MODEL_481

pytest.importorskip("ai_edge_litert")
pytest.importorskip("onnxruntime")
pytest.importorskip("tflite2onnx")

SHA_481 = "d7ac211a927e114a9266e424c3cb5b6ce0db462ee2d5311471c437cca2b262a6"
#: Measured on the shared images with benchmarks/bench_stride.py: the median keypoint
#: distance from stride 16 per image (network-input pixels) is 1.1-2.5 at stride 8 and
#: 5.9-9.3 at stride 32 (the issue's hand edit: 1.2-3.1 and 5.4-8.1). Stride 8 refines
#: stride 16's grid, so it stays within a cell's quarter; stride 32's cells are 32 px,
#: so a third of a cell. A dilation wrong by one factor (4 on block 13) gives 5-11 px
#: at stride 8, beyond its bound.
BOUND_PX = {8: 4.0, 32: 12.0}
#: The same person: the nearest pose within 3 % of the input width (641 px).
SAME_PERSON_PX = 0.03 * 641
DEFAULT_THRESHOLD = {8: 0.5, 16: 0.5, 32: 0.15}


def depthwise(plan):
    return {l.name.split("/")[1]: (l.stride, l.dilation) for l in plan.layers if l.depthwise}


# -- the plan ----------------------------------------------------------------------------

def test_the_coral_model_at_8_and_32_is_the_layout_the_issue_measured(shared_data):
    own = tflite_plan(MODEL_481, 16)
    assert own.model_stride == 16 and own.unchanged
    at8 = depthwise(tflite_plan(MODEL_481, 8))
    assert at8["Conv2d_6_depthwise"] == (1, 1)
    assert all(at8[f"Conv2d_{b}_depthwise"] == (1, 2) for b in range(7, 14))  # 13 too, not 4
    assert [at8[f"Conv2d_{b}_depthwise"] for b in (2, 4)] == [(2, 1), (2, 1)]
    at32 = depthwise(tflite_plan(MODEL_481, 32))
    assert at32["Conv2d_12_depthwise"] == (2, 1)
    assert all(at32[f"Conv2d_{b}_depthwise"][1] == 1 for b in range(1, 14))
    assert depthwise(own) == {k: v for k, v in depthwise(own).items()}  # unchanged layers


def starter_layers():
    """The TF Lite starter model's layout: MobileNet v1 at stride 32, four heads."""
    layers = [Layer("Conv2d_0", False, (3, 3), 2, 1)]
    for block, stride in enumerate((1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1), start=1):
        layers += [Layer(f"Conv2d_{block}_depthwise", True, (3, 3), stride, 1),
                   Layer(f"Conv2d_{block}_pointwise", False, (1, 1), 1, 1)]
    return layers + [Layer(h, False, (1, 1), 1, 1) for h in ("heatmap", "offset", "fwd", "bwd")]


def test_the_starter_layout_follows_tfjs_atrous_rule():
    plan16 = plan_stride(starter_layers(), 16, "starter")
    assert plan16.model_stride == 32
    got = {l.name: (l.stride, l.dilation) for l in plan16.layers if l.depthwise}
    assert got["Conv2d_12_depthwise"] == (1, 1) and got["Conv2d_13_depthwise"] == (1, 2)
    got = {l.name: (l.stride, l.dilation) for l in plan_stride(starter_layers(), 8, "s").layers
           if l.depthwise}
    assert got["Conv2d_6_depthwise"] == (1, 1)
    assert [got[f"Conv2d_{b}_depthwise"][1] for b in range(7, 14)] == [2] * 6 + [4]


@pytest.mark.parametrize("stride", [4, 64, 12])
def test_an_unreachable_stride_is_refused_with_the_reachable_ones(stride):
    with pytest.raises(UnreachableStrideError, match=r"stride %d .*8, 16, 32 \(its own: 32\)" % stride):
        plan_stride(starter_layers(), stride, "starter")


def test_an_unknown_architecture_is_named(tmp_path):
    from tiny_tflite import write_model

    tiny = write_model(tmp_path / "tiny.tflite")
    with pytest.raises(UnsupportedModelError, match=r"tiny.tflite is not a MobileNet v1 PoseNet.*"
                                                    r"convolution 0 .*found MobilenetV1/offset_2"):
        model_stride(tiny)
    layers = starter_layers()
    layers[7] = Layer("Conv2d_4_depthwise", True, (5, 5), 2, 1)
    with pytest.raises(UnsupportedModelError, match="convolution 7 .*block 4.*found Conv2d_4"):
        plan_stride(layers, 16, "m")
    with pytest.raises(UnsupportedModelError, match="neither|not a TF Lite|rewritten in"):
        rewrite_stride(tmp_path / "model.pb", tmp_path / "x.pb", 8)


# -- exactness and the cache ----------------------------------------------------------------

def test_the_rewrite_is_exact_at_the_models_own_stride(shared_data, tmp_path, monkeypatch):
    out = tmp_path / "same.tflite"
    rewrite_stride(MODEL_481, out, 16)
    assert out.read_bytes() == MODEL_481.read_bytes()
    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(tmp_path / "cache"))
    assert model_for_backend(MODEL_481, "tflite", 16) == MODEL_481  # nothing made
    assert not (tmp_path / "cache").exists()
    onnx16 = model_for_backend(MODEL_481, "onnx")
    assert model_for_backend(MODEL_481, "onnx", 16) == onnx16
    rewrite_stride(onnx16, tmp_path / "same.onnx", 16)
    assert (tmp_path / "same.onnx").read_bytes() == onnx16.read_bytes()


def test_a_rewritten_model_is_made_once_and_cached_by_sha_and_stride(shared_data, tmp_path,
                                                                        monkeypatch):
    import posefast.models.stride as rewrite

    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(tmp_path / "cache"))
    made = []
    real = rewrite.rewrite_stride
    monkeypatch.setattr(rewrite, "rewrite_stride", lambda *a: made.append(a[2]) or real(*a))
    first = model_for_backend(MODEL_481, "tflite", 8)
    assert first == derived_dir() / f"{SHA_481}-stride8.tflite"
    assert model_for_backend(MODEL_481, "tflite", 8) == first and made == [8]
    assert model_for_backend(MODEL_481, "onnx", 32) == derived_dir() / f"{SHA_481}-stride32.onnx"
    assert made == [8, 32] and model_stride(first) == 8


# -- the shared model at 8 and 32, on every shared image ------------------------------------

@pytest.fixture(scope="module")
def stride_models(shared_data, tmp_path_factory):
    """{(backend, stride): model file}, made through the cache like the estimator does."""
    cache = tmp_path_factory.mktemp("stride-cache")
    old = os.environ.get("POSEFAST_CACHE_DIR")
    os.environ["POSEFAST_CACHE_DIR"] = str(cache)
    try:
        return {(b, s): model_for_backend(MODEL_481, b, s)
                for b in ("tflite", "onnx") for s in (8, 16, 32)}
    finally:
        os.environ["POSEFAST_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def found(stride_models):
    """{(backend, stride): {image: (grid (h, w), poses)}} at each stride's default threshold."""
    out = {}
    for (backend, stride), path in stride_models.items():
        with create_backend(backend, str(path), num_threads=2) as b:
            per_image = {}
            for name in IMAGE_NAMES:
                outputs = b.run(network_input(name, b))
                assert outputs.output_stride == stride
                hm = getattr(outputs.heatmaps, "array", outputs.heatmaps)
                grid = hm.shape[1:3] if outputs.layout == "hwc" else hm.shape[2:4]
                poses = decode_outputs(outputs, score_threshold=DEFAULT_THRESHOLD[stride])[0]
                per_image[name] = (tuple(grid), poses)
            out[backend, stride] = per_image
    return out


def pose_distance(a, b) -> float:
    """Median distance of two poses' keypoints (plain NumPy, network-input pixels)."""
    return float(np.median(np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1])))


@pytest.mark.parametrize("backend", ["tflite", "onnx"])
@pytest.mark.parametrize("stride, grid", [(8, (61, 81)), (16, (31, 41)), (32, (16, 21))])
def test_grids_are_those_of_the_stride(found, backend, stride, grid):
    # PoseNet's grid at 481x641: (481 - 1) / stride + 1 rows, 'same' padding rounds up
    assert {g for g, _ in found[backend, stride].values()} == {grid}


@pytest.mark.parametrize("backend", ["tflite", "onnx"])
@pytest.mark.parametrize("stride", [8, 32])
def test_the_same_people_as_stride_16_within_the_measured_bound(found, backend, stride):
    people = 0
    for name in IMAGE_NAMES:
        reference = found[backend, 16][name][1]
        other = found[backend, stride][name][1]
        assert len(other) == len(reference), name
        dists = [min(pose_distance(r.keypoints, o.keypoints) for o in other) for r in reference]
        assert all(d <= SAME_PERSON_PX for d in dists), (name, dists)
        if dists:
            assert np.median(dists) <= BOUND_PX[stride], (name, dists)
        people += len(reference)
    assert people == 7


@pytest.mark.parametrize("stride", [8, 16, 32])
def test_tflite_and_onnx_agree_at_each_stride(found, stride):
    for name in IMAGE_NAMES:
        lite, onx = found["tflite", stride][name][1], found["onnx", stride][name][1]
        assert len(lite) == len(onx), name
        for a, b in zip(lite, onx):
            assert abs(a.score - b.score) <= 0.01, name
            np.testing.assert_allclose(b.keypoints[:, :2], a.keypoints[:, :2], atol=1.0, err_msg=name)


def test_stride_32_at_the_old_threshold_misses_people(found, stride_models):
    """Why stride 32 defaults to 0.15: at 0.5 it loses people stride 16 finds."""
    with create_backend("tflite", str(stride_models["tflite", 32])) as b:
        at_half = sum(len(decode_outputs(b.run(network_input(n, b)), score_threshold=0.5)[0])
                      for n in IMAGE_NAMES)
    assert at_half < 7 == sum(len(p) for _, p in found["tflite", 32].values())


def test_the_estimator_maps_keypoints_back_at_any_stride(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(tmp_path / "cache"))
    image = IMAGES / "couple.jpg"  # 1920x1278: 3x the network input in each direction
    with PoseEstimator() as est:
        reference = est.estimate(image)
    for stride in (8, 32):
        with PoseEstimator(output_stride=stride) as est:
            assert est.config.decoder.score_threshold == DEFAULT_THRESHOLD[stride]
            poses = est.estimate(image)
        assert len(poses) == len(reference) == 2
        scale = 1920 / 641
        for r in reference:
            d = min(pose_distance(r.keypoints, p.keypoints) for p in poses)
            assert d <= BOUND_PX[stride] * scale * 1.5, (stride, d)


# -- configuration and command line --------------------------------------------------------

def test_output_stride_in_every_configuration_layer(tmp_path):
    toml = tmp_path / "posefast.toml"
    toml.write_text("output_stride = 8\n")
    assert load_config(config_file=toml, env={}).output_stride == 8
    assert load_config(env={"POSEFAST_OUTPUT_STRIDE": "32"}).output_stride == 32
    assert load_config(cli={"output_stride": 16}, env={"POSEFAST_OUTPUT_STRIDE": "32"}).output_stride == 16
    assert load_config(env={}).output_stride is None
    c = load_config(env={"POSEFAST_OUTPUT_STRIDE": "32", "POSEFAST_SCORE_THRESHOLD": "0.4"})
    assert c.decoder.score_threshold == 0.4  # an explicit threshold wins over stride 32's
    assert load_config(env={"POSEFAST_OUTPUT_STRIDE": "32"}).decoder.score_threshold == 0.15
    for bad, where in (({"POSEFAST_OUTPUT_STRIDE": "12"}, "POSEFAST_OUTPUT_STRIDE"),
                       ({"POSEFAST_OUTPUT_STRIDE": "x"}, "POSEFAST_OUTPUT_STRIDE")):
        with pytest.raises(ValueError, match=where):
            load_config(env=bad)
    toml.write_text("output_stride = 10\n")
    with pytest.raises(ValueError, match=f"{toml}.*output_stride.*8, 16, 32"):
        load_config(config_file=toml, env={})


def test_convert_writes_a_strided_model_and_refuses_what_it_cannot(shared_data, tmp_path, capsys):
    from tiny_tflite import write_model

    out = tmp_path / "s8.tflite"
    assert cli_main(["convert", str(MODEL_481), str(out), "--output-stride", "8"]) == 0
    assert "output stride 8; the source's is 16" in capsys.readouterr().out
    assert model_stride(out) == 8
    onnx_out = tmp_path / "s32.onnx"
    assert cli_main(["convert", "posenet_mobilenet_v1_075_481_641_quant", str(onnx_out),
                     "--output-stride", "32"]) == 0
    assert model_stride(onnx_out) == 32
    # one line for the one file written (it used to say "wrote" twice)
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {onnx_out} (output stride 32; the source's is 16; any input size)"]
    assert cli_main(["convert", str(MODEL_481), str(tmp_path / "x.tflite"),
                     "--output-stride", "4"]) == 2
    assert "the strides it can run at are 8, 16, 32 (its own: 16)" in capsys.readouterr().err
    tiny = write_model(tmp_path / "tiny.tflite")
    assert cli_main(["convert", str(tiny), str(tmp_path / "y.tflite"), "--output-stride", "8"]) == 2
    assert "is not a MobileNet v1 PoseNet" in capsys.readouterr().err
    assert cli_main(["convert", str(onnx_out), str(tmp_path / "z.tflite"), "--output-stride", "8"]) == 2
    assert "converts TF Lite to ONNX only" in capsys.readouterr().err
    assert cli_main(["convert", str(MODEL_481), str(tmp_path / "w.tflite")]) == 2
    assert "writes .onnx models" in capsys.readouterr().err
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary left


def test_predict_with_output_stride(shared_data, tmp_path):
    import json
    import subprocess
    import sys

    env = {**os.environ, "POSEFAST_CACHE_DIR": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-m", "posefast", "predict", str(IMAGES / "couple.jpg"),
                        "--output-stride", "32"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)[0]["poses"]) == 2
    from tiny_tflite import write_model

    tiny = write_model(tmp_path / "tiny.tflite")
    r = subprocess.run([sys.executable, "-m", "posefast", "predict", str(IMAGES / "couple.jpg"),
                        "--output-stride", "8", "--model", str(tiny)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "tiny.tflite is not a MobileNet v1 PoseNet" in r.stderr


@pytest.mark.parametrize("stride", [8, 32])
def test_the_onnx_rewrite_pads_as_tf_same_does_where_the_padding_is_odd(stride_models, stride):
    """TF's SAME padding puts the extra pixel of an odd padding at the end (ONNX's
    SAME_UPPER). At 481x641 every layer the rewrite changes pads evenly, so a rewrite
    padding at the start (SAME_LOWER) went unseen; at 497x657 the layer made stride 2
    for output stride 32 has a 32x42 input, padded by one pixel, and must agree with
    the TF Lite rewrite there (measured: 5e-7; padded at the start: 8.4)."""
    size = (497, 657)
    with create_backend("tflite", str(stride_models["tflite", stride]), input_size=size) as lite, \
            create_backend("onnx", str(stride_models["onnx", stride]), input_size=size) as onx:
        ours = lite.run(network_input("couple.jpg", lite))
        theirs = onx.run(network_input("couple.jpg", onx))
    assert theirs.layout == "chw" and ours.output_stride == theirs.output_stride == stride
    for name in ("heatmaps", "offsets", "displacements_fwd", "displacements_bwd"):
        q = getattr(ours, name)
        from_lite = (q.array.astype(np.float64) - q.zero_point) * q.scale
        from_onnx = np.asarray(getattr(theirs, name), np.float64).transpose(0, 2, 3, 1)
        assert from_lite.shape == from_onnx.shape, name
        np.testing.assert_allclose(from_onnx, from_lite, atol=1e-3, err_msg=name)
