"""The bounds of every setting, at their edges, in every layer that can set it (API
argument, command-line option, environment variable, TOML file): the last value
accepted and the first refused on each side, each refusal naming the key. A bound
moved by one (``max_detections = 0`` accepted) is caught here."""
from __future__ import annotations

import math

import numpy as np
import pytest

import posefast
from posefast.cli import main
from posefast.config import DECODER_KEYS, KEYS, load_config

#: key -> (accepted values, refused values); every key of the configuration is here.
BOUNDS = {
    "backend": (["tflite", " onnx "], ["", "   "]),
    "backend_options": ([{}, {"num_threads": 2}], [[("num_threads", 2)]]),
    "model": (["a.tflite", "posenet_mobilenet_v1_075_353_481_quant"], ["", " "]),
    "input_size": ([(1, 1), (8192, 8192), (1, 8192)], [(0, 1), (1, 0), (8193, 1), (1, 8193),
                                                      (-1, 5), (1, 2, 3)]),
    "output_stride": ([8, 16, 32], [0, 4, 12, 64, 1]),
    "resize": (["stretch", "letterbox"], ["fit", "Stretch", ""]),
    "mode": (["multi", "single"], ["both", "Multi", ""]),
    "max_detections": ([1, 2, 10 ** 6], [0, -1]),
    "score_threshold": ([0.0, 1.0, 0.5, 0], [-1e-9, 1.0000001, math.nan, math.inf, -math.inf]),
    "nms_radius": ([0.0, 1e-9, 1e6], [-1e-9, math.inf, math.nan, -math.inf]),
    "refine_steps": ([0, 1000], [-1, 1001]),
}


def test_every_setting_has_its_bounds_here():
    assert set(BOUNDS) == set(KEYS)


def _cases(which):
    return [(key, value) for key, (ok, bad) in BOUNDS.items()
            for value in (ok if which == "ok" else bad)]


@pytest.mark.parametrize("key, value", _cases("ok"))
def test_the_edges_inside_are_accepted(key, value):
    config = load_config(api={key: value}, env={}, config_file=None)
    got = getattr(config.decoder if key in DECODER_KEYS else config, key)
    expected = value.strip() if isinstance(value, str) else value
    assert got == (tuple(expected) if key == "input_size" else expected)


@pytest.mark.parametrize("key, value", _cases("bad"))
def test_the_edges_outside_are_refused_naming_the_key(key, value):
    with pytest.raises(ValueError, match=rf"argument '{key}': {key}: "):
        load_config(api={key: value}, env={})


def _text(value) -> str:
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return str(value)


def _toml(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return repr(value)


NUMERIC = ["input_size", "output_stride", "max_detections", "score_threshold", "nms_radius",
           "refine_steps"]


@pytest.mark.parametrize("key, value", [(k, v) for k, v in _cases("bad") if k in NUMERIC])
def test_environment_and_file_refuse_the_same_edges(tmp_path, key, value):
    with pytest.raises(ValueError, match=f"POSEFAST_{key.upper()}"):
        load_config(env={f"POSEFAST_{key.upper()}": _text(value)})
    toml = tmp_path / "posefast.toml"
    section = "[decoder]\n" if key in DECODER_KEYS else ""
    toml.write_text(f"{section}{key} = {_toml(value)}\n")
    with pytest.raises(ValueError, match=rf"{toml}.*{key}"):
        load_config(config_file=toml, env={})


@pytest.mark.parametrize("key, value", [(k, v) for k, v in _cases("ok") if k in NUMERIC])
def test_environment_and_file_accept_the_same_edges(tmp_path, key, value):
    config = load_config(env={f"POSEFAST_{key.upper()}": _text(value)})
    got = getattr(config.decoder if key in DECODER_KEYS else config, key)
    assert got == value
    toml = tmp_path / "posefast.toml"
    section = "[decoder]\n" if key in DECODER_KEYS else ""
    toml.write_text(f"{section}{key} = {_toml(value)}\n")
    config = load_config(config_file=toml, env={})
    assert getattr(config.decoder if key in DECODER_KEYS else config, key) == value


@pytest.mark.parametrize("key, value", [(k, v) for k, v in _cases("bad")
                                        if k in NUMERIC and not isinstance(v, tuple)
                                        or k == "input_size" and len(v) == 2 and min(v) >= 0])
def test_the_command_line_refuses_the_same_edges(capsys, key, value):
    flag = "--" + key.replace("_", "-")
    try:
        status = main(["config", flag, _text(value)])
    except SystemExit as exc:  # refused by argparse's own check
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert flag in err or key in err, err


def test_the_decoder_gives_no_pose_for_max_detections_0():
    """The decoder's own bound is 0 (the configuration's, 1): 0 asks for nothing and gets
    nothing, though the tensors hold people and one pose is allocated for the walk."""
    rng = np.random.default_rng(5)
    hm = rng.normal(-1.0, 2.5, (9, 11, 17)).astype(np.float32)
    off = rng.normal(0.0, 10.0, (9, 11, 34)).astype(np.float32)
    mid = rng.normal(0.0, 20.0, (9, 11, 64)).astype(np.float32)
    args = (hm, off, mid[..., :32], mid[..., 32:], 16)
    assert posefast.decode_multiple_poses(*args, max_detections=1, score_threshold=0.1)
    assert posefast.decode_multiple_poses(*args, max_detections=0, score_threshold=0.1) == []
    assert posefast.decode_multiple_poses_batch(
        *(a[None] for a in args[:4]), 16, max_detections=0, score_threshold=0.1) == [[]]
