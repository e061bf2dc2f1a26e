"""JSON Lines output that survives interruption and is resumed only when it can be,
and COCO results with stable image ids, written safely."""
from __future__ import annotations

import json
import os
import stat
import threading

import numpy as np
import pytest

from posefast import Pose
from posefast.job.output import (CocoWriter, JsonlWriter, OutputError, coco_image_ids,
                                 is_header, make_header)
from posefast.job.records import error_record, make_record
from posefast.job.resume import ResumeError, input_key, read_done
from posefast.job.settings_file import read_settings, settings_path, write_settings

SETTINGS = {"model_sha256": "abc", "mode": "multi", "every": 1, "score_threshold": 0.5}


def _pose(score=0.7):
    kp = np.tile(np.array([[10.0, 20.0, 0.9]], np.float32), (17, 1))
    return Pose(score, kp)


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _key(source, frame=None):
    return input_key(source, frame)


def _writer(out, settings=SETTINGS):
    """A new JSON Lines output and its settings file, as ``posefast run`` makes them."""
    write_settings(str(out), make_header(settings))
    return JsonlWriter(str(out))


def test_read_done_counts_records_drops_a_cut_last_line_and_retries_errors(tmp_path):
    out = tmp_path / "out.jsonl"
    w = _writer(out)
    w.write(make_record("a.jpg", None, 10, 10, [_pose()]))
    w.write(error_record("bad.jpg", None, "bad.jpg: empty file"))
    w.write(make_record("v.mp4", 3, 10, 10))
    w.close()
    whole = out.read_bytes()
    out.write_bytes(whole + b'{"source": "c.jpg", "fra')  # killed while writing a line
    state = read_done(out, SETTINGS)
    assert state.done == {_key("a.jpg"): 1, _key("v.mp4", 3): 1}
    assert state.retried == ["bad.jpg"]
    # the cut line and the error record are gone: appending is safe and adds no duplicate
    assert [r.get("source") for r in _lines(out)] == ["a.jpg", "v.mp4"]
    assert read_settings(str(out))["posefast"]["settings"] == SETTINGS
    w = JsonlWriter(str(out), append=True)
    w.write(make_record("c.jpg", None, 1, 1))
    w.close()
    assert [r.get("source") for r in _lines(out)] == ["a.jpg", "v.mp4", "c.jpg"]


def test_keep_failed_keeps_error_records(tmp_path):
    out = tmp_path / "out.jsonl"
    w = _writer(out)
    w.write(error_record("bad.jpg", None, "bad.jpg: empty file"))
    w.close()
    state = read_done(out, SETTINGS, retry_failed=False)
    assert state.done == {_key("bad.jpg"): 1} and state.retried == []
    assert len(_lines(out)) == 1


