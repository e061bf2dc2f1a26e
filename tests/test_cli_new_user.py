"""What a new user hit (issue 24): commands that point at the right command, typos that
get a suggestion under the right usage, refusals before anything is printed, and
listings that say what is true."""
from __future__ import annotations

import pytest

from posefast.cli import main

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES, MODEL_353, MODEL_481
from test_cli import FAST, posefast


def _usage_error(capsys, argv, command="posefast"):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: {command} "), err
    assert "Traceback" not in err
    return err


def test_predict_points_a_folder_or_a_pattern_at_run(capsys, tmp_path):
    assert main(["predict", str(IMAGES)]) == 2
    err = capsys.readouterr().err
    assert f"{IMAGES} is a folder" in err and f"`posefast run {IMAGES}`" in err
    pattern = str(tmp_path / "*.jpg")
    assert main(["predict", pattern]) == 2
    err = capsys.readouterr().err
    assert "is a pattern, not a file" in err and f"`posefast run '{pattern}'`" in err
    assert main(["predict", str(IMAGES / "*.png")]) == 2  # one that matches, unexpanded
    assert "posefast run" in capsys.readouterr().err


@pytest.mark.parametrize("inputs", [["empty"], ["empty", "@blank.txt"], ["only-text"],
                                    ["empty/*"]])
def test_run_with_nothing_to_pose_says_so_and_fails(capsys, tmp_path, monkeypatch, inputs):
    """An empty folder 'succeeded' with "done 0" and exit 0: the user learned nothing."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "only-text").mkdir()
    (tmp_path / "only-text" / "notes.txt").write_text("no pictures here\n")
    (tmp_path / "blank.txt").write_text("\n# nothing\n\n")
    assert main(["run", *inputs, "--output", "poses.jsonl"]) == 1
    err = capsys.readouterr().err
    assert "nothing to pose: no image or video file in" in err
    assert repr(inputs[0]) in err
    assert "done 0" not in err
    assert not (tmp_path / "poses.jsonl").exists()


@pytest.mark.parametrize("argv, command, hint", [
    (["run", "x.jpg", "--outptu", "o.jsonl"], "posefast run", "--outptu: did you mean --output?"),
    (["run", "x.jpg", "--scoer-threshold=0.3"], "posefast run",
     "--scoer-threshold: did you mean --score-threshold?"),
    (["predict", "x.jpg", "--workers", "2"], "posefast predict",
     "--workers is an option of posefast run"),
    (["config", "--mdoe", "single"], "posefast config", "--mdoe: did you mean --mode?"),
    (["run", "x.jpg", "--format", "jsnl"], "posefast run", "did you mean 'jsonl'?"),
    (["rnu", "x.jpg"], "posefast", "did you mean 'run'?"),
])
def test_typos_get_a_suggestion_under_the_commands_own_usage(capsys, argv, command, hint):
    err = _usage_error(capsys, argv, command)
    assert f"{command}: error: " in err and hint in err, err


def test_an_unknown_option_with_nothing_close_is_still_named(capsys):
    err = _usage_error(capsys, ["run", "x.jpg", "--zzzzzz"], "posefast run")
    assert err.rstrip().endswith("unrecognized arguments: --zzzzzz")


def test_run_refuses_an_output_with_records_before_printing_its_plan(pipeline, tmp_path):
    out = tmp_path / "poses.jsonl"
    out.write_text('{"source": "a.jpg"}\n')
    r = posefast("run", IMAGES / "standing.png", "--output", out, *FAST)
    assert r.returncode == 2
    assert "already holds records" in r.stderr
    assert "inference process" not in r.stderr, r.stderr  # no plan for a job that won't run
    assert out.read_text() == '{"source": "a.jpg"}\n'


def test_the_summary_names_the_backend_and_the_model(pipeline, tmp_path):
    r = posefast("run", IMAGES / "standing.png", "--output", tmp_path / "p.jsonl", *FAST)
    assert r.returncode == 0, r.stderr
    summary = [line for line in r.stderr.splitlines() if "done 1," in line]
    assert len(summary) == 1
    assert summary[0].endswith(f"; backend tflite, model {MODEL_353}")


@pytest.mark.parametrize("model, size", [(MODEL_481, "481x641"), (MODEL_353, "353x481")])
def test_config_shows_the_models_own_input_size_and_stride(capsys, model, size):
    import json

    assert main(["config", "--model", str(model)]) == 0
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in
            capsys.readouterr().out.splitlines() if not line.startswith("#")}
    assert rows["input_size"] == [size, "the model's own (default)"]
    assert rows["output_stride"] == ["16", "the model's own (default)"]
    assert main(["config", "--model", str(model), "--output-stride", "8", "--json"]) == 0
    settings = json.loads(capsys.readouterr().out)["settings"]
    assert settings["input_size"]["value"] is None
    assert settings["input_size"]["model_value"] == [int(v) for v in size.split("x")]
    assert settings["output_stride"] == {"value": 8, "from": "command-line option --output-stride"}


def test_config_without_the_model_says_why_it_cannot_show_its_own_values(capsys, tmp_path):
    assert main(["config", "--model", str(tmp_path / "gone.tflite")]) == 0
    out = capsys.readouterr().out
    assert "(the model's)" in out
    assert "cannot be read here" in out and "gone.tflite" in out


def test_the_package_namespace_holds_only_its_api():
    import posefast

    public = [n for n in dir(posefast) if not n.startswith("_")]
    assert sorted(public) == sorted(posefast.__all__)
    for leaked in ("Any", "TYPE_CHECKING", "annotations", "importlib"):
        assert not hasattr(posefast, leaked), leaked
    assert posefast.PoseEstimator.__name__ == "PoseEstimator"  # still imported on first use


def test_top_level_help_lists_every_output_format_of_run(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    run_line = text[text.index(" run "):text.index(" backends ")]
    for name in ("JSON Lines", "COCO", "Parquet"):
        assert name in run_line, run_line
