"""Coral's models that end in ``PosenetDecoderOp`` (issue 23): the op is cut off, its
settings become the decoder's defaults, and Edge TPU files and other custom operators
are refused. Real models from ../shared/models/coral-decoder/ on the shared images."""
from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from posefast import PoseEstimator
from posefast.backend_registry import create_backend
from posefast.config import resolve_config
from posefast.models import REGISTRY, ChecksumError, resolve_model
from posefast.models.decoder_op import (CustomOpError, EdgeTpuModelError, cut_decoder_op,
                                        find_decoder_op)
from posefast.models.derived import model_for_backend
from posefast.models.stride import UnsupportedModelError

import tiny_decoder_tflite as tiny
from conftest import IMAGES, MODEL_481, MODELS

DECODER_DIR = MODELS / "coral-decoder"
DECODER_MODELS = sorted(DECODER_DIR.glob("*_decoder.tflite")) if DECODER_DIR.is_dir() else []
#: project-posenet's decoder model: the shared 481x641 component model plus the op
SAME_WEIGHTS = DECODER_DIR / "posenet_mobilenet_v1_075_481_641_quant_decoder.tflite"
#: the op's options as Coral wrote them (read with flatc from the files), per file
OPTIONS = {
    "posenet_mobilenet_v1_075_353_481_16_quant_decoder.tflite": (20, 0.2, 16, 10.0),
    "posenet_mobilenet_v1_075_481_641_16_quant_decoder.tflite": (20, 0.2, 16, 10.0),
    "posenet_mobilenet_v1_075_721_1281_16_quant_decoder.tflite": (20, 0.2, 16, 10.0),
    "posenet_mobilenet_v1_075_481_641_quant_decoder.tflite": (10, 0.2, 16, 10.0),
}
#: Coral's own op on project-posenet's 481x641 decoder model, couple.jpg resized to 641x481
#: (nearest): pose scores and keypoints (x, y) in input pixels, rounded to 0.01, from
#: google-coral/project-posenet test_data/posenet_mobilenet_v1_075_481_641_quant_decoder_
#: reference.csv (Apache-2.0).
CORAL_OP_POSES = (
    (0.8904, (
     (272.00, 131.45), (273.80, 125.56), (265.14, 126.00), (274.60, 129.52),
     (245.97, 129.03), (280.18, 163.05), (227.81, 175.75), (293.29, 213.50),
     (217.98, 224.48), (297.52, 257.89), (208.36, 271.25), (280.85, 266.97),
     (246.77, 269.12), (278.79, 326.11), (253.18, 328.39), (265.44, 383.04),
     (255.70, 385.20),)),
    (0.7320, (
     (343.28, 141.21), (350.59, 135.58), (341.87, 135.33), (368.36, 139.65),
     (339.88, 140.82), (385.28, 173.58), (339.61, 174.35), (399.73, 212.20),
     (329.49, 217.55), (415.59, 248.82), (317.57, 251.76), (379.69, 256.94),
     (351.45, 257.32), (373.06, 314.85), (368.66, 315.36), (377.57, 372.12),
     (377.97, 372.22),)),
)
IMAGE_FILES = sorted(p for p in IMAGES.glob("*") if p.suffix in (".jpg", ".png"))

decoder_models = pytest.mark.parametrize("model", DECODER_MODELS, ids=lambda p: p.stem)


@pytest.fixture(scope="module")
def coral(shared_data):
    if not DECODER_MODELS:
        pytest.skip(f"no Coral decoder models in {DECODER_DIR}")
    return DECODER_MODELS


def _interpreter(content: bytes):
    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():  # "intended for debugging": what this is
        warnings.simplefilter("ignore", UserWarning)
        interpreter = Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    return interpreter


def _pixels(image: Path, height: int, width: int) -> np.ndarray:
    from PIL import Image

    with Image.open(image) as im:
        return np.asarray(im.convert("RGB").resize((width, height)), np.uint8)[None]


