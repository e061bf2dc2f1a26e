"""Where records go: JSON Lines written as they come (resumable), COCO results or
Parquet (``posefast.job.parquet``).

JSON Lines: one record (see ``posefast.job.records``) per line, nothing else (the
settings that made them go in a file beside it, see ``posefast.job.settings_file``),
each written with one system call as soon as it is in order, so that a job killed
at any moment, or stopped by a full disk, leaves a file whose complete lines are all
valid; a last line cut short is dropped when the job is resumed.

COCO: the keypoint-results format of the COCO evaluation tools, a JSON array of
``{"image_id", "category_id": 1, "keypoints": [x, y, v] * 17, "score", "bbox"}``
(``bbox``: ``[x, y, width, height]`` around the pose's keypoints), one entry per
pose. It is written whole at the end (see ``posefast.job.whole_file``), so the
output is never half-written.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import IO, Any, Iterable, Mapping

from .errors import OutputError
from .errors import reason as _reason
from .settings_file import HEADER_KEY, is_header, make_header  # noqa: F401  (here before)
from .whole_file import WholeFile

FORMATS: tuple[str, ...] = ("jsonl", "coco", "parquet")
def _stdout() -> IO[bytes]:
    if sys.stdout is None:  # started with stdout closed (`>&-`)
        raise OutputError("stdout is closed: give --output FILE")
    return sys.stdout.buffer


class JsonlWriter:
    """Writes records to a JSON Lines file (or stdout for ``-``), one system call per
    line. Write errors (a full disk, a broken pipe) raise OutputError."""

    def __init__(self, path: str, *, append: bool = False) -> None:
        self.path = path
        self._fd: int | None = None
        if path == "-":
            self._stream: IO[bytes] | None = _stdout()
        else:
            self._stream = None
            flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
            flags |= os.O_APPEND if append else os.O_TRUNC
            try:
                self._fd = os.open(path, flags, 0o666)
            except OSError as exc:
                raise OutputError(f"cannot write --output {path}: {_reason(exc)}") from None

    def write(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            if self._stream is not None:
                self._stream.write(data)
                self._stream.flush()
            else:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
        except OSError as exc:
            where = "stdout" if self.path == "-" else self.path
            hint = ("" if self.path == "-" else
                    "; the records written before are intact: make room and run the same "
                    "command with --resume")
            raise OutputError(f"cannot write {where}: {_reason(exc)}{hint}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# -- COCO -----------------------------------------------------------------------

def coco_image_ids(sources: Iterable[tuple[str, str]],
                   annotations: str | None = None) -> dict[str, int]:
    """The COCO ``image_id`` of each image source (path -> id).

    ``sources``: (path, kind) pairs, kind "image" or "video". With ``annotations``
    (a COCO annotation file, e.g. ``instances_val2017.json``) each image's id is
    that of the ``images`` entry whose ``file_name`` is the image's file name;
    otherwise it is the number at the end of the file name's stem
    (``000000000139.jpg`` -> 139), when every name has one and no two share it.
    Anything else raises OutputError saying what to do: ids are never positions,
    which change when a file is added.
    """
    sources = list(sources)
    videos = [path for path, kind in sources if kind != "image"]
    if videos:
        raise OutputError(f"--format coco: {videos[0]} is a video; COCO results have one "
                          f"image_id per image, so pose videos with --format jsonl")
    paths = [path for path, _ in sources]
    if annotations is not None:
        by_name = _annotation_ids(annotations)
        ids = {}
        named: dict[str, str] = {}
        for path in paths:
            name = os.path.basename(path)
            if name not in by_name:
                raise OutputError(f"--coco-annotations {annotations}: no image with file_name "
                                  f"{name!r} (input {path}); pose the images that file lists")
            if named.setdefault(name, path) != path:
                raise OutputError(
                    f"--format coco: {named[name]} and {path} have the same file name, so "
                    f"--coco-annotations {annotations} gives both image_id {by_name[name]}; "
                    f"pose the images of one annotation file, from one folder")
            ids[path] = by_name[name]
        return ids
    ids = {}
    owner: dict[int, str] = {}
    for path in paths:
        m = re.search(r"(\d+)$", Path(path).stem)
        if m is None:
            raise OutputError(
                f"--format coco: the image_id of {path} is unknown (its name does not end in a "
                f"number); give --coco-annotations instances.json, the annotation file whose "
                f"images map each file_name to its id")
        image_id = int(m.group(1))
        if owner.setdefault(image_id, path) != path:
            raise OutputError(
                f"--format coco: {owner[image_id]} and {path} would both be image_id "
                f"{image_id}; give --coco-annotations instances.json to map file names to ids")
        ids[path] = image_id
    return ids


def _annotation_ids(path: str) -> dict[str, int]:
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except OSError as exc:
        raise OutputError(f"--coco-annotations {path}: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:
        raise OutputError(f"--coco-annotations {path}: not valid JSON ({exc})") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise OutputError(f"--coco-annotations {path}: expected a COCO annotation file, a JSON "
                          f"object with an \"images\" list")
    ids: dict[str, int] = {}
    for n, image in enumerate(images):
        ok = (isinstance(image, dict) and isinstance(image.get("file_name"), str)
              and isinstance(image.get("id"), int) and not isinstance(image.get("id"), bool))
        if not ok:
            raise OutputError(f"--coco-annotations {path}: images[{n}] has no string file_name "
                              f"and integer id")
        name = os.path.basename(image["file_name"])
        if ids.setdefault(name, image["id"]) != image["id"]:
            raise OutputError(f"--coco-annotations {path}: file_name {name!r} has two ids")
    return ids


class CocoWriter:
    """Streams COCO keypoint results into a staged file and puts it in place when
    closed (see ``posefast.job.whole_file``). ``image_ids`` maps each source to its
    image_id (see :func:`coco_image_ids`). ``v`` of each keypoint is its score.
    Nothing is written until :meth:`close`; :meth:`discard` drops what was collected
    (an interrupted job)."""

    def __init__(self, path: str, image_ids: Mapping[str, int]) -> None:
        self.path = path
        self.image_ids = dict(image_ids)
        self._count = 0
        self._out = WholeFile(path)
        self._put(b"[")

    def _put(self, data: bytes) -> None:
        try:
            self._out.file.write(data)
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write --output {self.path}: {_reason(exc)}") from None

    def write(self, record: dict[str, Any]) -> None:
        image_id = self.image_ids[record["source"]]
        for pose in record["poses"]:
            kps: list[float] = []
            for k in pose["keypoints"]:
                kps += [round(k["x"], 2), round(k["y"], 2), round(k["score"], 4)]
            entry = {"image_id": image_id, "category_id": 1, "keypoints": kps,
                     "score": round(pose["score"], 4)}
            if "bbox" in pose:
                entry["bbox"] = [round(v, 2) for v in pose["bbox"]]
            self._put((",\n" if self._count else "\n").encode() + json.dumps(entry).encode())
            self._count += 1

    def close(self) -> None:
        """Finish the array and put the file in place."""
        self._put(b"\n]\n")
        self._out.commit()

    def discard(self) -> None:
        """Drop the staged file (idempotent)."""
        self._out.discard()


def open_writer(fmt: str, path: str, *, append: bool = False,
                image_ids: Mapping[str, int] | None = None,
                header: Mapping[str, Any] | None = None, tracked: bool | None = None,
                live: bool = False):
    """The writer of ``fmt`` (one of FORMATS) for ``path``: ``write(record)``, ``close()``,
    and ``discard()`` for the formats written whole at the end (COCO, Parquet).

    ``append``: JSON Lines (see JsonlWriter); ``image_ids``: COCO (see
    :func:`coco_image_ids`); ``header`` (see ``make_header``, put in the schema
    metadata), ``tracked`` and ``live`` (the job has live sources): Parquet (see
    ``ParquetWriter``). Raises OutputError when
    the file cannot be written (or pyarrow is missing for Parquet, see
    ``posefast.job.parquet``).
    """
    if fmt == "jsonl":
        return JsonlWriter(path, append=append)
    if fmt == "coco":
        return CocoWriter(path, image_ids or {})
    if fmt == "parquet":
        from .parquet import ParquetWriter

        return ParquetWriter(path, tracked=tracked, live=live, metadata=header)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
