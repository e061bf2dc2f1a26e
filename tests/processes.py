"""The processes below a process, from Linux's /proc: what the tests of the job and
its throughput benchmark look into (the job's stages run under a fork server, so
they are grandchildren of the command)."""
from __future__ import annotations

from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, children first."""
    found, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            try:
                children = [int(c) for c in task.read_text().split()]
            except OSError:
                continue  # gone meanwhile
            found += children
            todo += children
    return found