def _uncut_inner_tensors(model: Path, batch: np.ndarray) -> list[np.ndarray]:
    """The op's three inputs as the uncut model computes them: the model as it is, less
    the op's own operator entry (a stock runtime refuses to prepare it), run with every
    tensor kept, read at the op's input tensor indices of the original file."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(model.read_bytes(), 0))
    graph = m.subgraphs[0]
    [op] = [o for o in graph.operators
            if m.operatorCodes[o.opcodeIndex].customCode == b"PosenetDecoderOp"]
    inner = [int(t) for t in op.inputs]
    graph.operators = [o for o in graph.operators if o is not op]
    graph.outputs = inner  # the op's outputs no longer have a producer
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    interpreter = _interpreter(bytes(builder.Output()))
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
    return [interpreter.get_tensor(t) for t in inner]


# -- the cut -------------------------------------------------------------------------------

@decoder_models
def test_the_cut_models_outputs_are_the_uncut_models_inner_tensors(coral, model, tmp_path):
    cut = tmp_path / "cut.tflite"
    op = cut_decoder_op(model, cut)
    interpreter = _interpreter(cut.read_bytes())
    detail = interpreter.get_input_details()[0]
    _, height, width, _ = detail["shape"]
    for image in IMAGE_FILES[:2]:
        batch = _pixels(image, height, width)
        reference = _uncut_inner_tensors(model, batch)
        interpreter.set_tensor(detail["index"], batch)
        interpreter.invoke()
        outputs = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
        assert [o.shape[-1] for o in outputs] == [17, 34, 64]
        for got, want in zip(outputs, reference):
            assert got.dtype == want.dtype and np.array_equal(got, want)
    # posefast's backend on the cut model reads the same three tensors, quantised
    backend = create_backend("tflite", str(model_for_backend(model, "tflite")))
    run = backend.run(batch)
    backend.close()
    assert np.array_equal(run.heatmaps.array, reference[0])
    assert np.array_equal(run.offsets.array, reference[1])
    # the 64 mid-offset channels: forward (dy x16, dx x16), then backward
    assert np.array_equal(run.displacements_fwd.array, reference[2][..., :32])
    assert np.array_equal(run.displacements_bwd.array, reference[2][..., 32:])
    assert len(op.inputs) == 3


@decoder_models
def test_the_ops_settings_are_read_right(coral, model):
    op = find_decoder_op(model)
    assert (op.max_detections, op.score_threshold, op.stride, op.nms_radius) == \
        OPTIONS[model.name]
    config, origins = resolve_config(cli={"model": str(model)}, env={})
    max_detections, score_threshold, _, nms_radius = OPTIONS[model.name]
    assert (config.decoder.max_detections, config.decoder.score_threshold,
            config.decoder.nms_radius) == (max_detections, score_threshold, nms_radius)
    for key in ("max_detections", "score_threshold", "nms_radius"):
        assert origins[key] == f"the model's PosenetDecoderOp ({model.name})"
    assert origins["refine_steps"] == "default"
    # whatever a user sets wins, and says where it came from
    config, origins = resolve_config(cli={"model": str(model), "score_threshold": 0.45},
                                     env={"POSEFAST_MAX_DETECTIONS": "3"})
    assert config.decoder.score_threshold == 0.45 and config.decoder.max_detections == 3
    assert origins["score_threshold"] == "command-line option --score-threshold"
    assert origins["max_detections"] == "environment variable POSEFAST_MAX_DETECTIONS"
    assert config.decoder.nms_radius == nms_radius


def test_a_model_without_the_op_keeps_the_built_in_defaults(shared_data):
    assert find_decoder_op(MODEL_481) is None
    config, origins = resolve_config(cli={"model": str(MODEL_481)}, env={})
    assert config.decoder.score_threshold == 0.5 and origins["score_threshold"] == "default"


def test_poses_match_coral_ops_own(coral):
    """posefast, on the cut model, finds the poses Coral's op finds on the whole model."""
    from PIL import Image

    with Image.open(IMAGES / "couple.jpg") as im:
        image = np.asarray(im.convert("RGB").resize((641, 481), Image.NEAREST))
    with PoseEstimator(model=str(SAME_WEIGHTS)) as est:
        poses = est.estimate(image)
    assert len(poses) >= len(CORAL_OP_POSES)
    for pose, (score, points) in zip(poses, CORAL_OP_POSES):
        assert pose.score == pytest.approx(score, abs=0.002)
        distance = np.hypot(*(pose.keypoints[:, :2] - np.array(points)).T)
        assert distance.max() < 1.5 and np.median(distance) < 0.5


