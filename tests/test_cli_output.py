"""`posefast run`'s output: never lost, duplicated or mixed up, whatever the user does
(two jobs at once, a second run over a finished file, a resume with other settings,
a full disk, a closed pipe), and every refusal says what to do."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES
from test_cli import FAST, FRAMES, _list_of, posefast, records, wait_for_lines


def _no_traceback(r):
    assert "Traceback" not in r.stderr, r.stderr


def test_a_second_job_on_the_same_output_is_refused_naming_the_first(pipeline, tmp_path):
    lst, expected = _list_of(tmp_path, 60)
    out = tmp_path / "out.jsonl"
    slow = [FAST[0], FAST[1], "--input-size", "481x641"]  # long enough to be caught running
    first = subprocess.Popen([sys.executable, "-m", "posefast", "run", f"@{lst}", "--output",
                              str(out), "--workers", "1", *slow],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_lines(out, 3, first)
    others_are_refused(first, f"@{lst}", out, slow)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    assert [rec["source"] for rec in records(out)] == lst.read_text().split()
    assert not Path(f"{out}.lock").exists()  # removed at the end


def others_are_refused(first, inputs, output, options):
    """Jobs started while ``first`` writes ``output`` (plain, --resume, --overwrite)
    are refused, naming it; ``first`` is still running after."""
    others = [subprocess.Popen([sys.executable, "-m", "posefast", "run", inputs, "--output",
                                str(output), "--workers", "1", *options, *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
              for extra in ([], ["--resume"], ["--overwrite"])]
    for other in others:
        err = other.stderr.read()
        assert other.wait(timeout=60) == 2, err
        assert f"process {first.pid}" in err and "another posefast job" in err
        assert "Traceback" not in err
        assert "inference process" not in err  # refused before a plan for nothing
    assert first.poll() is None, "the first job ended too soon for the test to mean anything"


def test_an_existing_output_is_kept_unless_resume_or_overwrite(pipeline, tmp_path):
    out = tmp_path / "out.jsonl"
    r = posefast("run", IMAGES / "standing.png", IMAGES / "sitting.png", "--output", out, *FAST)
    assert r.returncode == 0, r.stderr
    before = out.read_bytes()
    r = posefast("run", IMAGES / "kneeling.png", "--output", out, *FAST)
    assert r.returncode == 2 and "already holds records" in r.stderr
    assert "--resume" in r.stderr and "--overwrite" in r.stderr
    assert out.read_bytes() == before
    r = posefast("run", IMAGES / "kneeling.png", "--output", out, "--overwrite", *FAST)
    assert r.returncode == 0, r.stderr
    assert [rec["source"] for rec in records(out)] == [str(IMAGES / "kneeling.png")]
    # the same for COCO results
    coco = tmp_path / "res.json"
    coco.write_text("[]")
    r = posefast("run", tmp_path, "--format", "coco", "--output", coco, *FAST)
    assert r.returncode == 2 and "already holds records" in r.stderr


def test_resume_refuses_other_settings_and_names_them(pipeline, tmp_path):
    out = tmp_path / "out.jsonl"
    r = posefast("run", IMAGES / "standing.png", "--output", out, *FAST)
    assert r.returncode == 0, r.stderr
    before = out.read_bytes()
    for extra, named in ([["--mode", "single"], "mode 'multi' there, 'single' now"],
                         [["--every", "5"], "every 1 there, 5 now"],
                         [["--score-threshold", "0.3"], "score_threshold 0.5 there, 0.3 now"],
                         [["--input-size", "161x241"], "input_size [177, 241] there"]):
        args = [a for a in FAST if a != "177x241"] if "--input-size" in extra else FAST
        if "--input-size" in extra:
            args = args[:-1]
        r = posefast("run", IMAGES / "sitting.png", "--output", out, "--resume", *args, *extra)
        assert r.returncode == 2, (extra, r.stderr)
        assert named in r.stderr and "other settings" in r.stderr
        _no_traceback(r)
    assert out.read_bytes() == before
    # another model (by content) is another setting too
    other = ["--model", str(Path(FAST[1]).with_name("posenet_mobilenet_v1_075_481_641_quant.tflite")),
             "--input-size", "177x241"]
    r = posefast("run", IMAGES / "sitting.png", "--output", out, "--resume", *other)
    assert r.returncode == 2 and "model_sha256" in r.stderr


def test_resume_matches_inputs_however_spelled_and_retries_errors(pipeline, tmp_path):
    shutil.copy(IMAGES / "standing.png", tmp_path / "a.png")
    bad = tmp_path / "b.png"
    bad.write_bytes(b"")
    out = tmp_path / "out.jsonl"
    r = posefast("run", "a.png", "b.png", "--output", out, *FAST, cwd=tmp_path)
    assert r.returncode == 1
    bad.write_bytes((IMAGES / "sitting.png").read_bytes())  # fixed since
    r = posefast("run", tmp_path / "a.png", "./b.png", "--output", out, "--resume", *FAST,
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "posing again 1 input(s) whose record" in r.stderr and "b.png" in r.stderr
    assert "done 1, failed 0, skipped 1" in r.stderr
    got = records(out)
    assert [(rec["source"], rec["error"]) for rec in got] == [("a.png", None), ("./b.png", None)]


def test_a_foreign_line_is_an_error_naming_it(pipeline, tmp_path):
    out = tmp_path / "out.jsonl"
    r = posefast("run", IMAGES / "standing.png", "--output", out, *FAST)
    with out.open("a") as f:
        f.write('{"source": ["x"]}\n')
    r = posefast("run", IMAGES / "standing.png", "--output", out, "--resume", *FAST)
    assert r.returncode == 2 and f"{out} line 2 is not a posefast record" in r.stderr
    _no_traceback(r)


def test_failed_inputs_are_listed_with_their_reason(pipeline, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    r = posefast("run", empty, IMAGES / "standing.png", text, "--output", tmp_path / "o.jsonl",
                 *FAST)
    assert r.returncode == 1
    # each error names its file exactly once, first
    assert [rec["error"] for rec in records(tmp_path / "o.jsonl")] == \
        [f"{empty}: empty file", None, f"{text}: not an image Pillow can read"]
    assert f"failed: {empty}: empty file" in r.stderr
    assert f"failed: {text}: not an image" in r.stderr


def test_a_full_disk_is_a_message_and_exit_1(pipeline, tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    r = posefast("run", IMAGES / "standing.png", "--output", "/dev/full", *FAST)
    assert r.returncode == 1 and "no space left" in r.stderr
    _no_traceback(r)
    r = posefast("run", IMAGES / "standing.png", "--format", "coco", "--output", "/dev/full",
                 *FAST)
    assert r.returncode in (1, 2) and "image_id" in r.stderr  # refused before: no number


def test_a_closed_pipe_or_stdout_is_a_message_and_exit_1(pipeline, tmp_path):
    lst, _ = _list_of(tmp_path, 12)
    job = subprocess.Popen([sys.executable, "-m", "posefast", "run", f"@{lst}", *FAST,
                            "--workers", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    job.stdout.readline()  # the first record
    job.stdout.close()     # the reader goes away (`| head -1`)
    assert job.wait(timeout=120) == 1
    err = job.stderr.read()
    assert "broken pipe" in err and "Traceback" not in err
    r = subprocess.run(f"{sys.executable} -m posefast run {IMAGES / 'standing.png'} "
                       f"{' '.join(FAST)} >&-", shell=True, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and "stdout is closed" in r.stderr
    _no_traceback(r)
    r = subprocess.run(f"{sys.executable} -m posefast predict {IMAGES / 'standing.png'} "
                       f"{' '.join(FAST)} >&-", shell=True, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and "stdout is closed" in r.stderr
    _no_traceback(r)
    r = subprocess.run(f"{sys.executable} -m posefast predict {IMAGES / 'standing.png'} "
                       f"{' '.join(FAST)} | head -c 1", shell=True, capture_output=True,
                       text=True, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr


def test_coco_output_places_are_checked_before_any_work(pipeline, tmp_path):
    named = tmp_path / "in"
    named.mkdir()
    shutil.copy(IMAGES / "standing.png", named / "000000000001.png")
    for where, message in ((tmp_path, "is a folder"),
                           (tmp_path / "missing" / "r.json", "no folder")):
        t0 = time.monotonic()
        r = posefast("run", named, "--format", "coco", "--output", where, *FAST)
        assert r.returncode == 2 and message in r.stderr, r.stderr
        assert "done" not in r.stderr  # nothing was posed
        _no_traceback(r)
    real = tmp_path / "real.json"
    real.write_text("")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    r = posefast("run", named, "--format", "coco", "--output", link, *FAST)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and [e["image_id"] for e in json.loads(real.read_text())] == [1]
    r = posefast("run", IMAGES / "standing.png", "--format", "coco", "--output", real,
                 "--overwrite", *FAST)
    assert r.returncode == 2 and "--coco-annotations" in r.stderr


def test_no_output_is_written_over_an_input(pipeline, tmp_path):
    """--output, --render and --render-dir naming one of the inputs (under any name: a
    hard link here) are refused before any work, or, for a render folder holding the
    inputs, the drawing takes another name: the input is never destroyed."""
    own = tmp_path / "own"
    own.mkdir()
    shutil.copy(IMAGES / "standing.png", own / "a.png")
    shutil.copy(IMAGES / "couple.jpg", own / "b.jpg")
    os.link(own / "a.png", tmp_path / "alias.png")
    before = {p.name: p.read_bytes() for p in own.iterdir()}
    for r, option in ((posefast("predict", own / "a.png", *FAST, "--render", own / "a.png"),
                       "--render"),
                      (posefast("predict", own / "b.jpg", *FAST, "--output", own / "b.jpg"),
                       "--output"),
                      (posefast("run", own, *FAST, "--output", tmp_path / "alias.png",
                                "--overwrite"), "--output"),
                      (posefast("run", own, *FAST, "--format", "coco", "--output",
                                own / "b.jpg", "--overwrite"), "--output")):
        assert r.returncode == 2 and option in r.stderr and "one of the inputs" in r.stderr, \
            r.stderr
        _no_traceback(r)
    r = posefast("run", own, *FAST, "--render-dir", own, "--output", tmp_path / "r.jsonl")
    assert r.returncode == 0, r.stderr
    _no_traceback(r)
    assert {p.name: p.read_bytes() for p in own.iterdir() if p.name in before} == before
    assert sorted(p.name for p in own.iterdir()) == ["a-2.png", "a.png", "b.jpg", "b.png"]


def test_a_parquet_output_that_is_a_folder_is_refused_before_any_work(pipeline, tmp_path):
    """The local engine writes its Parquet file whole at the end: a folder there was
    found only after every input was posed, the results lost with a traceback."""
    pytest.importorskip("pyarrow")
    folder = tmp_path / "out"
    folder.mkdir()
    r = posefast("run", IMAGES / "standing.png", *FAST, "--format", "parquet",
                 "--output", folder)
    assert r.returncode == 2 and "is a folder" in r.stderr, r.stderr
    assert "done" not in r.stderr  # nothing was posed
    _no_traceback(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary files left
