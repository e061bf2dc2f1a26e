"""``--format parquet``: the records as Parquet rows, readable by pandas, equal to the JSON ones."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

from posefast.job.output import OutputError  # noqa: E402
from posefast.job.parquet import SCHEMA, ParquetWriter, records_to_table, table_to_records  # noqa: E402
from posefast.skeleton import KEYPOINT_NAMES  # noqa: E402

from pipeline_ready import pipeline  # noqa: E402,F401  (a fixture)
from conftest import IMAGES, MODEL_353  # noqa: E402

FAST = ["--model", str(MODEL_353), "--input-size", "177x241"]


def _record(source, frame, n_poses, error=None, track=False):
    """A record as posefast writes it: "time" for a video frame (seconds, null for an
    image), each pose with its "bbox" and, when tracked, its "track_id"."""
    poses = [{"score": 0.5 + i / 10, "bbox": [1.5 + i, 2.0, 30.25, 40.0 + i],
              "keypoints": [{"part": name, "x": k + 0.25, "y": 2.0 * k, "score": k / 17}
                            for k, name in enumerate(KEYPOINT_NAMES)]}
             for i in range(n_poses)]
    if track:
        for i, pose in enumerate(poses):
            pose["track_id"] = i + 1
    time = None if frame is None else frame / 25
    if error:
        return {"source": source, "frame": frame, "time": time, "width": None, "height": None,
                "poses": [], "error": error}
    return {"source": source, "frame": frame, "time": time, "width": 640, "height": 480,
            "poses": poses, "error": None}


def test_records_survive_the_round_trip_value_for_value():
    recs = [_record("a.jpg", None, 2), _record("v.mp4", 7, 0), _record("b.jpg", None, 0, "b.jpg: bad")]
    table = records_to_table(recs)
    assert table.schema == SCHEMA
    assert table_to_records(table) == recs
    kp = SCHEMA.field("poses").type.value_type.field("keypoints").type
    assert kp.field("x").type == pa.list_(pa.float64(), 17)  # fixed-size: one per keypoint
    pose = SCHEMA.field("poses").type.value_type
    assert pose.field("bbox").type == pa.list_(pa.float64(), 4)  # x, y, width, height
    assert SCHEMA.field("time").type == pa.float64()


def test_a_file_name_that_is_not_utf8_is_written_escaped_not_a_crash(pipeline, tmp_path):
    """A Latin-1 file name (the byte 0xE9) is a str with a lone surrogate in Python,
    which Arrow cannot hold: the local engine posed every input, then died with a
    UnicodeEncodeError traceback while writing the Parquet file, and wrote nothing."""
    name = "caf\udce9.jpg"
    try:
        shutil.copy(IMAGES / "couple.jpg", tmp_path / name)
    except (UnicodeEncodeError, OSError):
        pytest.skip("this file system takes no such name")
    table = records_to_table([_record(name, None, 1, error=f"{name}: empty file")])
    assert table.column("source").to_pylist() == ["caf\\udce9.jpg"]
    assert table.column("error").to_pylist() == ["caf\\udce9.jpg: empty file"]
    out = tmp_path / "out.parquet"
    r = subprocess.run([sys.executable, "-m", "posefast", "run", str(tmp_path / name),
                        "--format", "parquet", "--output", str(out), "--model", str(MODEL_353),
                        "--input-size", "177x241"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = pa.parquet.read_table(out).to_pylist()
    assert [row["source"] for row in rows] == [str(tmp_path / "caf\\udce9.jpg")]
    assert len(rows[0]["poses"]) == 2


def test_tracked_records_keep_their_track_ids():
    recs = [_record("v.mp4", 0, 2, track=True), _record("v.mp4", 1, 1, track=True),
            _record("v.mp4", 2, 0, track=True)]
    table = records_to_table(recs)
    assert table.schema.field("poses").type.value_type.field("track_id").type == pa.int64()
    assert table_to_records(table) == recs
    assert "track_id" not in str(records_to_table([_record("a.jpg", None, 1)]).schema)


def test_tracked_records_after_records_without_people(tmp_path, monkeypatch):
    """A video whose first frames have nobody: the first row group has no track id to
    show that the poses are tracked; the later ones do. One schema for the whole file
    (a second schema for the later groups was refused by the Parquet writer)."""
    import posefast.job.parquet as parquet

    recs = ([_record("v.mp4", i, 0, track=True) for i in range(3)]
            + [_record("v.mp4", i, 2, track=True) for i in range(3, 7)])
    assert table_to_records(records_to_table(recs)) == recs  # in one table
    monkeypatch.setattr(parquet, "ROWS_PER_GROUP", 2)  # and over row groups
    out = tmp_path / "v.parquet"
    w = ParquetWriter(str(out), tracked=True)
    for rec in recs:
        w.write(rec)
    w.close()
    assert table_to_records(pa.parquet.read_table(out)) == recs


def test_live_latency_is_one_double_column_over_row_groups(tmp_path, monkeypatch):
    """A job with live sources: files' records and error records have no latency,
    live ones a float. Row groups of only the former came out with a null-typed
    column that no later group fits; with ``live`` it is a double throughout."""
    import posefast.job.parquet as parquet

    recs = ([_record("a.jpg", None, 1), _record("-", None, 0, error="lost")]
            + [{**_record("-", i, 1), "latency": 0.01 * (i + 1)} for i in range(3)])
    monkeypatch.setattr(parquet, "ROWS_PER_GROUP", 2)
    out = tmp_path / "live.parquet"
    w = ParquetWriter(str(out), live=True)
    for rec in recs:
        w.write(rec)
    w.close()
    table = pa.parquet.read_table(out)
    assert table.schema.field("latency").type == pa.float64()
    assert table.column("latency").to_pylist() == [None, None, 0.01, 0.02, 0.03]
    back = table_to_records(table)
    assert back[2:] == recs[2:] and [r["latency"] for r in back[:2]] == [None, None]
    # without it, the second schema is refused, as before
    w = ParquetWriter(str(tmp_path / "inferred.parquet"))
    with pytest.raises(ValueError, match="schema"):
        for rec in recs:
            w.write(rec)
    w.discard()


def test_run_with_track_writes_track_ids_after_frames_without_people(pipeline, tmp_path):
    from test_inputs import make_video

    video = make_video(tmp_path / "clip.mp4",
                       [IMAGES / "no_person.jpg", IMAGES / "standing.png"], repeat=2)
    outs = {fmt: tmp_path / f"out.{fmt}" for fmt in ("jsonl", "parquet")}
    for fmt, out in outs.items():
        r = subprocess.run([sys.executable, "-m", "posefast", "run", str(video), "--track",
                            "--output", str(out), "--format", fmt, "--workers", "1", *FAST],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    expected = [json.loads(line) for line in outs["jsonl"].read_text().splitlines()]
    assert not expected[0]["poses"] and expected[-1]["poses"][0]["track_id"] == 1
    assert table_to_records(pa.parquet.read_table(outs["parquet"])) == expected


def test_a_wrong_keypoint_count_is_refused_not_written():
    rec = _record("a.jpg", None, 1)
    del rec["poses"][0]["keypoints"][-1]
    with pytest.raises((pa.ArrowInvalid, ValueError)):
        records_to_table([rec])


def test_the_writer_makes_the_file_only_when_closed(tmp_path):
    out = tmp_path / "poses.parquet"
    w = ParquetWriter(str(out))
    w.write(_record("a.jpg", None, 1))
    assert not out.exists()
    w.close()
    df = pd.read_parquet(out)
    assert list(df.columns) == SCHEMA.names and len(df) == 1
    w = ParquetWriter(str(tmp_path / "gone.parquet"))
    w.write(_record("a.jpg", None, 1))
    w.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["poses.parquet"]  # nothing left over


def test_an_empty_job_is_an_empty_table_with_the_schema(tmp_path):
    out = tmp_path / "none.parquet"
    ParquetWriter(str(out)).close()
    assert pa.parquet.read_table(out).schema == SCHEMA


def test_parquet_is_no_stream():
    with pytest.raises(OutputError, match="--output FILE"):
        ParquetWriter("-")


def test_run_writes_the_same_records_as_jsonl(pipeline, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("couple.jpg", "standing.png", "no_person.jpg"):
        shutil.copy(IMAGES / name, folder / name)
    (folder / "broken.jpg").write_text("not an image")
    jsonl, parquet = tmp_path / "out.jsonl", tmp_path / "out.parquet"
    codes = []
    for out, fmt in ((jsonl, "jsonl"), (parquet, "parquet")):
        r = subprocess.run([sys.executable, "-m", "posefast", "run", str(folder), "--output",
                            str(out), "--format", fmt, "--workers", "1", *FAST],
                           capture_output=True, text=True, timeout=120)
        codes.append(r.returncode)
    assert codes == [1, 1]  # broken.jpg failed in both
    expected = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert table_to_records(pa.parquet.read_table(parquet)) == expected
    # the settings travel with each file: beside the JSON Lines, inside the Parquet
    beside = json.loads(Path(f"{jsonl}.settings.json").read_text())["posefast"]
    inside = json.loads(pa.parquet.read_schema(parquet).metadata[b"posefast"])
    assert inside["settings"] == beside["settings"] and inside["settings"]["model_sha256"]
    assert inside["version"] == beside["version"]
    df = pd.read_parquet(parquet)  # what a pandas user does
    assert list(df["source"]) == [r["source"] for r in expected]
    assert df["frame"].isna().all()
    couple = df[df["source"].str.endswith("couple.jpg")].iloc[0]
    assert len(couple["poses"]) == 2
    want = next(r for r in expected if r["source"] == couple["source"])
    assert couple["poses"][0]["keypoints"]["x"][0] == want["poses"][0]["keypoints"][0]["x"]
    assert df["error"].notna().sum() == 1


def test_duckdb_reads_the_file(pipeline, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    out = tmp_path / "out.parquet"
    r = subprocess.run([sys.executable, "-m", "posefast", "run", str(IMAGES / "couple.jpg"),
                        "--output", str(out), "--format", "parquet", "--workers", "1", *FAST],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    n, first_x = duckdb.sql(f"SELECT len(poses), poses[1].keypoints.x[1] FROM '{out}'").fetchall()[0]
    assert n == len(table_to_records(pa.parquet.read_table(out))[0]["poses"])
    assert first_x == table_to_records(pa.parquet.read_table(out))[0]["poses"][0]["keypoints"][0]["x"]


def test_parquet_to_stdout_is_a_usage_error(pipeline):
    r = subprocess.run([sys.executable, "-m", "posefast", "run", str(IMAGES / "couple.jpg"),
                        "--format", "parquet", *FAST], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--output FILE" in r.stderr
    assert Path.cwd().joinpath("-").exists() is False
