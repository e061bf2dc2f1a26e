"""The ``posefast`` command: predict and run, end to end, as users run them."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from posefast.cli import build_parser

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES, MODEL_353, MODEL_481, stderr_on_a_terminal
from test_inputs import make_video

FRAMES = ["kneeling.png", "sitting.png", "standing.png", "standing_doorway.png", "standing_far.png"]
# The small model at a small input: fast, for tests about the job rather than the poses.
FAST = ["--model", str(MODEL_353), "--input-size", "177x241"]


def posefast(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "posefast", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def start(*args, cwd=None):
    return subprocess.Popen([sys.executable, "-m", "posefast", *map(str, args)], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def records(path):
    """The records of a JSON Lines output (every line is one), after checking the
    settings file beside it."""
    from posefast.job.settings_file import read_settings

    lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert all("source" in line and "posefast" not in line for line in lines)
    assert "settings" in read_settings(str(path))["posefast"]
    return lines


def wait_for_lines(path, n, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the job ended before it could be interrupted: {proc.stderr.read()}")
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.05)
    pytest.fail("the job wrote too little")


# -- predict -----------------------------------------------------------------------

def test_predict_prints_one_record_per_image_and_renders(pipeline, tmp_path):
    out = tmp_path / "drawn.png"
    r = posefast("predict", IMAGES / "couple.jpg", IMAGES / "no_person.jpg", IMAGES / "standing.png",
                 "--model", MODEL_481, "--render", out)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert [len(rec["poses"]) for rec in got] == [2, 0, 1]
    assert got[0]["source"] == str(IMAGES / "couple.jpg") and got[0]["frame"] is None
    assert (got[0]["width"], got[0]["height"]) == (1920, 1278)
    assert all(rec["error"] is None for rec in got)
    # one drawing per image, each the size of its image
    for i, name in enumerate(["couple.jpg", "no_person.jpg", "standing.png"]):
        drawn = tmp_path / f"drawn-{i}.png"
        assert Image.open(drawn).size == Image.open(IMAGES / name).size
    assert Image.open(tmp_path / "drawn-0.png").format == "PNG"


def test_predict_marks_bad_files_and_exits_1(pipeline, tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    out = tmp_path / "poses.json"
    r = posefast("predict", empty, IMAGES / "standing.png", *FAST, "--output", out)
    assert r.returncode == 1
    got = json.loads(out.read_text())
    assert got[0]["error"] == f"{empty}: empty file" and got[0]["poses"] == []
    assert got[1]["error"] is None
    assert "empty file" in r.stderr and r.stdout == ""


# -- run -----------------------------------------------------------------------------

@pytest.fixture
def mixed_folder(pipeline, tmp_path):
    """The shared images plus an empty, a truncated and a non-image file, in subfolders."""
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    for name in FRAMES[:3]:
        shutil.copy(IMAGES / name, folder / name)
    shutil.copy(IMAGES / "couple.jpg", folder / "more" / "couple.jpg")
    (folder / "empty.png").write_bytes(b"")
    (folder / "more" / "cut.jpg").write_bytes((IMAGES / "couple.jpg").read_bytes()[:40000])
    (folder / "notes.jpg").write_text("not an image\n")
    (folder / "readme.txt").write_text("ignored: not an image extension\n")
    return folder


def test_run_over_a_folder_gives_one_record_per_input_in_order(mixed_folder, tmp_path):
    out = tmp_path / "out.jsonl"
    r = posefast("run", mixed_folder, "--output", out, "--workers", 2, *FAST)
    assert r.returncode == 1, r.stderr  # some inputs failed
    got = records(out)
    expected = sorted(str(p) for p in mixed_folder.rglob("*") if p.suffix in (".png", ".jpg"))
    assert [rec["source"] for rec in got] == expected
    errors = {Path(rec["source"]).name: rec["error"] for rec in got if rec["error"]}
    assert set(errors) == {"empty.png", "cut.jpg", "notes.jpg"}
    assert "empty file" in errors["empty.png"] and "truncated" in errors["cut.jpg"]
    assert "not an image" in errors["notes.jpg"]
    assert all(str(mixed_folder) in e for e in errors.values())  # each names its file
    for rec in got:
        assert set(rec) == {"source", "frame", "time", "width", "height", "poses", "error"}
        assert rec["time"] is None  # images have no time
        if not rec["error"]:
            assert (rec["width"], rec["height"]) == Image.open(rec["source"]).size
    # quiet in a pipe: no progress bar, only the summary
    assert "\r" not in r.stderr
    assert "done 4, failed 3, skipped 0" in r.stderr


def test_the_order_and_the_records_do_not_depend_on_the_worker_count(mixed_folder, tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    posefast("run", mixed_folder, "--output", one, "--workers", 1, *FAST)
    posefast("run", mixed_folder, "--output", two, "--workers", 2, *FAST)
    assert records(one) == records(two)


def _list_of(tmp_path, n):
    """A list of ``n`` distinct image files (copies of the shared frames)."""
    lst = tmp_path / "list.txt"
    (tmp_path / "in").mkdir()
    names = []
    for i in range(n):
        name = tmp_path / "in" / f"{i:03d}-{FRAMES[i % len(FRAMES)]}"
        shutil.copy(IMAGES / FRAMES[i % len(FRAMES)], name)
        names.append(str(name))
    lst.write_text("\n".join(names) + "\n")
    return lst, Counter(names)


@pytest.mark.parametrize("how", ["kill", "interrupt", "terminate"])
def test_an_interrupted_job_resumes_with_every_record_exactly_once(pipeline, tmp_path, how):
    lst, expected = _list_of(tmp_path, 30)
    out = tmp_path / "out.jsonl"
    job = start("run", f"@{lst}", "--output", out, "--workers", 2, *FAST)
    wait_for_lines(out, 8, job)
    job.send_signal({"kill": signal.SIGKILL, "interrupt": signal.SIGINT,
                     "terminate": signal.SIGTERM}[how])
    job.wait(timeout=30)
    if how != "kill":
        # 130 for Ctrl-C, 128 + 15 for SIGTERM, as a shell reports either signal
        err = job.stderr.read()
        assert job.returncode == (130 if how == "interrupt" else 143), err
        assert "--resume" in err
        assert ("terminated;" if how == "terminate" else "interrupted;") in err
    first = out.read_bytes().count(b"\n")
    assert 8 <= first < 30
    r = posefast("run", f"@{lst}", "--output", out, "--resume", "--workers", 2, *FAST)
    assert r.returncode == 0, r.stderr
    got = records(out)
    assert Counter(rec["source"] for rec in got) == expected
    assert all(rec["error"] is None for rec in got)
    assert f"done {30 - first}, failed 0, skipped {first} " in r.stderr


def test_a_killed_worker_loses_nothing(pipeline, tmp_path):
    if not Path("/proc/self/task").is_dir():
        pytest.skip("finding the worker processes needs Linux's /proc")
    lst, expected = _list_of(tmp_path, 60)
    out = tmp_path / "out.jsonl"
    job = start("run", f"@{lst}", "--output", out, "--workers", 2, *FAST)
    wait_for_lines(out, 4, job)
    from test_job import stage_processes

    workers = stage_processes(job.pid, "posefast-infer")
    assert workers
    os.kill(workers[0], signal.SIGKILL)
    job.wait(timeout=60)
    assert job.returncode == 0, job.stderr.read()
    got = records(out)
    assert [rec["source"] for rec in got] == lst.read_text().split()  # in order, all there
    assert all(rec["error"] is None for rec in got)
    assert "1 worker process(es) died and were replaced" in job.stderr.read()


def test_video_frames(pipeline, tmp_path):
    video = make_video(tmp_path / "clip.mp4", [IMAGES / n for n in FRAMES[1:4]], repeat=2)
    out = tmp_path / "out.jsonl"
    r = posefast("run", video, "--every", 2, "--output", out, "--model", MODEL_481, "--workers", 1)
    assert r.returncode == 0, r.stderr
    got = records(out)
    assert [(rec["source"], rec["frame"]) for rec in got] == [(video, 0), (video, 2), (video, 4)]
    assert all((rec["width"], rec["height"]) == (640, 480) for rec in got)
    assert [rec["time"] for rec in got] == [0.0, 0.4, 0.8]  # 5 fps: --every keeps true times
    assert [len(rec["poses"]) for rec in got] == [1, 1, 1]


def test_a_corrupt_video_is_an_error_record(pipeline, tmp_path):
    pytest.importorskip("av")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0\0\0\x18ftypmp42" + os.urandom(3000))
    out = tmp_path / "out.jsonl"
    r = posefast("run", bad, IMAGES / "standing.png", "--output", out, *FAST)
    assert r.returncode == 1
    got = records(out)
    assert got[0]["source"] == str(bad) and str(bad) in got[0]["error"]
    assert got[1]["error"] is None


def test_coco_output_loads_in_pycocotools(pipeline, tmp_path):
    coco_mod = pytest.importorskip("pycocotools.coco")
    out = tmp_path / "results.json"
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps({"images": [{"id": 10, "file_name": "couple.jpg"},
                                          {"id": 11, "file_name": "standing.png"}]}))
    r = posefast("run", IMAGES / "couple.jpg", IMAGES / "standing.png", "--format", "coco",
                 "--output", out, "--model", MODEL_481, "--coco-annotations", ann)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert [e["image_id"] for e in res] == [10, 10, 11]
    gt = coco_mod.COCO()
    gt.dataset = {"images": [{"id": 10, "width": 1920, "height": 1278},
                             {"id": 11, "width": 640, "height": 480}],
                  "annotations": [],
                  "categories": [{"id": 1, "name": "person", "keypoints": [], "skeleton": []}]}
    gt.createIndex()
    dt = gt.loadRes(str(out))
    assert len(dt.getAnnIds(imgIds=[10])) == 2 and len(dt.getAnnIds(imgIds=[11])) == 1


@pytest.mark.parametrize("args, message", [
    (["run", "nothing-here.jpg"], "no such file"),
    (["run", "{img}", "--format", "coco", "--resume", "--output", "x.json"], "--resume works with"),
    (["run", "{img}", "--resume"], "--resume needs --output"),
    (["run", "{img}", "--input-size", "big"], "HEIGHTxWIDTH"),
    (["run", "{img}", "--workers", "0"], ">= 1"),
    (["run", "{img}", "--backend", "no-such-backend"], "no-such-backend"),
    (["run", "{img}", "--model", "/no/such/model.tflite"], "/no/such/model.tflite"),
    (["predict", "{img}", "--render", "out.txt"], "--render"),
    (["predict"], "required"),
])
def test_usage_errors_exit_2_and_say_why(pipeline, tmp_path, args, message):
    args = [a.replace("{img}", str(IMAGES / "standing.png")) for a in args]
    r = posefast(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr


def test_every_command_explains_itself_with_an_example():
    parser = build_parser()
    assert "example" in parser.format_help()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in ("predict", "run"):
        text = sub.choices[name].format_help()
        assert "example" in text and f"posefast {name}" in text


def test_a_progress_bar_on_a_terminal(pipeline, tmp_path):
    pytest.importorskip("pty")
    status, text = stderr_on_a_terminal(
        [sys.executable, "-m", "posefast", "run", IMAGES / "standing.png",
         IMAGES / "sitting.png", "--output", tmp_path / "o.jsonl", "--workers", "1", *FAST],
        stdout=subprocess.DEVNULL)
    assert status == 0
    assert "\r2/2 [" in text and "images/s ETA" in text
    assert "done 2, failed 0, skipped 0" in text
