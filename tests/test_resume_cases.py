"""``--resume`` where the job's files are reached by other paths than when it ran (its
folder moved, or another mount path: a hard link stands for it, the same file under
another name), where no record is of the job's inputs at all, and where options are
spelled out that the first run left to the model."""
from __future__ import annotations

import os
import shutil

import pytest

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES
from test_cli import FAST, posefast, records


def _folder(root, names=("standing.png", "sitting.png")):
    (root / "photos").mkdir(parents=True)
    for name in names:
        shutil.copyfile(IMAGES / name, root / "photos" / name)
    return root


@pytest.mark.parametrize("spelled", ["relative", "absolute"])
def test_resume_after_the_jobs_folder_moved_poses_each_input_once(pipeline, tmp_path, spelled):
    old = _folder(tmp_path / "old")
    first = "photos/standing.png" if spelled == "relative" else old / "photos/standing.png"
    r = posefast("run", first, "--output", "poses.jsonl", *FAST, cwd=old)
    assert r.returncode == 0, r.stderr
    new = tmp_path / "new"
    old.rename(new)
    r = posefast("run", "photos/standing.png", "photos/sitting.png", "--output", "poses.jsonl",
                 "--resume", *FAST, cwd=new)
    assert r.returncode == 0, r.stderr
    assert "skipped 1" in r.stderr, r.stderr  # before: skipped 0, standing.png posed twice
    got = records(new / "poses.jsonl")
    assert [rec["source"] for rec in got] == [str(first), "photos/sitting.png"]
    assert all(rec["error"] is None for rec in got)


def test_resume_through_another_path_to_the_same_files(pipeline, tmp_path):
    first = _folder(tmp_path / "mnt" / "a")
    second = tmp_path / "data"
    (second / "photos").mkdir(parents=True)
    for name in ("standing.png", "sitting.png"):
        try:  # one file, two paths: what a bind mount shows
            os.link(first / "photos" / name, second / "photos" / name)
        except OSError:
            pytest.skip("no hard links here")
    out = tmp_path / "poses.jsonl"
    r = posefast("run", first / "photos" / "standing.png", "--output", out, *FAST)
    assert r.returncode == 0, r.stderr
    r = posefast("run", second / "photos", "--output", out, "--resume", *FAST)
    assert r.returncode == 0, r.stderr
    assert "skipped 1" in r.stderr, r.stderr
    got = records(out)
    assert [os.path.basename(rec["source"]) for rec in got] == ["standing.png", "sitting.png"]


def test_resume_with_none_of_the_records_inputs_says_so(pipeline, tmp_path):
    job = _folder(tmp_path / "job")
    r = posefast("run", "photos/standing.png", "--output", "poses.jsonl", *FAST, cwd=job)
    assert r.returncode == 0, r.stderr
    elsewhere = _folder(tmp_path / "elsewhere", names=("couple.jpg",))
    before = (job / "poses.jsonl").read_bytes()
    r = posefast("run", "photos/couple.jpg", "--output", job / "poses.jsonl", "--resume",
                 *FAST, cwd=elsewhere)
    assert r.returncode == 2, r.stderr
    assert "none of the records" in r.stderr and "photos/standing.png" in r.stderr
    assert str(elsewhere) in r.stderr and "Traceback" not in r.stderr
    assert (job / "poses.jsonl").read_bytes() == before


MODEL_481 = FAST[1].replace("353_481", "481_641")


@pytest.mark.parametrize("first, then", [
    ([], ["--output-stride", "16", "--input-size", "481x641"]),
    (["--output-stride", "16", "--input-size", "481x641"], []),
])
def test_resume_compares_the_model_defaults_by_their_values(pipeline, tmp_path, first, then):
    out = tmp_path / "poses.jsonl"
    r = posefast("run", IMAGES / "standing.png", "--output", out, "--model", MODEL_481, *first)
    assert r.returncode == 0, r.stderr
    r = posefast("run", IMAGES / "standing.png", IMAGES / "sitting.png", "--output", out,
                 "--resume", "--model", MODEL_481, *then)
    assert r.returncode == 0, r.stderr  # before: refused, "output_stride None there, 16 now"
    assert "skipped 1" in r.stderr
    assert len(records(out)) == 2
    for other, named in ((["--output-stride", "8"], "output_stride 16 there, 8 now"),
                         (["--input-size", "353x481"], "input_size [481, 641] there")):
        r = posefast("run", IMAGES / "couple.jpg", "--output", out, "--resume",
                     "--model", MODEL_481, *other)
        assert r.returncode == 2 and named in r.stderr, r.stderr