def test_the_component_model_with_the_same_weights_agrees(coral):
    """project-posenet's 481x641 decoder model is the shared component model plus the op,
    its last convolutions requantised to other ranges (heatmaps +-6 instead of +-10,
    short offsets +-50 px instead of +-10). Where neither range clips, the tensors agree
    to a quantisation step; the mid offsets are the same bytes; the best poses agree."""
    settings = dict(max_detections=10, score_threshold=0.2, nms_radius=10.0)
    cut = create_backend("tflite", str(model_for_backend(SAME_WEIGHTS, "tflite")))
    component = create_backend("tflite", str(MODEL_481))
    for image in IMAGE_FILES:
        batch = _pixels(image, 481, 641)
        a, b = cut.run(batch), component.run(batch)
        for name in ("heatmaps", "offsets"):
            qa, qb = getattr(a, name), getattr(b, name)
            unclipped = ((qa.array > 0) & (qa.array < 255) & (qb.array > 0) & (qb.array < 255))
            real_a = (qa.array.astype(np.float64) - qa.zero_point) * qa.scale
            real_b = (qb.array.astype(np.float64) - qb.zero_point) * qb.scale
            step = (qa.scale + qb.scale) / 2 + 1e-6
            assert unclipped.mean() > 0.05, name  # heatmaps: most logits are below -6
            assert np.abs(real_a - real_b)[unclipped].max() <= step, (image.name, name)
        assert np.array_equal(a.displacements_fwd.array, b.displacements_fwd.array)
    cut.close()
    component.close()
    with PoseEstimator(model=str(SAME_WEIGHTS)) as est_cut, \
            PoseEstimator(model=str(MODEL_481), **settings) as est_component:
        for image in IMAGE_FILES:
            best_cut, best_component = est_cut.estimate(image)[0], est_component.estimate(image)[0]
            assert best_cut.score == pytest.approx(best_component.score, abs=0.01)
            scale = max(_image_size(image)) / 641
            distance = np.hypot(*(best_cut.keypoints[:, :2] - best_component.keypoints[:, :2]).T)
            assert np.median(distance) / scale < 2.0, image.name


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


@decoder_models
def test_the_cut_is_cached_by_content(coral, model, tmp_path, monkeypatch):
    from posefast.models import sha256_of

    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(tmp_path / "cache"))
    first = model_for_backend(model, "tflite")
    assert first.name == f"{sha256_of(model)}-cut.tflite"
    assert model_for_backend(model, "tflite") == first
    assert find_decoder_op(first) is None


# -- refusals --------------------------------------------------------------------------------

def test_a_made_up_custom_op_is_refused_naming_it(tmp_path):
    model = tiny.write_model(tmp_path / "model.tflite", op="AcmePoseDecoder")
    with pytest.raises(CustomOpError, match="'AcmePoseDecoder'") as info:
        find_decoder_op(model)
    assert str(model) in str(info.value) and "PosenetDecoderOp" in str(info.value)
    with pytest.raises(CustomOpError, match="AcmePoseDecoder"):
        PoseEstimator(model=str(model))


def test_an_edge_tpu_model_is_refused_naming_the_cpu_file(tmp_path):
    model = tiny.write_model(tmp_path / "posenet_mobilenet_v1_075_481_641_quant_decoder_edgetpu"
                             ".tflite", op="edgetpu-custom-op")
    with pytest.raises(EdgeTpuModelError) as info:
        model_for_backend(model, "tflite")
    message = str(info.value)
    assert "Edge TPU" in message and "edgetpu-custom-op" in message
    assert "'posenet_mobilenet_v1_075_481_641_quant_decoder.tflite'" in message
    resnet = model.with_name("posenet_resnet_50_416_288_16_quant_edgetpu_decoder.tflite")
    model.rename(resnet)
    with pytest.raises(EdgeTpuModelError, match="posenet_resnet_50_416_288_16_quant_cpu_decoder"):
        find_decoder_op(resnet)


