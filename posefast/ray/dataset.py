"""Building the Ray Dataset of records from ``posefast run``'s INPUT arguments.

The inputs are expanded on the driver exactly as ``posefast run`` expands them
(``posefast.reading.inputs.expand_inputs``); each image becomes a row naming its
file, read by the actor that poses it; each video becomes a row that a Ray task
decodes into frame rows (the video's frames stream out as they are decoded, and
several videos decode at once). Every node must see the files at the paths the
driver names (a shared file system), as with ``ray.data.read_binary_files``; the
actors run in a working folder of Ray's, not the driver's, so relative paths (of
inputs and of a model file) are made absolute on the driver, while records keep the
sources as they were given.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa

from ..config import Config, load_config
from ..job.plan import Skipper
from ..models.registry import registry_name
from ..reading.images import DEFAULT_MAX_PIXELS
from ..reading.inputs import Source, expand_inputs
from .predictor import PosePredictor

#: Rows of decoded video frames (and the error row of a video that cannot be read).
FRAME_SCHEMA = pa.schema([
    ("source", pa.string()), ("frame", pa.int64()), ("time", pa.float64()),
    ("path", pa.string()),
    ("pixels", pa.binary()), ("height", pa.int64()), ("width", pa.int64()),
    ("error", pa.string()),
])

#: Frames per block coming out of a video: about 7 MB of 640x480 RGB.
FRAMES_PER_BLOCK = 8

#: Images (or frames) per batch handed to an actor: large enough that Ray's
#: per-batch cost (a task, its arguments and results through the object store) is
#: small against posing them, small enough to spread a few hundred images evenly.
DEFAULT_BATCH_SIZE = 8

GPU_BACKENDS = frozenset({"tflite-gpu"})
GPU_PROVIDERS = ("cuda", "tensorrt")


def uses_gpu(config: Config) -> bool:
    """Whether ``config``'s backend runs on a GPU: ``tflite-gpu``, or ``onnx`` with a
    CUDA or TensorRT execution provider."""
    if config.backend in GPU_BACKENDS:
        return True
    providers = config.backend_options.get("providers") or ()
    if isinstance(providers, str):
        providers = providers.split(",")
    return config.backend == "onnx" and any(
        any(g in str(p).lower() for g in GPU_PROVIDERS) for p in providers)


def input_rows(sources: Sequence[Source], skipper: Skipper | None = None) -> list[dict[str, Any]]:
    """One row per image (``kind`` "image") and per video (``kind`` "video", with the
    frames whose records are already written in ``skip``; -1 stands for the
    video's error record), leaving out images already done."""
    skipper = skipper or Skipper()
    rows = []
    for s in sources:
        if s.kind == "image":
            if skipper.fresh((s.path, None)):
                rows.append({"kind": "image", "source": s.path, "path": os.path.abspath(s.path),
                             "skip": []})
            continue
        skip = skipper.take_frames(s.path)
        if not skipper.fresh((s.path, None)):
            skip.append(-1)
        rows.append({"kind": "video", "source": s.path, "path": os.path.abspath(s.path),
                     "skip": skip})
    return rows


def with_absolute_model(config: Config) -> Config:
    """``config`` with its model, where that is a file here rather than a registry
    name, named by its absolute path (an actor's working folder is Ray's)."""
    if registry_name(config.model) is None and os.path.isfile(config.model):
        return replace(config, model=os.path.abspath(config.model))
    return config


def _frames_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=FRAME_SCHEMA)


def expand_videos(batch: Mapping[str, np.ndarray], every: int = 1) -> Iterator[pa.Table]:
    """Ray task: image rows pass through; video rows become their frames' rows."""
    from ..reading.video import VideoError, iter_frames

    out: list[dict[str, Any]] = []
    for kind, source, path, skip in zip(batch["kind"], batch["source"], batch["path"],
                                        batch["skip"]):
        source, path = str(source), str(path)
        if kind == "image":
            out.append({"source": source, "frame": -1, "path": path})
            continue
        skip = list(skip)
        try:
            for frame in iter_frames(path, every):
                if frame.index in skip:
                    skip.remove(frame.index)
                    continue
                h, w = frame.pixels.shape[:2]
                out.append({"source": source, "frame": frame.index, "time": frame.time, "pixels":
                            frame.pixels.tobytes(), "height": h, "width": w})
                if len(out) >= FRAMES_PER_BLOCK:
                    yield _frames_table(out)
                    out = []
        except VideoError as exc:
            if -1 not in skip:
                # named as the input was given, as the local engine names it
                out.append({"source": source, "frame": -1, "error": str(exc).replace(path, source)})
    if out:
        yield _frames_table(out)


