"""The settings of a JSON Lines output, in a file beside it.

A JSON Lines output holds records only, one per line, so that any reader loads it
as it is (``pandas.read_json(path, lines=True)``, DuckDB's ``read_json``, Polars'
``read_ndjson``). What made the records, ``{"posefast": {"version", "cwd",
"settings"}}`` (see :func:`make_header`), goes in ``<output>.settings.json``
beside it (beside its real file, symlinks followed); ``--resume`` reads it to
refuse other settings. Files written by an earlier posefast carry it as their first
line instead, which ``--resume`` still reads. A Parquet file carries it in its
schema metadata (``posefast.job.parquet``).
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Mapping

from .errors import OutputError, reason
from .whole_file import WholeFile

#: The key of the settings object (and of the first line of older outputs).
HEADER_KEY = "posefast"
#: What the settings file's name adds to the output's.
SETTINGS_SUFFIX = ".settings.json"


def make_header(settings: Mapping[str, Any]) -> dict[str, Any]:
    """What made a job's records: the posefast version, the working folder relative
    sources are relative to, and the job's settings, under :data:`HEADER_KEY`."""
    from .. import __version__

    return {HEADER_KEY: {"version": __version__, "cwd": os.getcwd(), "settings": dict(settings)}}


def is_header(obj: Any) -> bool:
    """Whether a parsed line is a header (the first line of an older output, not a record)."""
    return isinstance(obj, dict) and HEADER_KEY in obj and "source" not in obj


def settings_path(output: str) -> str:
    """The settings file of the JSON Lines file ``output``: ``<output>.settings.json``
    beside its real file; for a name too long to take the suffix, the start of the
    name and a hash of it."""
    target = os.path.realpath(output)
    folder, name = os.path.split(target)
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) + len(SETTINGS_SUFFIX) > 255:
        digest = hashlib.sha256(raw).hexdigest()[:16]
        name = raw[:200].decode("utf-8", "ignore") + "." + digest
    return os.path.join(folder, name + SETTINGS_SUFFIX)


def write_settings(output: str, header: Mapping[str, Any]) -> None:
    """Write ``header`` (see :func:`make_header`) as ``output``'s settings file, whole
    (staged, then renamed). OutputError when it cannot be written."""
    staged = WholeFile(settings_path(output), option="the settings file")
    try:
        staged.file.write((json.dumps(header, indent=1) + "\n").encode())
    except OSError as exc:
        staged.discard()
        raise OutputError(f"cannot write {settings_path(output)}: {reason(exc)}") from None
    staged.commit()


def read_settings(output: str) -> Any:
    """The parsed content of ``output``'s settings file; None when there is none.
    OutputError when it cannot be read or is not JSON."""
    path = settings_path(output)
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {reason(exc)}") from None
    except (ValueError, RecursionError) as exc:
        raise OutputError(f"{path} is not the JSON posefast writes ({exc})") from None
