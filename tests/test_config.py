"""Configuration layers: API > CLI > environment > TOML file > defaults, and the errors
that name the key and where it came from."""
from __future__ import annotations

import pytest

from posefast.config import Config, load_config

TOML = """\
backend = "onnx"
model = "from-file.tflite"
input_size = [353, 481]
resize = "letterbox"

[decoder]
mode = "single"
max_detections = 3
score_threshold = 0.25
nms_radius = 12.5
refine_steps = 2

[backend_options]
num_threads = 1
providers = "cpu"
"""


def write(tmp_path, text, name="posefast.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_without_any_layer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(env={}) == Config()


def test_toml_file_sets_every_key(tmp_path):
    c = load_config(config_file=write(tmp_path, TOML), env={})
    assert (c.backend, c.model, c.input_size, c.resize) == (
        "onnx", str(tmp_path / "from-file.tflite"), (353, 481), "letterbox")  # relative to the file
    assert (c.decoder.mode, c.decoder.max_detections, c.decoder.score_threshold,
            c.decoder.nms_radius, c.decoder.refine_steps) == ("single", 3, 0.25, 12.5, 2)
    assert c.backend_options == {"num_threads": 1, "providers": "cpu"}


def test_layers_in_order_and_backend_options_merged_per_key(tmp_path):
    path = write(tmp_path, TOML)
    env = {"POSEFAST_BACKEND": "tflite", "POSEFAST_MAX_DETECTIONS": "4",
           "POSEFAST_INPUT_SIZE": "257x257", "POSEFAST_BACKEND_OPTIONS": '{"num_threads": 2}'}
    c = load_config(config_file=path, env=env)
    assert (c.backend, c.decoder.max_detections, c.input_size) == ("tflite", 4, (257, 257))
    assert c.backend_options == {"num_threads": 2, "providers": "cpu"}
    c = load_config(cli={"backend": "onnx", "max_detections": 5, "mode": None,
                         "backend_options": {"providers": "cuda"}},
                    config_file=path, env=env)
    assert (c.backend, c.decoder.max_detections, c.decoder.mode) == ("onnx", 5, "single")
    assert c.backend_options == {"num_threads": 2, "providers": "cuda"}
    c = load_config(api={"max_detections": 6, "backend": None}, cli={"max_detections": 5},
                    config_file=path, env=env)
    assert (c.backend, c.decoder.max_detections) == ("tflite", 6)


def test_file_found_through_env_or_working_directory(tmp_path, monkeypatch):
    path = write(tmp_path, 'backend = "from-env-file"\n', "other.toml")
    assert load_config(env={"POSEFAST_CONFIG": str(path)}).backend == "from-env-file"
    monkeypatch.chdir(tmp_path)
    write(tmp_path, 'backend = "from-cwd"\n')
    assert load_config(env={}).backend == "from-cwd"
    # an explicit file wins over ./posefast.toml
    assert load_config(config_file=path, env={}).backend == "from-env-file"


@pytest.mark.parametrize("text, error, words", [
    ('backend = "x"\ncolour = "red"\n', ValueError, ["unknown configuration key 'colour'"]),
    ('[decoder]\nradius = 3\n', ValueError, ["unknown key 'radius' in [decoder]"]),
    ('[decoder]\nmax_detections = "ten"\n', TypeError, ["max_detections", "whole number"]),
    ('[decoder]\nscore_threshold = 1.5\n', ValueError, ["score_threshold", "[0, 1]"]),
    ('[decoder]\nmax_detections = true\n', TypeError, ["max_detections"]),
    ('input_size = [0, 10]\n', ValueError, ["input_size"]),
    ('input_size = "big"\n', ValueError, ["input_size", "HEIGHTxWIDTH"]),
    ('resize = "crop"\n', ValueError, ["resize", "'stretch', 'letterbox'"]),
    ('backend_options = 3\n', TypeError, ["backend_options"]),
    ('backend = \n', ValueError, ["not valid TOML"]),
    ('max_detections = 2\n[decoder]\nmax_detections = 3\n', ValueError, ["both"]),
])
def test_file_errors_name_the_file_and_the_key(tmp_path, text, error, words):
    path = write(tmp_path, text, "bad.toml")
    with pytest.raises(error) as info:
        load_config(config_file=path, env={})
    message = str(info.value)
    assert str(path) in message
    for w in words:
        assert w in message


@pytest.mark.parametrize("env, words", [
    ({"POSEFAST_MAX_DETECTIONS": "many"}, ["POSEFAST_MAX_DETECTIONS", "whole number"]),
    ({"POSEFAST_NMS_RADIUS": "-1"}, ["POSEFAST_NMS_RADIUS", "nms_radius"]),
    ({"POSEFAST_MODE": "both"}, ["POSEFAST_MODE", "'multi', 'single'"]),
    ({"POSEFAST_BACKEND_OPTIONS": "threads=2"}, ["POSEFAST_BACKEND_OPTIONS", "JSON object"]),
    ({"POSEFAST_BACKEND_OPTIONS": "[1, 2]"}, ["POSEFAST_BACKEND_OPTIONS", "mapping"]),
])
def test_environment_errors_name_the_variable(env, words):
    with pytest.raises((ValueError, TypeError)) as info:
        load_config(env=env)
    for w in words:
        assert w in str(info.value)


def test_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="argument 'colour': unknown configuration key"):
        load_config(api={"colour": "red"}, env={})
    with pytest.raises(ValueError, match="command-line option --refine-steps: refine_steps"):
        load_config(cli={"refine_steps": -1}, env={})
    with pytest.raises(TypeError, match="argument 'score_threshold'"):
        load_config(api={"score_threshold": "high"}, env={})