def pose_dataset(inputs: Sequence[str], *, model: str | None = None,
                 backend: str | None = None, config: Config | None = None,
                 every: int = 1, actors: int | tuple[int, int] | None = None,
                 num_cpus: float = 1, num_gpus: float | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE,
                 max_pixels: int = DEFAULT_MAX_PIXELS, skipper: Skipper | None = None,
                 **options: Any):
    """A Ray Dataset of the records of every image and video frame ``inputs`` name.

    Args:
        inputs: files, folders, glob patterns, ``@list.txt`` files, as
            ``posefast run`` takes them (raises ``posefast.reading.inputs.InputError``
            for one that names nothing).
        model, backend, options: as for ``PoseEstimator``; or ``config``.
        every: pose every ``every``-th frame of videos.
        actors: the actor pool's size, or its (min, max) to autoscale between;
            default as many as the cluster's CPUs (or GPUs) allow, as many of them
            started at once as there are batches.
        num_cpus: CPUs each actor asks for; its backend runs that many threads
            (``PosePredictor`` sets them, unless ``config`` or options do).
        num_gpus: GPUs each actor asks for; default 1 when the backend runs on a
            GPU (``uses_gpu``), else 0.
        batch_size: images per batch handed to an actor.
        skipper: leaves out inputs already done (``--resume``).

    Returns:
        A lazy ``ray.data.Dataset`` with the columns of ``posefast.job.parquet.SCHEMA``,
        one row per image or frame, in input order when iterated (the dataset
        preserves order). Consume it with ``iter_rows``, ``to_pandas``,
        ``write_parquet`` ...; ``posefast.job.parquet.table_to_records`` turns
        its batches (``batch_format="pyarrow"``) into JSON records.
    """
    if config is None:
        config = load_config(api={"model": model, "backend": backend, **options})
    elif model is not None or backend is not None or options:
        raise ValueError("pass either config= or model/backend/options, not both")
    return sources_dataset(expand_inputs(inputs), config, every=every, actors=actors,
                           num_cpus=num_cpus, num_gpus=num_gpus, batch_size=batch_size,
                           max_pixels=max_pixels, skipper=skipper)


def sources_dataset(sources: Sequence[Source], config: Config, *, every: int = 1,
                    actors: int | tuple[int, int] | None = None, num_cpus: float = 1,
                    num_gpus: float | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                    max_pixels: int = DEFAULT_MAX_PIXELS, skipper: Skipper | None = None):
    """:func:`pose_dataset` of inputs already expanded (``expand_inputs``)."""
    import ray

    gpus = (1 if uses_gpu(config) else 0) if num_gpus is None else num_gpus
    rows = input_rows(sources, skipper)
    if not ray.is_initialized():  # as Ray Data does on first use: RAY_ADDRESS or local
        ray.init()
    if actors is None:
        resources = ray.cluster_resources()
        slots = (resources.get("GPU", 0) // gpus if gpus
                 else resources.get("CPU", 1) // max(num_cpus, 1e-9))
        # All at once, no more than there are batches: grown from 1, the pool's second
        # actor started 2.4 s after the first on 2 cores (168 images: 9.3 s against 9.0 s).
        hi = max(1, int(slots))
        actors = (max(1, min(hi, -(-len(rows) // batch_size))), hi)
    lo, hi = (actors, actors) if isinstance(actors, int) else actors
    if all(r["kind"] == "image" for r in rows):
        # no more actors than batches: the others could only wait (Ray warns of them)
        batches = max(1, -(-len(rows) // batch_size))
        lo, hi = min(lo, batches), min(hi, batches)
    if not rows:
        from ..job.parquet import SCHEMA

        return ray.data.from_arrow(SCHEMA.empty_table())
    if any(r["kind"] == "video" for r in rows):
        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            expand_videos, batch_size=1, batch_format="numpy", fn_kwargs={"every": every})
    else:
        # One block per batch, one batch per actor task: an actor that dies takes
        # one batch with it, not a block of thousands (Ray cuts a long list into
        # about 200 blocks), and the actors share the work batch by batch.
        ds = ray.data.from_items([{"source": r["source"], "frame": -1, "path": r["path"]}
                                  for r in rows],
                                 override_num_blocks=-(-len(rows) // batch_size))
    ds = ds.map_batches(
        PosePredictor,
        fn_constructor_kwargs={"config": with_absolute_model(config), "max_pixels": max_pixels},
        compute=ray.data.ActorPoolStrategy(min_size=lo, max_size=hi),
        batch_size=batch_size, batch_format="numpy",
        num_cpus=num_cpus, num_gpus=gpus,
        # A killed actor is restarted and its batch retried: Ray Data's actor pools
        # default to max_restarts=-1 and max_task_retries=-1 (passing them is
        # deprecated), and the job's every-input-exactly-once promise rests on it.
    )
    ds.context.execution_options.preserve_order = True
    return ds
