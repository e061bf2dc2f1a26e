"""The inference stage: a process that owns one backend and runs batches of slots.

It creates its estimator (its own backend instance: on a GPU, the one context of
the job), says ``("ready", pid)`` or ``("start_error", message)``, then answers each
``("batch", batch_id, items)`` -- ``items`` a list of ``(slot, meta)`` with ``meta``
as the preparation stage made it -- with ``("done", batch_id, results, seconds)``:
per item ``(poses, error)``, poses as ``(score, keypoints)`` in original-image
pixels, and the seconds the network took. The whole batch goes through the network
in one call and is decoded by the GIL-free batch decoder. ``None``: exit.
"""
from __future__ import annotations

import os
import warnings
from multiprocessing.connection import Connection

from ..config import Config
from .slots import SlotLayout, SlotPool, begin_process


def inference_main(conn: Connection, layout: SlotLayout, config: Config, max_pixels: int,
                   verbose: bool = False) -> None:
    """The body of an inference process (the target given to multiprocessing);
    ``verbose``: let the runtime's log lines through (``--verbose``)."""
    begin_process("posefast-infer", verbose)
    from ..estimator import PoseEstimator, Prepared

    try:
        # the job's main process made this estimator first (its probe) and showed its
        # warnings (a CPU fallback): each process would repeat them
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator = PoseEstimator(config=config, max_pixels=max_pixels)
    except Exception as exc:
        try:
            conn.send(("start_error", f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass
        return
    try:
        pool = SlotPool.attach(layout)
    except FileNotFoundError:
        return  # the job ended (Ctrl-C) while this process was starting
    try:
        conn.send(("ready", os.getpid()))
        while (msg := conn.recv()) is not None:
            _, batch_id, items = msg
            # Each image is copied out of its slot into the batch the runtime reads.
            prepared = [Prepared(pool.view(slot), transform, width, height, "")
                        for slot, (transform, width, height, _) in items]
            before = estimator.run_seconds
            try:
                poses = estimator.infer(prepared)
                results = [([(p.score, p.keypoints) for p in item], None) for item in poses]
            except Exception as exc:
                error = f"inference failed: {type(exc).__name__}: {exc}"
                results = [([], error) for _ in items]
            del prepared
            conn.send(("done", batch_id, results, estimator.run_seconds - before))
    except (BrokenPipeError, EOFError, OSError):
        pass  # the main process is gone: nothing to report to
    finally:
        estimator.close()
        pool.close()
        from ..runtime_logs import quiet_teardown

        quiet_teardown()  # the runtime's teardown lines, once per process: noise

