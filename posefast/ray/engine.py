"""``posefast run --engine ray``: the job's stages on a Ray cluster, its records
written on the driver by the same writers as the local engine."""
from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any, Callable, Sequence

from ..config import Config
from ..job.parquet import table_to_records
from ..job.plan import Skipper
from ..job.runner import RunStats
from ..reading.inputs import Source
from .dataset import sources_dataset


class RayEngineError(RuntimeError):
    """Ray could not be reached or the job could not run on it; the message says why."""


def connect(address: str | None) -> bool:
    """Connect to the Ray cluster at ``address`` (``auto``: the one running here);
    None: ``RAY_ADDRESS``, else the cluster last started on this machine, else a
    new local Ray. True when the caller is to call ``ray.shutdown()`` at the end
    (which stops a local Ray started here, and only disconnects from a cluster);
    False when this process was connected already."""
    import ray

    if ray.is_initialized():
        return False
    _check_reachable(address or os.environ.get("RAY_ADDRESS"))
    try:
        # The dashboard only matters to a long-lived cluster; a local Ray started
        # for one job starts a few seconds faster without it (ignored when connecting).
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise RayEngineError(f"cannot connect to Ray at {address or os.environ.get('RAY_ADDRESS')}: "
                             f"{exc}") from None
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # posefast draws its own
    # Ray Data logs its plans, and the traceback of a failed job, on stderr; the
    # user gets posefast's own one-line message instead (the logs stay in /tmp/ray).
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    return True


def _check_reachable(address: str | None) -> None:
    # Ray retries an unreachable head for minutes; a user who mistyped the address
    # should hear so at once.
    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as exc:
        raise RayEngineError(f"cannot connect to Ray at {address}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None


def run_on_ray(sources: Sequence[Source], config: Config, *, every: int, max_pixels: int,
               skipper: Skipper, writer: Any, parquet_folder: str | None = None,
               workers: int | None = None, stats: RunStats | None = None,
               on_progress: Callable[[RunStats], None] | None = None) -> RunStats:
    """Pose ``sources`` on the connected Ray cluster.

    Records go to ``writer.write`` in input order as they arrive; with
    ``parquet_folder`` they are written there instead by ``Dataset.write_parquet``,
    in parallel on the cluster (one file per block), and ``writer`` is not used.
    ``workers``: a fixed number of actors (default: 1 up to one per cluster CPU).
    ``stats`` (updated as records come, so that an interrupted caller has them).
    """
    import ray

    stats = stats if stats is not None else RunStats()
    start = time.perf_counter()
    try:
        ds = sources_dataset(sources, config, every=every, max_pixels=max_pixels,
                             skipper=skipper, actors=workers)
        if parquet_folder is not None:
            ds = ds.materialize()  # posed once, then written and counted
            ds.write_parquet(parquet_folder)
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
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise RayEngineError(f"the job failed on Ray: {first}") from None
    finally:
        stats.seconds = time.perf_counter() - start
    return stats
