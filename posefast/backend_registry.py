"""Finds backends through the ``posefast.backends`` entry-point group.

Built-in and third-party backends are found the same way; nothing here names one.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .backend import Availability, Backend

GROUP = "posefast.backends"


class BackendNotFoundError(LookupError):
    """No backend of that name is registered."""


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend: its name, where it comes from, and whether it is usable here."""

    name: str
    target: str  # "module:attr" of the entry point
    distribution: str | None
    availability: Availability


#: The last scan, and the sys.path it was made on.
_scanned: tuple[tuple[str, ...], dict[str, EntryPoint]] | None = None


def _entry_points() -> dict[str, EntryPoint]:
    # Scanning every installed distribution's metadata takes about 5 ms, and a
    # command asks 10 times before its job starts: one scan per sys.path (a plugin
    # installed meanwhile on the same path is found by the next process).
    global _scanned
    key = tuple(sys.path)
    if _scanned is None or _scanned[0] != key:
        found: dict[str, EntryPoint] = {}
        for ep in entry_points(group=GROUP):
            found.setdefault(ep.name, ep)  # first registration of a name wins
        _scanned = (key, found)
    return dict(_scanned[1])


def backend_names() -> list[str]:
    """The names of all registered backends, sorted."""
    return sorted(_entry_points())


def get_backend_class(name: str) -> type[Backend]:
    """Load the class registered under ``name``.

    Raises BackendNotFoundError naming the registered backends when there is none.
    """
    eps = _entry_points()
    try:
        ep = eps[name]
    except KeyError:
        known = ", ".join(sorted(eps)) or "none"
        raise BackendNotFoundError(
            f"no backend named {name!r} is registered in entry-point group {GROUP!r} "
            f"(registered: {known})"
        ) from None
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"entry point {ep.value!r} for backend {name!r} is not a posefast.Backend subclass")
    return cls


def _availability(ep: EntryPoint) -> Availability:
    try:
        cls = ep.load()
    except Exception as exc:  # a broken plugin must not break the listing
        return Availability(False, f"cannot load {ep.value}: {type(exc).__name__}: {exc}")
    try:
        return cls.availability()
    except Exception as exc:
        return Availability(False, f"availability check failed: {type(exc).__name__}: {exc}")


def list_backends() -> list[BackendInfo]:
    """Every registered backend with its availability on this machine."""
    infos = []
    for name, ep in sorted(_entry_points().items()):
        dist = getattr(ep, "dist", None)
        infos.append(BackendInfo(name, ep.value, dist.name if dist else None, _availability(ep)))
    return infos


def create_backend(name: str, model_path: str, *, input_size: tuple[int, int] | None = None,
                   **options: Any) -> Backend:
    """Create the backend registered as ``name`` for ``model_path`` (options are backend-specific)."""
    return get_backend_class(name)(model_path, input_size=input_size, **options)
