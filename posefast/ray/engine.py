"""``posefast run --engine ray``: the job's stages on a Ray cluster, its records
written on the driver by the same writers as the local engine."""
from __future__ import annotations

import io
import logging
import os
import re
import socket
import sys
import time
from typing import Any, Callable, Sequence

from ..config import Config
from ..job.parquet import table_to_records
from ..job.plan import Skipper
from ..job.runner import RunStats
from ..reading.inputs import Source
from ..runtime_logs import drop_stderr_lines
from .dataset import sources_dataset


#: What a Ray worker imports to run posefast's actors, for Ray's
#: RAY_preload_python_modules (set for a local Ray started by the command): imported
#: when the worker starts, not when the actor comes (about 1 s of Ray Data, pandas and
#: pyarrow on a 2-core machine). (On a running cluster, started with it, a job was no
#: faster: its workers start when the driver connects, just before the actors come.)
PRELOAD_MODULES = "ray.data,posefast.ray"


class RayEngineError(RuntimeError):
    """Ray could not be reached or the job could not run on it; the message says why."""


def connect(address: str | None, *, verbose: bool = False) -> str:
    """Connect to the Ray cluster at ``address`` (``auto``: the one running here);
    None: ``RAY_ADDRESS``, else the cluster last started on this machine, else a
    new local Ray. Returns "started" when this process started a local Ray (the
    caller is to stop it with ``ray.shutdown()``), "connected" when it connected to
    a running cluster (``ray.shutdown()`` then only disconnects), "" when it was
    connected already. Ray's own console output is kept off stderr unless
    ``verbose`` (see :func:`quiet_ray`)."""
    import ray

    if ray.is_initialized():
        quiet_ray(verbose)
        return ""
    target = address or os.environ.get("RAY_ADDRESS")
    _check_reachable(target)
    recorded = None
    if (target or "auto") == "auto":
        recorded = _recorded_address()
        if recorded and _connect_error(recorded) is not None:
            # Ray would retry the cluster last started here for minutes, though it is gone
            # (killed, the machine restarted): without an address, start one as when none
            # ran; with "auto", say so.
            if not target:
                address = "local"
            else:
                raise RayEngineError(
                    f"no Ray cluster answers at {recorded}, the address Ray recorded for the "
                    f"last `ray start` on this machine: it has stopped. Start one (`ray start "
                    f"--head`), or leave out --ray-address (and RAY_ADDRESS) to run on a local "
                    f"Ray started for the job")
    starts = address == "local" or not (target or recorded)
    if starts:
        # Ray starts this process's raylet, which starts the job's workers as soon as
        # the driver connects: importing Ray Data and posefast there, before the actors
        # are placed on them, overlaps that with the driver's own start.
        os.environ.setdefault("RAY_preload_python_modules", PRELOAD_MODULES)
    said: list[bytes] = []
    try:
        # The dashboard only matters to a long-lived cluster; a local Ray started
        # for one job starts a few seconds faster without it (ignored when connecting).
        # logging_level: Ray core's WARNING lines (token authentication...) are Ray's
        # business, not the user's; log_to_driver: the actors' own output.
        # Ray's core worker retries an unauthenticated connection for 20 s, a line a
        # second on fd 2: kept to explain the failure rather than shown.
        with drop_stderr_lines(RAY_CORE_LINE, RAY_CORE_START, said):
            ray.init(address=address, include_dashboard=False,
                     logging_level=logging.INFO if verbose else logging.ERROR,
                     log_to_driver=verbose)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = address or os.environ.get("RAY_ADDRESS")
        if any(b"InvalidAuthToken" in line or b"Unauthenticated" in line for line in said):
            raise RayEngineError(
                f"cannot connect to Ray at {where}: the cluster wants an authentication token "
                f"(Ray turns token authentication on for clusters started with `ray start` "
                f"since 2.59) and this process sent {_token_state()}. Set RAY_AUTH_MODE=token, "
                f"with the cluster's token in RAY_AUTH_TOKEN or ~/.ray/auth_token (`ray "
                f"get-auth-token` on the head node prints it); on the head node itself "
                f"--ray-address auto finds it") from None
        raise RayEngineError(f"cannot connect to Ray at {where}: {exc}") from None
    quiet_ray(verbose)
    # (when Ray's lookup of the recorded cluster failed here, "started" errs on the
    # safe side: the caller shuts down, which from a cluster only disconnects)
    return "started" if starts else "connected"