def test_only_the_errors_of_inputs_named_again_are_dropped_to_be_redone(tmp_path,
                                                                       monkeypatch):
    """A job resumed with fewer inputs than it was started with: the error records of
    the inputs it does not name would not be redone, so they stay (they were dropped,
    and the message counted them as posed again)."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.jsonl"
    w = _writer(out)
    w.write(error_record("bad.jpg", None, "bad.jpg: empty file"))
    w.write(error_record("v.mp4", 4, "v.mp4 frame 4: corrupt"))
    w.write(error_record("other.jpg", None, "other.jpg: empty file"))
    w.close()
    state = read_done(out, SETTINGS, inputs=[str(tmp_path / "bad.jpg"), "./v.mp4"])
    assert state.retried == ["bad.jpg", "v.mp4"]
    assert state.done == {_key("other.jpg"): 1}
    assert [r.get("source") for r in _lines(out)] == ["other.jpg"]


def test_relative_sources_are_matched_by_real_path_from_the_jobs_folder(tmp_path, monkeypatch):
    (tmp_path / "photos").mkdir()
    monkeypatch.chdir(tmp_path / "photos")
    out = tmp_path / "out.jsonl"
    w = _writer(out)
    w.write(make_record("a.jpg", None, 1, 1))
    w.close()
    monkeypatch.chdir(tmp_path)  # resumed from elsewhere
    assert read_done(out, SETTINGS).done == {(str(tmp_path / "photos" / "a.jpg"), None): 1}
    assert input_key("photos/./a.jpg", None) == input_key(str(tmp_path / "photos/a.jpg"), None)
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    (tmp_path / "link.jpg").symlink_to(tmp_path / "photos" / "a.jpg")
    assert input_key("link.jpg", 3) == input_key("photos/a.jpg", 3)  # the same file


def test_an_output_with_the_header_line_of_an_earlier_posefast_is_resumed(tmp_path):
    """Outputs written before the settings moved beside them carry them as their first
    line: still checked, and kept as the first line."""
    out = tmp_path / "out.jsonl"
    header = json.dumps(make_header(SETTINGS))
    good = json.dumps(make_record("a.jpg", None, 1, 1))
    out.write_text(f"{header}\n{good}\n{good[:9]}")
    assert read_done(out, SETTINGS).done == {_key("a.jpg"): 1}
    assert out.read_text() == f"{header}\n{good}\n"
    with pytest.raises(ResumeError, match="every 1 there, 5 now"):
        read_done(out, dict(SETTINGS, every=5))
    assert not os.path.exists(settings_path(str(out)))


@pytest.mark.parametrize("line, problem", [
    ('{"source": ["x"], "frame": null, "error": null}', 'no "source" string'),
    ('{"source": "x", "frame": "7", "error": null}', '"frame"'),
    ('{"source": "x", "frame": true, "error": null}', '"frame"'),
    ('{"source": "x", "frame": null, "error": 3}', '"error"'),
    ('not json', "not a JSON object"),
    ('\0\0\0\0', "not a JSON object"),
    ('[1, 2]', "not a JSON object"),
])
def test_a_line_that_is_not_a_record_is_an_error_naming_it(tmp_path, line, problem):
    out = tmp_path / "out.jsonl"
    good = json.dumps(make_record("a.jpg", None, 1, 1))
    out.write_text(f"{json.dumps(make_header(SETTINGS))}\n{good}\n{line}\n{good}\n")
    before = out.read_bytes()
    with pytest.raises(ResumeError, match=f"{out} line 3 is not a posefast record") as err:
        read_done(out, SETTINGS)
    assert problem in str(err.value) and "--overwrite" in str(err.value)
    assert out.read_bytes() == before  # nothing dropped


def test_other_settings_are_refused_naming_each_difference(tmp_path):
    out = tmp_path / "out.jsonl"
    w = _writer(out)
    w.write(make_record("a.jpg", None, 1, 1))
    w.close()
    other = dict(SETTINGS, mode="single", every=5, model="another spelling")
    with pytest.raises(ResumeError) as err:
        read_done(out, other)
    message = str(err.value)
    assert "every 1 there, 5 now" in message and "mode 'multi' there, 'single' now" in message
    assert "model " not in message  # the model is compared by content, not by name
    assert read_done(out, dict(SETTINGS, model="another spelling")).done == {_key("a.jpg"): 1}


def test_a_file_without_settings_is_not_resumed(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps(make_record("a.jpg", None, 1, 1)) + "\n")
    with pytest.raises(ResumeError, match="no settings file .*out.jsonl.settings.json"):
        read_done(out, SETTINGS)
    with open(settings_path(str(out)), "w") as f:
        f.write('{"other": 1}')
    with pytest.raises(ResumeError, match="not a posefast settings file"):
        read_done(out, SETTINGS)
    assert read_done(tmp_path / "missing.jsonl", SETTINGS).done == {}
    (tmp_path / "empty.jsonl").write_text("")
    assert read_done(tmp_path / "empty.jsonl", SETTINGS).done == {}


def test_a_full_disk_is_an_output_error_and_leaves_whole_lines(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    w = JsonlWriter("/dev/full", append=True)
    with pytest.raises(OutputError, match="no space left"):
        w.write(make_record("a.jpg", None, 1, 1))
    w.close()


# -- COCO --------------------------------------------------------------------------

def test_coco_image_ids_come_from_numbers_in_names_or_from_annotations(tmp_path):
    names = [("val/000000000139.jpg", "image"), ("val/COCO_val2014_000000000285.jpg", "image")]
    assert coco_image_ids(names) == {"val/000000000139.jpg": 139,
                                     "val/COCO_val2014_000000000285.jpg": 285}
    # one name without a number: refused, never positions
    with pytest.raises(OutputError, match="a.jpg is unknown.*--coco-annotations"):
        coco_image_ids(names + [("x/a.jpg", "image")])
    with pytest.raises(OutputError, match="both be image_id 139"):
        coco_image_ids(names + [("other/139.png", "image")])
    with pytest.raises(OutputError, match="clip.mp4 is a video"):
        coco_image_ids([("clip.mp4", "video")])
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps({"images": [{"id": 7, "file_name": "a.jpg"},
                                          {"id": 9, "file_name": "b.jpg"}]}))
    assert coco_image_ids([("x/b.jpg", "image"), ("y/a.jpg", "image")], str(ann)) == \
        {"x/b.jpg": 9, "y/a.jpg": 7}
    with pytest.raises(OutputError, match="no image with file_name 'c.jpg'"):
        coco_image_ids([("c.jpg", "image")], str(ann))
    # two inputs of one file name in two folders would share an id: refused, as
    # without annotations
    with pytest.raises(OutputError, match="x/a.jpg and y/a.jpg have the same file name.*"
                                          "both image_id 7"):
        coco_image_ids([("x/a.jpg", "image"), ("y/a.jpg", "image")], str(ann))
    ann.write_text("[]")
    with pytest.raises(OutputError, match="expected a COCO annotation file"):
        coco_image_ids([("a.jpg", "image")], str(ann))


def test_coco_results(tmp_path):
    path = tmp_path / "res.json"
    w = CocoWriter(str(path), {"val/000000000139.jpg": 139, "val/000000000285.jpg": 285})
    w.write(make_record("val/000000000139.jpg", None, 640, 480, [_pose(0.9), _pose(0.6)]))
    w.write(make_record("val/000000000285.jpg", None, 640, 480))
    assert not path.exists()  # written whole at the end
    w.close()
    res = json.loads(path.read_text())
    assert [r["image_id"] for r in res] == [139, 139]
    assert res[0]["category_id"] == 1 and len(res[0]["keypoints"]) == 51
    assert res[0]["keypoints"][:3] == [10.0, 20.0, 0.9] and res[0]["score"] == 0.9
    assert [p.name for p in tmp_path.iterdir()] == ["res.json"]  # no temporary file left


def test_coco_output_places_are_checked_before_any_work(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        CocoWriter(str(tmp_path), {})
    with pytest.raises(OutputError, match="no folder"):
        CocoWriter(str(tmp_path / "missing" / "r.json"), {})
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        with pytest.raises(OutputError, match="cannot create a file"):
            CocoWriter(str(ro / "r.json"), {})


def test_coco_output_keeps_symlinks_modes_and_writes_fifos_in_place(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    real.chmod(0o644)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    w = CocoWriter(str(link), {"1.jpg": 1})
    w.write(make_record("1.jpg", None, 1, 1, [_pose()]))
    w.close()
    assert link.is_symlink() and len(json.loads(real.read_text())) == 1
    assert stat.S_IMODE(real.stat().st_mode) == 0o644
    new = tmp_path / "new.json"
    umask = os.umask(0o022)
    try:
        CocoWriter(str(new), {}).close()
    finally:
        os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o644 and json.loads(new.read_text()) == []

    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    w = CocoWriter(str(fifo), {"1.jpg": 1})
    w.write(make_record("1.jpg", None, 1, 1, [_pose()]))
    w.close()
    reader.join(10)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and len(json.loads(got[0])) == 1


def test_coco_results_load_in_pycocotools(tmp_path):
    coco_mod = pytest.importorskip("pycocotools.coco")
    path = tmp_path / "res.json"
    w = CocoWriter(str(path), {"000000000001.jpg": 1})
    w.write(make_record("000000000001.jpg", None, 640, 480, [_pose(0.9)]))
    w.close()
    gt = coco_mod.COCO()
    gt.dataset = {"images": [{"id": 1, "width": 640, "height": 480}], "annotations": [],
                  "categories": [{"id": 1, "name": "person", "keypoints": [], "skeleton": []}]}
    gt.createIndex()
    dt = gt.loadRes(str(path))
    ann = dt.loadAnns(dt.getAnnIds(imgIds=[1]))
    assert len(ann) == 1 and ann[0]["score"] == 0.9 and ann[0]["area"] >= 0