def test_the_command_refuses_an_edge_tpu_model_with_exit_2(tmp_path):
    model = tiny.write_model(tmp_path / "pose_edgetpu.tflite", op="edgetpu-custom-op")
    done = subprocess.run([sys.executable, "-m", "posefast", "predict", "--model", str(model),
                           str(IMAGES / "couple.jpg")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Edge TPU" in done.stderr and "'pose.tflite'" in done.stderr


# -- ResNet-like: stride 32, a 7x7 stem ------------------------------------------------------

def test_a_stride_32_decoder_model_runs_and_decodes(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(tmp_path / "cache"))
    model = tiny.write_model(tmp_path / "resnet_like_decoder.tflite")
    backend = create_backend("tflite", str(model_for_backend(model, "tflite")))
    batch = np.random.default_rng(3).uniform(-1, 1, (1, 231, 327, 3)).astype(np.float32)
    outputs = backend.run(batch)
    backend.close()
    assert outputs.output_stride == 32
    for got, want in zip((outputs.heatmaps, outputs.offsets), tiny.expected(batch)):
        assert got.shape == want.shape == (1, *tiny.grid(231, 327), want.shape[-1])
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    with PoseEstimator(model=str(model)) as est:
        assert (est.config.decoder.max_detections, est.config.decoder.score_threshold,
                est.config.decoder.nms_radius) == (5, 0.3, 15.0)
        poses = est.estimate(np.zeros((231, 327, 3), np.uint8))
        assert len(poses) <= 5


def test_output_stride_refuses_a_resnet_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(tmp_path / "cache"))
    model = tiny.write_model(tmp_path / "resnet_like_decoder.tflite")
    with pytest.raises(UnsupportedModelError) as info:
        model_for_backend(model, "tflite", output_stride=16)
    message = str(info.value)
    assert "ResNet-50" in message and "MobileNet v1" in message
    assert "posenet_resnet_50_" in message and "--output-stride" in message


# -- the registry's ResNet-50 models: git blob ids -------------------------------------------

RESNET = "posenet_resnet_50_416_288_16_quant_cpu_decoder"


def _git_blob(data: bytes) -> str:
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving the folder ``tmp_path / 'www'``."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_the_registry_has_coral_resnet_models_with_git_blob_ids():
    resnets = [info for info in REGISTRY.values() if "resnet_50" in info.name]
    assert len(resnets) == 6
    for info in resnets:
        assert info.decoder_op and len(info.git_blob) == 40 and info.sha256 is None
        assert "37cfb84e" in info.url and info.url.endswith("/models/resnet/" + info.filename)
    assert REGISTRY[RESNET].git_blob == "9c8a29f436450bcb090a2a3e885be1fc324fe431"
    assert "input 288x416, stride 16" in REGISTRY[RESNET].description


def test_a_download_is_verified_by_its_git_blob_id(server, tmp_path, monkeypatch):
    root, url = server
    monkeypatch.setenv("POSEFAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("POSEFAST_MODEL_PATH", str(tmp_path / "none"))
    monkeypatch.delenv("POSEFAST_ALLOW_UNVERIFIED", raising=False)
    info = REGISTRY[RESNET]
    made = tiny.write_model(root / info.filename).read_bytes()
    # the registry's real id, and a file that is not Coral's: refused, nothing kept
    monkeypatch.setitem(REGISTRY, RESNET, replace(info, url=url + info.filename))
    with pytest.raises(ChecksumError, match=f"git blob id {_git_blob(made)} is not the "
                                            f"expected {info.git_blob}"):
        resolve_model(RESNET)
    assert not list((tmp_path / "cache").glob("*.tflite"))
    # an entry whose id is the served file's: downloaded, then found in the cache
    monkeypatch.setitem(REGISTRY, RESNET, replace(info, url=url + info.filename,
                                                  git_blob=_git_blob(made)))
    path = resolve_model(RESNET)
    assert path == tmp_path / "cache" / info.filename and path.read_bytes() == made
    (root / info.filename).unlink()
    assert resolve_model(RESNET) == path
    # its op's settings are the defaults of a configuration naming it
    config, origins = resolve_config(cli={"model": RESNET}, env={})
    assert config.decoder.max_detections == 5 and "PosenetDecoderOp" in origins["max_detections"]


# -- the command line, every backend here ---------------------------------------------------

def _run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "posefast", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def _records(out: Path) -> list[dict]:
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len(IMAGE_FILES) and not any(r.get("error") for r in lines)
    return lines


def _people(out: Path) -> int:
    return sum(len(r["poses"]) for r in _records(out))


@decoder_models
def test_posefast_run_takes_each_decoder_model(coral, model, tmp_path):
    out = tmp_path / "poses.jsonl"
    done = _run("run", IMAGES, "--model", model, "-o", out, "--workers", 1)
    assert done.returncode == 0, done.stderr
    assert _people(out) >= 7


@decoder_models
def test_posefast_run_on_onnx_finds_the_people_tflite_finds(coral, model, tmp_path):
    """Through the ONNX conversion of the cut model (the test-data files, int8 per
    channel, are made float first): the same people, scores within 0.07."""
    tflite_out, onnx_out = tmp_path / "tflite.jsonl", tmp_path / "onnx.jsonl"
    for backend, out in (("tflite", tflite_out), ("onnx", onnx_out)):
        done = _run("run", IMAGES, "--model", model, "--backend", backend, "-o", out,
                    "--workers", 1)
        assert done.returncode == 0, done.stderr
    assert _people(tflite_out) == _people(onnx_out) >= 7
    for a, b in zip(*(_records(out) for out in (tflite_out, onnx_out))):
        assert [p["score"] for p in a["poses"]] == pytest.approx(
            [p["score"] for p in b["poses"]], abs=0.07), a["source"]


def test_posefast_run_on_the_gpu_backends_cpu_fallback(coral, tmp_path):
    out = tmp_path / "gpu.jsonl"
    done = _run("run", IMAGES, "--model", SAME_WEIGHTS, "--backend", "tflite-gpu",
                "--backend-option", "fallback=cpu", "-o", out)
    assert done.returncode == 0, done.stderr
    assert _people(out) >= 7


def test_a_per_channel_model_made_float_computes_what_it_approximates(coral, tmp_path):
    """The float copy tflite2onnx is given for Coral's int8 test-data models computes
    what the int8 network approximates: where the int8 output is not clipped, half its
    values within 1.5 quantisation steps of the float ones and 99 % within 10 (the int8
    network's own rounding; a wrong zero point or channel axis is off by hundreds)."""
    from posefast.models.dequantize import dequantize_tflite, per_channel_tensor

    model = DECODER_DIR / "posenet_mobilenet_v1_075_481_641_16_quant_decoder.tflite"
    cut, flt = tmp_path / "cut.tflite", tmp_path / "float.tflite"
    cut_decoder_op(model, cut)
    assert per_channel_tensor(cut)
    dequantize_tflite(cut, flt)
    assert not per_channel_tensor(flt)
    quantised, floats = (create_backend("tflite", str(p)) for p in (cut, flt))
    batch = _pixels(IMAGES / "couple.jpg", 481, 641)
    a = quantised.run(batch)
    b = floats.run((batch.astype(np.float32) - 128) / 128)  # the input's quantisation
    quantised.close()
    floats.close()
    for name in ("heatmaps", "offsets", "displacements_fwd", "displacements_bwd"):
        q = getattr(a, name)
        real = (q.array.astype(np.float64) - q.zero_point) * q.scale
        error = np.abs(real - np.asarray(getattr(b, name), np.float64)) / q.scale
        error = error[(q.array > 0) & (q.array < 255)]
        assert np.median(error) < 1.5 and np.percentile(error, 99) < 10, name


def test_convert_writes_the_cut_graph(coral, tmp_path):
    import onnx

    target = tmp_path / "cut.onnx"
    done = _run("convert", SAME_WEIGHTS, target)
    assert done.returncode == 0, done.stderr
    graph = onnx.load(str(target)).graph
    assert len(graph.output) == 3
    assert not [n for n in graph.node if "Posenet" in n.op_type]
    # the op's settings travel in the metadata, and stay the decoder's defaults
    config, origins = resolve_config(cli={"model": str(target)}, env={})
    assert (config.backend, config.decoder.max_detections, config.decoder.score_threshold,
            config.decoder.nms_radius) == ("onnx", 10, 0.2, 10.0)
    assert origins["max_detections"] == "the model's PosenetDecoderOp (cut.onnx)"
    with PoseEstimator(model=str(target)) as onnx_est, \
            PoseEstimator(model=str(SAME_WEIGHTS)) as tflite_est:
        image = IMAGES / "couple.jpg"
        a, b = onnx_est.estimate(image), tflite_est.estimate(image)
        assert len(a) == len(b) >= 2
        for p, q in zip(a, b):
            assert p.score == pytest.approx(q.score, abs=0.02)


def test_models_and_config_show_the_ops_settings(coral, tmp_path):
    listed = {r["name"]: r for r in json.loads(_run("models", "--json").stdout)}
    assert listed[RESNET]["git_blob"] == REGISTRY[RESNET].git_blob
    assert listed[RESNET]["decoder_op"] == {}  # not here: read once downloaded
    assert listed["posenet_mobilenet_v1_075_481_641_quant"]["decoder_op"] is None
    shown = json.loads(_run("config", "--json", "--model", SAME_WEIGHTS).stdout)["settings"]
    assert shown["max_detections"] == {
        "value": 10, "from": f"the model's PosenetDecoderOp ({SAME_WEIGHTS.name})"}
    assert shown["refine_steps"]["from"] == "default"
    text = _run("config", "--model", SAME_WEIGHTS, "--score-threshold", "0.6").stdout
    assert "command-line option --score-threshold" in text and "the model's Posenet" in text


def test_a_per_channel_models_onnx_takes_other_sizes_as_tflite_does(coral, tmp_path):
    """The int8 test-data graphs pad explicitly (PAD, then the convolution): their ONNX
    keeps that Pad, whose amounts do not depend on the size, and is made dynamic; at
    other sizes it computes what the float TF Lite copy resized to them computes."""
    from posefast.models.dequantize import dequantize_tflite

    model = DECODER_DIR / "posenet_mobilenet_v1_075_353_481_16_quant_decoder.tflite"
    target, cut, flt = tmp_path / "m.onnx", tmp_path / "cut.tflite", tmp_path / "f.tflite"
    done = _run("convert", model, target)
    assert done.returncode == 0 and "(any input size)" in done.stdout, done.stderr
    cut_decoder_op(model, cut)
    dequantize_tflite(cut, flt)
    for size in ((353, 481), (257, 353)):
        tflite, onnx = (create_backend(name, str(p), input_size=size)
                        for name, p in (("tflite", flt), ("onnx", target)))
        pixels = np.random.default_rng(size[0]).integers(0, 256, (1, *size, 3))
        spec = onnx.input_spec
        a = tflite.run(((pixels - 128) / 128).astype(np.float32))
        b = onnx.run((pixels * spec.scale + spec.offset).astype(spec.dtype))
        for name in ("heatmaps", "offsets", "displacements_fwd"):
            np.testing.assert_allclose(np.asarray(getattr(b, name)).transpose(0, 2, 3, 1),
                                       getattr(a, name), atol=1e-3)
        tflite.close()
        onnx.close()


def test_a_size_an_int8_files_padding_cannot_take_is_an_error_not_a_traceback(coral):
    """Their explicit padding gives 240 rows a grid of 16 cells, which stride 16 does not
    allow: predict reports it as run does, per image."""
    model = DECODER_DIR / "posenet_mobilenet_v1_075_353_481_16_quant_decoder.tflite"
    done = _run("predict", "--model", model, "--input-size", "240x320", IMAGES / "couple.jpg")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "inference failed: an output grid of 16x21 cells does not fit input 240x320" \
        in done.stderr


def test_without_the_tflite_schema_only_coral_files_need_it(coral, monkeypatch):
    """`--backend onnx` converts a plain TF Lite model without ai-edge-litert installed;
    looking for the op must not make that need it."""
    import posefast.models.decoder_op as decoder_op

    def missing():
        raise ImportError("reading a TF Lite model's operators needs ai-edge-litert")

    monkeypatch.setattr(decoder_op, "_schema", missing)
    assert find_decoder_op(MODEL_481) is None
    with pytest.raises(ImportError, match="ai-edge-litert"):
        find_decoder_op(SAME_WEIGHTS)


def test_a_cut_model_and_its_stride_rewrite_keep_the_ops_settings(coral, tmp_path):
    from posefast.models.decoder_op import decoder_settings

    cut, stride8 = tmp_path / "cut.tflite", tmp_path / "s8.tflite"
    cut_decoder_op(SAME_WEIGHTS, cut)
    want = {"max_detections": 10, "score_threshold": 0.2, "stride": 16, "nms_radius": 10.0}
    assert find_decoder_op(cut) is None and decoder_settings(cut) == want
    done = _run("convert", SAME_WEIGHTS, stride8, "--output-stride", "8")
    assert done.returncode == 0, done.stderr
    assert decoder_settings(stride8) == want
    config, origins = resolve_config(cli={"model": str(stride8)}, env={})
    assert config.decoder.max_detections == 10 and "PosenetDecoderOp" in origins["nms_radius"]
    assert decoder_settings(MODEL_481) is None