class _Dropped(io.TextIOBase):
    """A text stream that keeps nothing."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


def keep_ray_off_stdout(verbose: bool = False) -> None:
    """Ray's driver prints the errors its cluster reports ("(raylet) Task ... failed
    ... There are infinite retries remaining", when an actor dies and its batch is
    retried) with ``print`` to ``sys.stdout``, from a thread of its own, whatever
    ``log_to_driver`` says: there they would land among the records of ``--output -``.
    From here on they go to stderr with ``verbose``, else nowhere (Ray handles them:
    the job's records say what failed). Call it once the output is open (the JSONL
    writer holds stdout's buffer itself); the caller puts ``sys.stdout`` back."""
    sys.stdout = sys.stderr if verbose else _Dropped()


def _token_state() -> str:
    if os.environ.get("RAY_AUTH_MODE", "disabled") == "disabled":
        return "none (RAY_AUTH_MODE is not 'token')"
    return "one it does not accept"


def quiet_ray(verbose: bool = False) -> None:
    """Keep Ray Data's console output off this process's stderr, unless ``verbose``.

    Ray Data logs on the ``ray.data`` logger: at INFO the start of each execution and
    its plan (``DataContext.print_on_execution_start``), at DEBUG every few seconds and
    when an operator completes its metrics as big dicts ("Operator Metrics:\nInput:
    {'average_num_outputs_per_task': ...}"), and a failed job's traceback. Its
    console handlers (``PlainRayHandler`` on stderr) are silenced here, and its records
    kept from propagating to the ``ray`` logger, whose stderr handler lets every level
    through; the logger keeps its level, so that everything still goes to the
    session's ``logs/ray-data/ray-data.log``. posefast draws its own progress line, so
    Ray Data's progress bars are off in any case.
    """
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = verbose
    ctx.verbose_stats_logs = False
    ctx.enable_auto_log_stats = False
    level = logging.INFO if verbose else logging.CRITICAL + 1
    for name in ["ray.data", *(n for n in logging.root.manager.loggerDict
                               if n.startswith("ray.data."))]:
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                    handler, logging.FileHandler):
                handler.setLevel(level)
        if name == "ray.data" and not verbose:
            logger.propagate = False


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception)(?:: .*)?$")


