"""Which of the job's processes have something to say: the scheduler's wait.

``multiprocessing.connection.wait`` builds a selector, registers every pipe and
sentinel, polls and tears it all down on each call, and ``Connection.poll`` and
``Process.is_alive`` each do the same for one file: four selectors a message, 40 %
of the main process's time in the scheduler (cProfile, 2 cores, 210 images). Here
one ``select.poll`` set lives as long as the job, each process's pipe and sentinel
registered while it lives, and one poll object per pipe tells whether more is
waiting. The main process is on every hand-over's path, and at hundreds of images
a second (a GPU) its time per message is what bounds the job. Where there is no
``poll`` (Windows), ``connection.wait`` on every call, as before.
"""
from __future__ import annotations

import select
import sys
from multiprocessing.connection import wait
from typing import Any

_POLL = hasattr(select, "poll") and sys.platform != "win32"
_IN = (select.POLLIN | select.POLLHUP | select.POLLERR) if _POLL else 0


class Events:
    """The pipes (``conn``) and sentinels (``process.sentinel``) of the processes
    added; ``wait`` returns those with a message or an end to report."""

    def __init__(self) -> None:
        self._all = select.poll() if _POLL else None
        self._owner: dict[int, Any] = {}  # fd -> process record
        self._own: dict[int, Any] = {}    # id(process record) -> its pipe's poll

    def add(self, p: Any) -> None:
        if self._all is None:
            self._owner[id(p)] = p
            return
        for fd in (p.conn.fileno(), p.process.sentinel):
            self._all.register(fd, _IN)
            self._owner[fd] = p
        own = select.poll()
        own.register(p.conn.fileno(), _IN)
        self._own[id(p)] = own

    def remove(self, p: Any) -> None:
        """Before its pipe is closed: a closed descriptor's number can come back."""
        if self._all is None:
            self._owner.pop(id(p), None)
            return
        for fd in [fd for fd, q in self._owner.items() if q is p]:
            self._all.unregister(fd)
            del self._owner[fd]
        self._own.pop(id(p), None)

    def wait(self, timeout: float) -> list[tuple[Any, bool]]:
        """The processes with something to report, each once, after at most
        ``timeout`` seconds; with each, whether its sentinel says it has ended."""
        if self._all is None:
            procs = list(self._owner.values())
            waitables: list[Any] = []
            for p in procs:
                waitables += [p.conn, p.process.sentinel]
            ready = wait(waitables, timeout=timeout)
            return [(p, p.process.sentinel in ready) for p in procs
                    if p.conn in ready or p.process.sentinel in ready]
        found: dict[int, tuple[Any, bool]] = {}
        for fd, _ in self._all.poll(max(0, int(timeout * 1000 + 0.999))):
            p = self._owner.get(fd)
            if p is not None:
                ended = fd == p.process.sentinel or found.get(id(p), (p, False))[1]
                found[id(p)] = (p, ended)
        return list(found.values())

    def more(self, p: Any) -> bool:
        """Whether p's pipe has more to read (or has ended) now."""
        own = self._own.get(id(p))
        if own is None:
            return p.conn.poll()
        return bool(own.poll(0))


def drain(events: Events, p: Any) -> tuple[list[Any], bool]:
    """Every message waiting in p's pipe, and whether it has ended (EOF or an error:
    the process is gone)."""
    messages: list[Any] = []
    try:
        while events.more(p):
            messages.append(p.conn.recv())
    except (EOFError, OSError):
        return messages, True
    return messages, False

