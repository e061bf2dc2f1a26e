"""Records as Apache Parquet: one row per image or video frame (``--format parquet``).

The columns are the record's keys (see ``posefast.job.records``)::

    source  string            the input file
    frame   int64, null       frame index in a video; null for an image
    time    double, null      the frame's presentation time in seconds; null for an image
    width   int64, null       original image size in pixels (null when it failed)
    height  int64, null
    poses   list<struct<score: double,
                        bbox: fixed_size_list<double>[4],   x, y, width, height
                        keypoints: struct<x: fixed_size_list<double>[17],
                                          y: fixed_size_list<double>[17],
                                          score: fixed_size_list<double>[17]>,
                        track_id: int64, null>>             only with --track
    error   string, null      why the input failed; null when it was posed

Keypoint k of each list is ``posefast.skeleton.KEYPOINT_NAMES[k]``; x and y are
pixels of the original image. Doubles, not floats: a record read back is equal to
the JSON record, value for value. Keys a record has beyond these become columns
too, their types inferred by pyarrow. pandas, DuckDB and Spark read the files as
they are (``pd.read_parquet``, ``SELECT * FROM 'poses.parquet'``).

The file's schema metadata holds, under the key ``posefast``, the JSON of
``{"version", "cwd", "settings"}``: the settings that make the records what they are,
as the settings file beside a JSON Lines output (``pq.read_schema(path).metadata``).

pyarrow is optional (``pip install 'posefast[parquet]'``); importing this module
without it raises ``OutputError`` saying so.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from ..skeleton import KEYPOINT_NAMES, NUM_KEYPOINTS
from .errors import OutputError, reason
from .whole_file import WholeFile

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover - exercised only without the extra
    raise OutputError("--format parquet needs pyarrow: pip install 'posefast[parquet]'") from None

_KEYPOINTS = pa.struct([(name, pa.list_(pa.float64(), NUM_KEYPOINTS))
                        for name in ("x", "y", "score")])
POSE_TYPE = pa.struct([("score", pa.float64()), ("bbox", pa.list_(pa.float64(), 4)),
                       ("keypoints", _KEYPOINTS)])
#: The pose type of tracked records (``--track``): each pose has its track's id.
TRACKED_POSE_TYPE = pa.struct(list(POSE_TYPE) + [("track_id", pa.int64())])

#: The columns every record has, in record order.
SCHEMA = pa.schema([
    ("source", pa.string()),
    ("frame", pa.int64()),
    ("time", pa.float64()),
    ("width", pa.int64()),
    ("height", pa.int64()),
    ("poses", pa.list_(POSE_TYPE)),
    ("error", pa.string()),
])

#: The column live records add (seconds from a frame's arrival to its record; see
#: ``posefast.job.live``), typed so that every row group agrees: a group of files'
#: records or of error records has it null, and Arrow would otherwise infer its type
#: from each group's values (null, or double) and the groups would not fit one file.
LIVE_COLUMNS = pa.schema([("latency", pa.float64())])

#: Records per row group: large enough for fast scans, small enough to stream.
ROWS_PER_GROUP = 4096


def _pose_row(pose: dict[str, Any]) -> dict[str, Any]:
    kps = pose["keypoints"]
    row = {"score": pose["score"], "bbox": pose["bbox"],
           "keypoints": {"x": [k["x"] for k in kps], "y": [k["y"] for k in kps],
                         "score": [k["score"] for k in kps]}}
    if "track_id" in pose:
        row["track_id"] = pose["track_id"]
    return row


def _pose_record(row: dict[str, Any]) -> dict[str, Any]:
    kp = row["keypoints"]
    pose = {"score": row["score"], "bbox": row["bbox"],
            "keypoints": [{"part": name, "x": x, "y": y, "score": s}
                          for name, x, y, s in zip(KEYPOINT_NAMES, kp["x"], kp["y"],
                                                   kp["score"])]}
    if "track_id" in row:
        pose["track_id"] = row["track_id"]
    return pose


def _text(value: Any) -> Any:
    """A string Arrow can hold (UTF-8). A file name that is not UTF-8, whose undecodable
    bytes Python keeps as lone surrogates, gets those as backslash escapes (the byte
    0xE9 of a Latin-1 name as the six characters \\udce9), as JSON shows them."""
    if not isinstance(value, str) or value.isascii():
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8")  # the same if UTF-8


def records_to_table(records: list[dict[str, Any]], *, tracked: bool | None = None,
                     live: bool = False) -> "pa.Table":
    """The records as a table of ``SCHEMA`` (plus any extra keys as inferred columns).
    ``tracked``: whether the poses carry a ``track_id`` (None: whether any does).
    ``live``: the job has live sources: ``LIVE_COLUMNS`` follow, null in the records
    without them (files' records, error records)."""
    columns = {name: [r[name] for r in records] for name in SCHEMA.names if name != "poses"}
    for name in ("source", "error"):
        columns[name] = [_text(v) for v in columns[name]]
    columns["poses"] = [[_pose_row(p) for p in r["poses"]] for r in records]
    if tracked is None:
        tracked = any("track_id" in p for r in records for p in r["poses"])
    fields = [pa.field("poses", pa.list_(TRACKED_POSE_TYPE)) if f.name == "poses" and tracked
              else f for f in SCHEMA]
    arrays = [pa.array(columns[f.name], type=f.type) for f in fields]
    typed = {f.name: f.type for f in LIVE_COLUMNS} if live else {}
    for key, kind in typed.items():
        arrays.append(pa.array([r.get(key) for r in records], type=kind))
        fields.append(pa.field(key, kind))
    extra = [k for k in (records[0] if records else {})
             if k not in SCHEMA.names and k not in typed]
    for key in extra:
        arr = pa.array([r.get(key) for r in records])
        arrays.append(arr)
        fields.append(pa.field(key, arr.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def table_to_records(table: "pa.Table") -> list[dict[str, Any]]:
    """Inverse of :func:`records_to_table`: the JSON records, in row order."""
    out = []
    for row in table.to_pylist():
        row["poses"] = [_pose_record(p) for p in row["poses"]]
        # Record key order: the documented keys first, then any others.
        record = {name: row.pop(name) for name in SCHEMA.names}
        record.update(row)
        out.append(record)
    return out


class ParquetWriter:
    """Writes records to one Parquet file, in row groups as they come.

    The file is staged and put in place only when the writer is closed (see
    ``posefast.job.whole_file``: beside it, then renamed; FIFOs and character
    devices written in place): a job that stops part-way leaves no half-written file,
    and :meth:`discard` drops what was staged. ``tracked``: the poses have a
    ``track_id`` (``--track``), whatever the first records hold; None: as the first
    records say. ``live``: the job has live sources (the ``latency`` column of
    ``LIVE_COLUMNS``, null for its files' records). ``metadata``: JSON-able values
    put in the file's schema metadata, each under its key (posefast's: ``{"posefast": {"version", "cwd", "settings"}}``,
    as the settings file of a JSON Lines output).
    """

    def __init__(self, path: str, *, tracked: bool | None = None, live: bool = False,
                 metadata: Mapping[str, Any] | None = None) -> None:
        if path == "-":
            raise OutputError("--format parquet needs --output FILE (Parquet is not a stream)")
        self.path = path
        self.tracked = tracked
        self.live = live
        self._metadata = {key.encode(): json.dumps(value).encode()
                          for key, value in (metadata or {}).items()}
        self._out = WholeFile(path)
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self._pending.append(record)
        if len(self._pending) >= ROWS_PER_GROUP:
            self._flush()

    def write_table(self, table: "pa.Table") -> None:
        """Append rows already in ``SCHEMA`` form."""
        self._flush()
        self._guard(self._write_table, table)

    def _write_table(self, table: "pa.Table") -> None:
        if self._writer is None:
            schema = table.schema.with_metadata({**(table.schema.metadata or {}),
                                                 **self._metadata})
            self._writer = pq.ParquetWriter(self._out.file, schema)
        self._writer.write_table(table)

    def _guard(self, step, *args) -> None:
        try:
            step(*args)
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write --output {self.path}: {reason(exc)}") from None

    def _flush(self) -> None:
        if self._pending:
            table = records_to_table(self._pending, tracked=self.tracked, live=self.live)
            self._pending = []
            self.write_table(table)

    def close(self) -> None:
        self._flush()
        if self._writer is None:  # no records: an empty file with the schema
            self._guard(self._write_table, records_to_table([], tracked=self.tracked,
                                                                live=self.live))
        self._guard(self._writer.close)
        self._out.commit()

    def discard(self) -> None:
        """Drop what was written (an interrupted job)."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            try:
                writer.close()
            except OSError:
                pass  # (a full disk): dropped anyway
        self._out.discard()


def is_posefast_part(path: str) -> bool:
    """Whether ``path`` is a Parquet file posefast wrote (its schema metadata has the
    key ``posefast``); False for any other file, readable or not."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return False
    return b"posefast" in metadata
