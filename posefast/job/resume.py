"""What ``--resume`` keeps: the records already in a JSON Lines output, checked.

The output's settings file (or the header line of one written by an earlier posefast, see
``posefast.job.settings_file``) records the settings its records were made with; a job
with other settings (another model, mode, ``--every``, thresholds...) would mix
two kinds of records in one file, so it is refused, naming each difference.
Inputs are matched by their real path, so ``a.jpg``, ``./a.jpg`` and
``/photos/a.jpg`` are one input: a relative source is looked for from the folder
named with the settings (where the job ran) and from the current folder (the job's
folder moved, or reached through another mount path), as is an absolute one
inside the folder where the job ran, and a source naming a file
that one of the job's inputs names through another path (a bind mount, a hard
link) is that input. An output none of whose records is of the job's inputs is
refused rather than posed again whole. Records that are errors are dropped and
their inputs posed again, unless told to keep them. A line that is not a record
is an error naming the line, never silently dropped: only a last line cut short
(the job was killed while writing it) is.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

from .errors import OutputError, reason
from .settings_file import HEADER_KEY, is_header, read_settings, settings_path
from .whole_file import SUFFIX, temporary_prefix

#: Settings that do not change the records (the model is compared by its sha256).
_NOT_COMPARED = ("model",)


def job_settings(config: Any, *, every: int, model_sha256: str | None,
                 **more: Any) -> dict[str, Any]:
    """What makes a job's records what they are: the model's content, the input size
    and resizing, the decoder's parameters, ``--every``, and ``more`` (any other option
    that changes the records, e.g. tracking). The backend and its options are left out:
    another runtime of the same model may finish a job."""
    settings = asdict(config)
    settings.pop("backend", None)
    settings.pop("backend_options", None)
    decoder = settings.pop("decoder", {})
    settings.update(decoder)
    settings["model_sha256"] = model_sha256
    settings["every"] = every
    settings.update(more)
    return json.loads(json.dumps(settings))  # tuples as lists, as read back from the file


class ResumeError(OutputError):
    """The output cannot be resumed as it is; the message says why and what to do."""


@dataclass
class ResumeState:
    """What an existing output holds: ``done`` counts (real path, frame) keys of the
    records kept; ``retried`` the sources of the error records dropped to be redone."""

    done: Counter = field(default_factory=Counter)
    retried: list[str] = field(default_factory=list)
    header: dict[str, Any] | None = None
    #: Records kept whose source is none of the job's inputs (0 when not told them).
    foreign: int = 0


def input_key(source: str, frame: int | None, base: str | None = None) -> tuple[str, int | None]:
    """The key that identifies an input whatever its spelling: its real path, and the frame."""
    path = source if os.path.isabs(source) or base is None else os.path.join(base, source)
    return os.path.realpath(path), frame


def read_done(path: str | os.PathLike, settings: Mapping[str, Any] | None = None, *,
              retry_failed: bool = True, inputs: Iterable[str] | None = None,
              defaults: Mapping[str, Any] | None = None) -> ResumeState:
    """The records an output holds, after checking it can be completed by this job.

    Raises ResumeError (naming the file, and the line or the setting) for a file that
    is not a posefast output, a line that is not a record, or a header whose settings
    differ from ``settings`` (None: not checked). A missing or empty file holds nothing.
    The file is rewritten (atomically) without its cut last line and without the error
    records to retry: with ``retry_failed``, those of the files ``inputs`` names (paths
    of this job's images and videos; None: every error record). An error record of a
    file the job does not name again is kept, as it would not be redone. ``defaults``:
    what a setting of None (left to the model) stands for, on either side
    (``model_defaults``).
    """
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        return ResumeState()
    if not stat.S_ISREG(st.st_mode):
        raise ResumeError(f"--resume: {name} is not a regular file, so it cannot be completed")
    try:
        with open(name, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ResumeError(f"--resume: cannot read {name}: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]  # tail: b"" when the file ends with "\n"
    state = ResumeState()
    keep: list[bytes] = []
    base = None
    sources: _Sources | None = None  # made after the header, which names the base
    for number, line in enumerate(complete, 1):
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            obj = None
        if number == 1 and is_header(obj):
            state.header = obj[HEADER_KEY]
            base = _check_header(name, state.header, settings, defaults or {})
            keep.append(line)
            continue
        problem = _record_problem(obj)
        if problem:
            raise ResumeError(f"--resume: {name} line {number} is not a posefast record "
                              f"({problem}): remove that line, or start again with --overwrite")
        if number == 1:
            state.header = _settings_beside(name)
            base = _check_header(name, state.header, settings, defaults or {})
        if sources is None:
            sources = _Sources(base, inputs)
        real, ours = sources.match(obj["source"])
        if obj["error"] is not None and retry_failed and ours:
            state.retried.append(obj["source"])
            continue
        state.done[(real, obj["frame"])] += 1
        state.foreign += not ours
        keep.append(line)
    if sources is not None and inputs is not None and sources.matched == 0:
        example = sources.unmatched[0]
        raise ResumeError(
            f"--resume: none of the records in {name} is of this job's inputs: its "
            f"sources (the first: {example}) name none of them, looked for from "
            f"{base or 'the folder the job ran in'} (where the job ran) and from "
            f"{os.getcwd()} (the current folder). Name the inputs the job was run on, "
            f"from the folder it ran in, or start again with --overwrite")
    if tail or len(keep) != len(complete):
        _rewrite(name, b"".join(line + b"\n" for line in keep), st)
    return state


def _settings_beside(name: str) -> Any:
    """What made the records of ``name`` (one without a header line): its settings
    file (see ``posefast.job.settings_file``)."""
    try:
        content = read_settings(name)
    except OutputError as exc:
        raise ResumeError(f"--resume: {exc}") from None
    where = settings_path(name)
    if content is None:
        raise ResumeError(f"--resume: {name} has no settings file {where} (moved without it, "
                          f"or written to stdout?), so its settings cannot be checked: start "
                          f"again with --overwrite, or write to another file")
    if not is_header(content):
        raise ResumeError(f"--resume: {where} is not a posefast settings file")
    return content[HEADER_KEY]


class _Sources:
    """Matches the sources of an output's records to the inputs of this job (their
    real paths; None: not told them, each source taken from where it exists)."""

    def __init__(self, base: str | None, inputs: Iterable[str] | None) -> None:
        self.base = base
        self.inputs = None if inputs is None else {input_key(p, None)[0] for p in inputs}
        self._by_identity: dict[tuple[int, int], str] | None = None
        self._seen: dict[str, tuple[str, bool]] = {}  # a video's frames share a source
        self.matched = 0
        self.unmatched: list[str] = []

    def match(self, source: str) -> tuple[str, bool]:
        """The real path that stands for ``source``, and whether it is one of the inputs."""
        found = self._seen.get(source)
        if found is None:
            found = self._seen[source] = self._match(source)
            if not found[1]:
                self.unmatched.append(source)
        self.matched += found[1]
        return found

    def _match(self, source: str) -> tuple[str, bool]:
        places = [source]
        if self.base is not None:
            if not os.path.isabs(source):
                places.insert(0, os.path.join(self.base, source))  # where the job ran first
            elif _inside(source, self.base):  # the folder moved: its files with it
                places.append(os.path.relpath(source, self.base))
        reals = list(dict.fromkeys(os.path.realpath(p) for p in places))
        existing = [r for r in reals if os.path.exists(r)]
        if self.inputs is None:
            return (existing or reals)[0], True
        for real in reals:
            if real in self.inputs:
                return real, True
        for real in existing:  # the same file through another path (a mount, a link)
            same = self._identities().get(_identity(real))
            if same is not None:
                return same, True
        return reals[0], False

    def _identities(self) -> dict[tuple[int, int], str]:
        if self._by_identity is None:
            self._by_identity = {}
            for real in self.inputs or ():
                ident = _identity(real)
                if ident is not None:
                    self._by_identity.setdefault(ident, real)
        return self._by_identity


def _inside(path: str, folder: str) -> bool:
    return os.path.normpath(path).startswith(os.path.join(os.path.normpath(folder), ""))


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _check_header(name: str, header: Any, settings: Mapping[str, Any] | None,
                  defaults: Mapping[str, Any]) -> str | None:
    if not isinstance(header, dict) or not isinstance(header.get("settings"), dict):
        raise ResumeError(f"--resume: the settings of {name} have no \"settings\"")
    cwd = header.get("cwd")
    if settings is not None:
        old = _effective(header["settings"], defaults)
        settings = _effective(settings, defaults)
        diffs = [f"{key} {old.get(key)!r} there, {settings.get(key)!r} now"
                 for key in sorted(set(old) | set(settings))
                 if key not in _NOT_COMPARED and old.get(key) != settings.get(key)]
        if diffs:
            raise ResumeError(
                f"--resume: {name} was made with other settings ({'; '.join(diffs)}): run with "
                f"the settings it was made with, or start again with --overwrite, or write to "
                f"another file")
    return cwd if isinstance(cwd, str) else None


def _effective(settings: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    return {**settings, **{k: v for k, v in defaults.items()
                           if settings.get(k) is None and v is not None}}


def _record_problem(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return "not a JSON object"
    source, frame, error = obj.get("source"), obj.get("frame", "missing"), obj.get("error", "")
    if not isinstance(source, str) or not source:
        return "no \"source\" string"
    if frame is not None and (isinstance(frame, bool) or not isinstance(frame, int) or frame < 0):
        return "\"frame\" is neither null nor a frame number"
    if error is not None and not isinstance(error, str):
        return "\"error\" is neither null nor a string"
    return None


def _rewrite(name: str, content: bytes, st: os.stat_result) -> None:
    target = os.path.realpath(name)  # keep a symlink a symlink
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target),
                                   prefix=temporary_prefix(target), suffix=SUFFIX)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), stat.S_IMODE(st.st_mode))
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise ResumeError(f"--resume: cannot rewrite {name} (to drop its last line, cut "
                          f"short, and the error records to redo) in its folder: "
                          f"{reason(exc)}") from None


def model_defaults(config: Any, spec: Any) -> dict[str, Any]:
    """What ``input_size`` and ``output_stride`` left to the model (None) stand for:
    the model's own, for ``read_done``'s ``defaults``. An option left to the model and
    the same value given explicitly make the same records (``--output-stride 16`` on
    a stride-16 model, ``--input-size 481x641`` on a 481x641 one), and a resume
    compares them so. ``spec`` is the backend's InputSpec for ``config``: the model's
    own size when ``config`` leaves it; otherwise it is read from the model (see
    ``posefast.models.own_settings``). The stride is read from the model's layers
    (about 0.2 s with the imports, so only for a resume). None where either cannot
    be found."""
    from ..models.own_settings import model_own_settings

    given_size = config.input_size is not None  # else spec is the model's own size
    own, _ = model_own_settings(config, ["output_stride", "input_size"] if given_size
                                else ["output_stride"], download=True)
    size = own.get("input_size") if given_size else [int(spec.height), int(spec.width)]
    return {"input_size": size, "output_stride": own.get("output_stride")}
