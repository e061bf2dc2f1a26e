"""Where records go: JSON Lines written as they come (resumable), or COCO results.

JSON Lines: one record (see ``posefast.job.records``) per line, each written and
flushed as soon as it is in order, so that a job killed at any moment leaves a
file whose complete lines are all valid; a last line cut short by the kill is
dropped by :func:`read_done` when the job is resumed.

COCO: the keypoint-results format of the COCO evaluation tools, a JSON array of
``{"image_id", "category_id": 1, "keypoints": [x, y, v] * 17, "score"}``, one entry
per pose, written whole at the end (atomically: it is never left half-written).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import IO, Any

from .records import record_key

FORMATS: tuple[str, ...] = ("jsonl", "coco", "parquet")


class OutputError(Exception):
    """The output file cannot be used; the message says why."""


def read_done(path: str | os.PathLike) -> Counter:
    """The (source, frame) keys of the records already in a JSON Lines output, counted.

    A last line without its newline (the job was killed while writing it) is cut
    off the file; other lines that are not valid records are dropped from the file
    too, so that it holds only whole records before the job appends to it.
    A missing file has no records.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return Counter()
    done: Counter = Counter()
    good: list[bytes] = []
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]  # tail: b"" when the file ends with "\n"
    for line in complete:
        try:
            record = json.loads(line)
            key = record_key(record)
        except (ValueError, TypeError, KeyError):
            continue
        done[key] += 1
        good.append(line)
    if tail or len(good) != len(complete):
        _replace(p, b"".join(line + b"\n" for line in good))
    return done


def _replace(path: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class JsonlWriter:
    """Writes records to a JSON Lines file (or stdout for ``-``), flushing each."""

    def __init__(self, path: str, *, append: bool = False) -> None:
        self.path = path
        if path == "-":
            self._file: IO[str] = sys.stdout
            self._owned = False
        else:
            try:
                self._file = open(path, "a" if append else "w", encoding="utf-8")
            except OSError as exc:
                raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
            self._owned = True

    def write(self, record: dict[str, Any]) -> None:
        # One write call per line: a kill leaves at most the last line incomplete.
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._owned:
            self._file.close()


class CocoWriter:
    """Collects COCO keypoint results and writes them when closed.

    ``image_id``: the file name's stem as an integer when every input's stem is a
    distinct integer (COCO's own file names, e.g. ``000000000139.jpg``); otherwise
    the input's position in the job (0-based, in input order). ``v`` of each
    keypoint is its score.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._records: list[tuple[str, int | None, list[dict[str, Any]]]] = []
        if path != "-":
            parent = Path(path).resolve().parent
            if not parent.is_dir():
                raise OutputError(f"cannot write {path}: no folder {parent}")

    def write(self, record: dict[str, Any]) -> None:
        self._records.append((record["source"], record["frame"], record["poses"]))

    def image_ids(self) -> list[int]:
        """The image_id of each record written, in order."""
        stems = [Path(src).stem for src, frame, _ in self._records]
        frames = [frame for _, frame, _ in self._records]
        if (all(s.isdigit() for s in stems) and all(f is None for f in frames)
                and len(set(map(int, stems))) == len(stems)):
            return [int(s) for s in stems]
        return list(range(len(self._records)))

    def results(self) -> list[dict[str, Any]]:
        """The COCO results: one entry per pose."""
        out = []
        for image_id, (_, _, poses) in zip(self.image_ids(), self._records):
            for pose in poses:
                kps: list[float] = []
                for k in pose["keypoints"]:
                    kps += [round(k["x"], 2), round(k["y"], 2), round(k["score"], 4)]
                out.append({"image_id": image_id, "category_id": 1,
                            "keypoints": kps, "score": round(pose["score"], 4)})
        return out

    def close(self) -> None:
        content = json.dumps(self.results())
        if self.path == "-":
            sys.stdout.write(content + "\n")
            sys.stdout.flush()
        else:
            _replace(Path(self.path), content.encode("utf-8"))


def open_writer(fmt: str, path: str, *, append: bool = False):
    """The writer of ``fmt`` (one of FORMATS) for ``path``: ``write(record)``, ``close()``.

    Raises OutputError when the file cannot be written (or pyarrow is missing for
    Parquet, see ``posefast.job.parquet``).
    """
    if fmt == "jsonl":
        return JsonlWriter(path, append=append)
    if fmt == "coco":
        return CocoWriter(path)
    if fmt == "parquet":
        from .parquet import ParquetWriter

        return ParquetWriter(path)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
