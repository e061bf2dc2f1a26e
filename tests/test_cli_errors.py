"""Every mistake a user can make gets a message naming where the bad value came from
(the option, variable, file or key) and an exit status, never a traceback."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES, MODEL_353, MODEL_721
from test_cli import FAST, posefast

IMG = str(IMAGES / "standing.png")


def _refused(r, *fragments):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, (fragment, r.stderr)


@pytest.mark.parametrize("command", ["predict", "run"])
@pytest.mark.parametrize("args, fragments", [
    (["--backend-option", "num_thread=2"], ["no option 'num_thread'", "--backend-option",
                                            "num_threads"]),
    (["--backend-option", "num_threads=two"], ["num_threads", "--backend-option", "'two'"]),
    (["--backend-option", "num_threads=-1"], ["num_threads", "--backend-option", "-1"]),
    # (XNNPACK's thread pool crashed the process at this many)
    (["--backend-option", "num_threads=100000"], ["num_threads", "--backend-option",
                                                  "from 1 to 1024"]),
    (["--input-size", "100000x100000"], ["--input-size", "at most 8192x8192"]),
    (["--model", str(IMAGES / "couple.jpg")], ["couple.jpg", "--model", "TF Lite model"]),
    (["--nms-radius", "1e400"], ["--nms-radius", "finite"]),
    (["--nms-radius", "inf"], ["--nms-radius", "finite"]),
])
def test_bad_options_name_themselves(pipeline, tmp_path, command, args, fragments):
    out = ["--output", str(tmp_path / "o.jsonl")] if command == "run" else []
    r = posefast(command, IMG, "--model", MODEL_353, *args, *out, cwd=tmp_path)
    _refused(r, *fragments)


def test_bad_values_from_files_and_variables_name_them(pipeline, tmp_path):
    toml = tmp_path / "posefast.toml"
    toml.write_text("[backend_options]\nnum_thread = 2\n")
    _refused(posefast("predict", IMG, cwd=tmp_path), "no option 'num_thread'", "posefast.toml")
    toml.write_text("[Decoder]\nmode = 'single'\n")
    _refused(posefast("predict", IMG, cwd=tmp_path), "'Decoder'", "did you mean 'decoder'")
    toml.unlink()
    env = dict(os.environ)
    for var, value, fragments in (
            ("POSEFAST_BACKEND", "nope", ["'nope'", "POSEFAST_BACKEND"]),
            ("POSEFAST_MODEL", "nope", ["'nope'", "POSEFAST_MODEL"]),
            ("POSEFAST_MODEL", str(IMAGES / "couple.jpg"), ["POSEFAST_MODEL", "TF Lite"]),
            ("POSEFAST_BACKEND_OPTIONS", "[" * 20000 + "]" * 20000,
             ["POSEFAST_BACKEND_OPTIONS", "JSON object"]),
            ("POSEFAST_BACKEND_OPTIONS", '{"num_threads": "two"}',
             ["POSEFAST_BACKEND_OPTIONS", "num_threads"])):
        r = subprocess.run([sys.executable, "-m", "posefast", "predict", IMG],
                           env={**env, var: value}, capture_output=True, text=True, cwd=tmp_path,
                           timeout=120)
        _refused(r, *fragments)


def test_render_problems_are_found_before_any_work(pipeline, tmp_path):
    _refused(posefast("predict", IMG, *FAST, "--render-threshold", "5"), "--render-threshold")
    _refused(posefast("predict", IMG, *FAST, "--render", tmp_path / "missing" / "o.png"),
             "--render", "no folder")
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        _refused(posefast("predict", IMG, *FAST, "--render", ro / "o.png"), "not writable")


def test_ctrl_c_during_predict_is_exit_130_without_traceback(pipeline, tmp_path):
    for i in range(40):
        shutil.copy(IMAGES / "couple.jpg", tmp_path / f"{i}.jpg")
    job = subprocess.Popen([sys.executable, "-m", "posefast", "predict",
                            *sorted(map(str, tmp_path.glob("*.jpg"))), "--model", str(MODEL_721)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    if job.poll() is not None:
        pytest.skip("predict ended before it could be interrupted")
    job.send_signal(signal.SIGINT)
    assert job.wait(timeout=60) == 130
    err = job.stderr.read()
    assert "interrupted" in err and "Traceback" not in err


def _tiny_onnx_posenet(path, integer_outputs=False):
    """A PoseNet-shaped ONNX model (zero weights, 33x33 input, stride 16); with
    ``integer_outputs`` its three outputs are int32 tensors instead of float."""
    pytest.importorskip("onnx")
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out_type = TensorProto.INT32 if integer_outputs else TensorProto.FLOAT
    nodes, inits, outs = [], [], []
    for name, channels in (("heatmaps", 17), ("offsets", 34), ("mid_offsets", 64)):
        inits.append(numpy_helper.from_array(np.zeros((channels, 3, 1, 1), np.float32), f"w_{name}"))
        conv = f"f_{name}" if integer_outputs else name
        nodes.append(helper.make_node("Conv", ["image", f"w_{name}"], [conv], strides=[16, 16]))
        if integer_outputs:
            nodes.append(helper.make_node("Cast", [conv], [name], to=out_type))
        outs.append(helper.make_tensor_value_info(name, out_type, [1, channels, 3, 3]))
    graph = helper.make_graph(nodes, "int_posenet" if integer_outputs else "tiny_posenet",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                             [1, 3, 33, 33])], outs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def test_an_onnx_model_with_integer_outputs_is_refused(pipeline, tmp_path):
    pytest.importorskip("onnxruntime")
    model = tmp_path / "int.onnx"
    _tiny_onnx_posenet(model, integer_outputs=True)
    r = posefast("predict", IMG, "--backend", "onnx", "--model", model)
    _refused(r, "int.onnx", "tensor(int32)", "float")


def test_onnx_providers_fall_back_in_the_order_given(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA is here: nothing to fall back from")
    pytest.importorskip("onnx")
    from posefast.backend_registry import create_backend

    model = tmp_path / "tiny.onnx"
    _tiny_onnx_posenet(model)
    with create_backend("onnx", str(model), providers="cuda,cpu") as backend:
        assert backend.providers() == ["CPUExecutionProvider"]
        assert backend.skipped_providers == ["CUDAExecutionProvider"]
    with pytest.raises(ValueError, match="CUDAExecutionProvider is not available"):
        create_backend("onnx", str(model), providers="cuda")


def test_the_runtimes_log_lines_stay_off_stderr_unless_verbose(pipeline, tmp_path):
    out = tmp_path / "o.jsonl"
    r = posefast("run", IMG, IMAGES / "sitting.png", "--workers", 2, "--output", out, *FAST)
    assert r.returncode == 0, r.stderr
    assert "INFO:" not in r.stderr and "XNNPACK" not in r.stderr
    r = posefast("predict", IMG, *FAST)
    assert r.returncode == 0 and r.stderr == ""
    r = posefast("predict", IMG, *FAST, "--verbose")
    assert r.returncode == 0 and "XNNPACK" in r.stderr
    # the job's processes come from a fork server started before --verbose was read:
    # each of the two inference processes says it too, besides the command's check
    r = posefast("run", IMG, IMAGES / "sitting.png", "--workers", 2, "--output", out,
                 "--overwrite", "--verbose", *FAST)
    assert r.returncode == 0 and r.stderr.count("XNNPACK delegate") == 3, r.stderr
    # LiteRT's CompiledModel logs when created, on its first run and when torn down
    gpu = ["--backend", "tflite-gpu", "--backend-option", "fallback=cpu"]
    r = posefast("predict", IMG, *FAST, *gpu)
    assert r.returncode == 0, r.stderr
    for noise in ("INFO:", "WARNING: [", "\u2514", "Could not load shared library"):
        assert noise not in r.stderr, r.stderr
    r = posefast("run", IMG, "--workers", 1, "--output", tmp_path / "g.jsonl", *FAST, *gpu)
    assert r.returncode == 0, r.stderr
    assert "Creating LiteRT" not in r.stderr and "registered" not in r.stderr, r.stderr


@pytest.mark.parametrize("option, value", [("-j", "99999999999999999999"),
                                           ("--preparers", "5000"),
                                           ("--batch-size", "4000000000000")])
def test_process_and_batch_counts_beyond_reason_are_refused(pipeline, tmp_path, option, value):
    """They used to end in a traceback (an integer too large for the shared memory's
    size) or in starting processes for minutes, one per count."""
    r = posefast("run", IMG, "--model", MODEL_353, option, value, "--output",
                 str(tmp_path / "o.jsonl"), cwd=tmp_path)
    _refused(r, "from 1 to 1024", value)
    assert not (tmp_path / "o.jsonl").exists()


def test_a_ctrl_c_python_dropped_still_stops_the_job_without_a_traceback(monkeypatch, capsys):
    """A KeyboardInterrupt raised inside one of Python's own callbacks (the import
    system's, while the job starts) was printed as "Exception ignored ... Traceback"
    and dropped: the job ran to its end. The command counts every Ctrl-C, keeps such
    a one off stderr, and stops at the next record."""
    import posefast.cli as cli
    from posefast.cli.run import _heeding_ctrl_c

    class Dropping:  # raises where Python can only report it ("Exception ignored")
        def __init__(self, exc):
            self.exc = exc

        def __del__(self):
            raise self.exc

    monkeypatch.setattr(sys, "unraisablehook", cli._unraisable)
    Dropping(KeyboardInterrupt())
    assert capsys.readouterr().err == ""
    Dropping(ValueError("kept"))
    assert "ValueError: kept" in capsys.readouterr().err

    seen = []
    update = _heeding_ctrl_c(seen.append)
    update("first")
    monkeypatch.setattr(cli, "_sigints", 1)
    with pytest.raises(KeyboardInterrupt):
        update("second")
    assert seen == ["first", "second"]


def test_ctrl_c_while_the_job_starts_prints_no_traceback(pipeline, tmp_path):
    """Ctrl-C reaches the whole process group: the fork server, importing its modules,
    and the processes it forks used to print KeyboardInterrupt (or, attaching to the
    shared memory the main process had already freed, FileNotFoundError) tracebacks
    about one time in three. Sent at moments spread over the processes' start, which
    follows the line that says what the job will run."""
    # enough images that the job outlasts the last delay on an idle machine (30 took
    # 0.6-2 s on 2 cores, and the job then ended before the signal came)
    for i in range(120):
        shutil.copy(IMAGES / "couple.jpg", tmp_path / f"{i}.jpg")
    for delay in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6):
        job = subprocess.Popen([sys.executable, "-m", "posefast", "run", str(tmp_path),
                                "--model", str(MODEL_353), "--output",
                                str(tmp_path / f"o{delay}.jsonl")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
        first = job.stderr.readline()
        assert "inference process" in first, first
        time.sleep(delay)
        os.killpg(job.pid, signal.SIGINT)
        status = job.wait(timeout=60)
        err = first + job.stderr.read()
        assert "Traceback" not in err and "Exception ignored" not in err, (delay, err)
        assert status == 130, (delay, status, err)