def test_missing_named_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.toml"):
        load_config(config_file=tmp_path / "nothing.toml", env={})
    with pytest.raises(FileNotFoundError, match="gone.toml'.*POSEFAST_CONFIG.* not found"):
        load_config(env={"POSEFAST_CONFIG": str(tmp_path / "gone.toml")})
    with pytest.raises(FileNotFoundError, match="POSEFAST_CONFIG.* is a folder"):
        load_config(env={"POSEFAST_CONFIG": str(tmp_path)})


def test_the_command_names_posefast_config_for_its_missing_file(tmp_path, monkeypatch, capsys):
    """A user who set POSEFAST_CONFIG long ago must learn where the file name comes from."""
    from posefast.cli import main

    monkeypatch.setenv("POSEFAST_CONFIG", str(tmp_path / "gone.toml"))
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8")
    for command in (["config"], ["predict", str(tmp_path / "a.jpg")], ["run", str(tmp_path)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "gone.toml" in err and "environment variable POSEFAST_CONFIG" in err, command


def test_estimator_takes_the_same_configuration(shared_data, tmp_path, monkeypatch):
    from posefast import PoseEstimator
    from conftest import IMAGES, MODEL_353

    monkeypatch.chdir(tmp_path)
    write(tmp_path, f'model = "{MODEL_353}"\ninput_size = "257x353"\n[decoder]\nmode = "single"\n')
    monkeypatch.setenv("POSEFAST_BACKEND_OPTIONS", '{"num_threads": 1}')
    with PoseEstimator(score_threshold=0.3) as est:
        assert (est.input_spec.height, est.input_spec.width) == (257, 353)
        assert est.config.decoder.mode == "single" and est.config.decoder.score_threshold == 0.3
        assert est.config.backend_options == {"num_threads": 1}
        assert len(est.estimate(IMAGES / "standing.png")) == 1


def test_a_named_file_that_is_a_folder_or_not_text_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="is a folder"):
        load_config(config_file=tmp_path, env={})
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'backend = "caf\xe9"\n')
    with pytest.raises(ValueError, match=r"latin.toml: not valid TOML: not UTF-8 text"):
        load_config(config_file=latin, env={})