def ray_failure(exc: BaseException) -> str:
    """What ended a failed Ray job, in one line: the exception at the end of the
    traceback Ray's error carries (an actor that could not start: "FileNotFoundError:
    model file ... not found"), else the first line of Ray's own message."""
    lines = [_ANSI.sub("", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    cause = next((line for line in reversed(lines) if _EXCEPTION_LINE.match(line)), None)
    if cause is None:
        return lines[0] if lines else type(exc).__name__
    if cause.startswith("FileNotFoundError"):
        cause += " (every node of the cluster must see the model and the inputs at the paths the driver names)"
    return cause


#: The log lines of Ray's C++ core worker in this process, "[2026-01-01 10:00:00,123 E
#: 4242 4242] core_worker.cc:2465: Actor ... has constructor arguments in the object
#: store ..." (written for every Ray Data actor pool, whose actors get their
#: function through the object store and are restarted when they die), and what the
#: start of one looks like (held back until the line is whole).
RAY_CORE_LINE = re.compile(rb"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [DIWEF] \d+ \d+\] ")
RAY_CORE_START = re.compile(rb"\[[\d :,-]*(?:[DIWEF][\d ]*\]?)?")


def _recorded_address() -> str | None:
    """HOST:PORT of the cluster last started with ``ray start`` on this machine, as
    ``ray.init`` would find it, or None (none recorded, or Ray's lookup failed)."""
    try:
        from ray._private.services import find_bootstrap_address

        return find_bootstrap_address(None)
    except Exception:  # a private function of Ray's: gone in another version
        return None


def _connect_error(address: str) -> str | None:
    """Why nothing accepts a TCP connection at HOST:PORT ``address``, or None if
    something does."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
        return None
    except (OSError, ValueError) as exc:
        return str(getattr(exc, "strerror", None) or exc)


def _check_reachable(address: str | None) -> None:
    # Ray retries an unreachable head for minutes; a user who mistyped the address
    # should hear so at once.
    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    error = _connect_error(address)
    if error is not None:
        raise RayEngineError(f"cannot connect to Ray at {address}: {error}")


def _part_schema(header: dict[str, Any] | None):
    """The schema of the parts: the records' (no --track on Ray), with ``header`` in
    its metadata (and so the mark of a part posefast wrote, see
    ``posefast.job.parquet.is_posefast_part``)."""
    import json

    from ..job.parquet import SCHEMA

    header = header or {"posefast": {}}
    return SCHEMA.with_metadata({k.encode(): json.dumps(v).encode() for k, v in header.items()})


def run_on_ray(sources: Sequence[Source], config: Config, *, every: int, max_pixels: int,
               skipper: Skipper, writer: Any, parquet_folder: str | None = None,
               parquet_header: dict[str, Any] | None = None, replace: Sequence[str] = (),
               workers: int | None = None, stats: RunStats | None = None,
               on_progress: Callable[[RunStats], None] | None = None) -> RunStats:
    """Pose ``sources`` on the connected Ray cluster.

    Records go to ``writer.write`` in input order as they arrive; with
    ``parquet_folder`` they are written there instead by ``Dataset.write_parquet``,
    in parallel on the cluster (one file per block, named ``posefast-*.parquet``,
    ``parquet_header`` in each one's schema metadata, as a Parquet file of the local
    engine), and ``writer`` is not used; ``replace``: the files (an earlier job's
    parts) removed once the new ones are written; nothing else in the folder is
    touched (Ray's own overwrite mode would empty it).
    ``workers``: a fixed number of actors (default: one per cluster CPU, see ``pose_dataset``).
    ``stats`` (updated as records come, so that an interrupted caller has them).
    """
    import ray
    from ray.data import SaveMode
    from ray.data.datasource import FilenameProvider

    class _PartNames(FilenameProvider):
        def get_filename_for_task(self, write_uuid: str, task_index: int) -> str:
            return f"posefast-{write_uuid}_{task_index:06}.parquet"

    stats = stats if stats is not None else RunStats()
    start = time.perf_counter()
    # Ray's core worker writes its C++ log lines to this process's fd 2 (kept with -v).
    with drop_stderr_lines(RAY_CORE_LINE, RAY_CORE_START):
        try:
            ds = sources_dataset(sources, config, every=every, max_pixels=max_pixels,
                                 skipper=skipper, actors=workers)
            if parquet_folder is not None:
                if "://" not in parquet_folder:
                    # written by the cluster's workers, whose working folder is Ray's
                    parquet_folder = os.path.abspath(parquet_folder)
                ds = ds.materialize()  # posed once, then written and counted
                ds.write_parquet(parquet_folder, mode=SaveMode.APPEND,
                                 filename_provider=_PartNames(file_format="parquet"),
                                 schema=_part_schema(parquet_header))
                for part in replace:
                    try:
                        os.unlink(part)
                    except FileNotFoundError:
                        pass
                for batch in ds.select_columns(["error"]).iter_batches(batch_format="pyarrow",
                                                                       batch_size=None):
                    failed = len(batch) - batch["error"].null_count
                    stats.failed += failed
                    stats.done += len(batch) - failed
            else:
                for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
                    for record in table_to_records(batch):
                        writer.write(record)
                        if record["error"] is None:
                            stats.done += 1
                        else:
                            stats.failed += 1
                        if on_progress:
                            on_progress(stats)
        except ray.exceptions.RayError as exc:
            raise RayEngineError(f"the job failed on Ray: {ray_failure(exc)}") from None
        finally:
            stats.seconds = time.perf_counter() - start
    return stats
