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
        self._poll = select.poll() if _POLL else None
        self._procs: dict[int, Any] = {}  # id(process record) -> the record
        self._by_fd: dict[int, Any] = {}  # with poll: pipe and sentinel fd -> its record
        self._own: dict[int, Any] = {}    # with poll: id(record) -> a poll of its pipe alone

    def add(self, p: Any) -> None:
        self._procs[id(p)] = p
        if self._poll is None:
            return
        for fd in (p.conn.fileno(), p.process.sentinel):
            self._poll.register(fd, _IN)
            self._by_fd[fd] = p
        own = select.poll()
        own.register(p.conn.fileno(), _IN)
        self._own[id(p)] = own

    def remove(self, p: Any) -> None:
        """Before its pipe is closed: a closed descriptor's number can come back."""
        self._procs.pop(id(p), None)
        if self._own.pop(id(p), None) is None:
            return
        for fd in (p.conn.fileno(), p.process.sentinel):
            self._poll.unregister(fd)
            del self._by_fd[fd]

    def wait(self, timeout: float) -> list[tuple[Any, bool]]:
        """The processes with something to report, each once, after at most
        ``timeout`` seconds; with each, whether its sentinel says it has ended."""
        if self._poll is None:
            procs = list(self._procs.values())
            waitables: list[Any] = []
            for p in procs:
                waitables += [p.conn, p.process.sentinel]
            ready = wait(waitables, timeout=timeout)
            return [(p, p.process.sentinel in ready) for p in procs
                    if p.conn in ready or p.process.sentinel in ready]
        ended: dict[int, bool] = {}  # id(record) -> its sentinel spoke
        for fd, _ in self._poll.poll(max(0, int(timeout * 1000 + 0.999))):
            p = self._by_fd.get(fd)
            if p is not None:
                ended[id(p)] = ended.get(id(p), False) or fd == p.process.sentinel
        return [(self._procs[key], spoke) for key, spoke in ended.items()]

    def drain(self, p: Any) -> tuple[list[Any], bool]:
        """Every message waiting in p's pipe, and whether it has ended (EOF or an
        error: the process is gone)."""
        messages: list[Any] = []
        try:
            while self._more(p):
                messages.append(p.conn.recv())
        except (EOFError, OSError):
            return messages, True
        return messages, False

    def _more(self, p: Any) -> bool:
        """Whether p's pipe has more to read (or has ended) now."""
        own = self._own.get(id(p))
        if own is None:
            return p.conn.poll()
        return bool(own.poll(0))
