"""What a job is made of: its tasks (inputs in order), its statistics, and why it stops."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class Task:
    """One input of a job, in input order.

    ``kind`` is ``"image"`` (``source`` is the file), ``"video"`` (every ``every``-th
    frame of ``source`` except the frame indices in ``skip``, already done by an
    earlier run) or ``"error"`` (an input known to be bad before running: ``error``
    says why, ``frame`` is the record's frame, usually None).
    """

    source: str
    kind: Literal["image", "video", "error"] = "image"
    every: int = 1
    skip: frozenset = field(default_factory=frozenset)
    error: str | None = None
    frame: int | None = None


@dataclass
class RunStats:
    """What a job did: inputs done and failed, and where the time went (seconds)."""

    done: int = 0
    failed: int = 0
    seconds: float = 0.0
    infer_seconds: float = 0.0    # in the backend's run (the network), summed over workers
    prepare_seconds: float = 0.0  # loading and pre-processing, summed over processes
    restarts: int = 0             # processes of either stage that died and were replaced
    dropped: dict = field(default_factory=dict)  # live source -> frames dropped (newest wins)


class WorkerStartError(RuntimeError):
    """An inference process could not create its estimator (bad model, backend unusable)."""


class JobAborted(RuntimeError):
    """Processes died too often to go on; the message says why and how to resume."""
