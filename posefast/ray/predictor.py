"""The ``Dataset.map_batches`` callable: batches of images in, batches of records out."""
from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Mapping

import numpy as np

from ..config import Config, load_config
from ..estimator import PoseEstimator
from ..job.parquet import records_to_table
from ..job.plan import with_backend_threads
from ..job.records import failed_record, failure_reason, make_record
from ..reading.images import DEFAULT_MAX_PIXELS, EncodedImage, ImageLoadError


class PosePredictor:
    """Poses every image of a batch; one ``PoseEstimator`` per actor, made once.

    Use it with ``Dataset.map_batches(PosePredictor, compute=ActorPoolStrategy(...),
    batch_format="numpy", fn_constructor_kwargs={...})``. The constructor takes
    ``PoseEstimator``'s arguments (``model``, ``backend``, ``config``, options);
    the backend's threads are set to the actor's CPUs (``num_cpus``) unless the
    options set them.

    A batch is a dict of equal-length columns, one row per image; which columns
    say where the pixels are:

    - ``bytes`` and ``path``: encoded image files, as
      ``ray.data.read_binary_files(paths, include_paths=True)`` gives them;
    - ``image``: decoded (H, W, 3) uint8 RGB arrays, as ``ray.data.read_images``
      gives them (and ``path`` if it was read with ``include_paths=True``);
    - ``pixels`` (raw RGB bytes, row-major), ``height`` and ``width``: decoded video
      frames as ``posefast.ray.pose_dataset`` ships them;
    - ``path`` alone: image files read by the actor itself.

    Optional columns: ``source`` (the record's source; default ``path``),
    ``frame`` (video frame index; -1 or missing for an image), ``time`` (its
    presentation time in seconds) and ``error`` (the
    input already failed: its record says so). The result is a ``pyarrow.Table``
    of records in ``posefast.job.parquet.SCHEMA``, one row per input row, in order.
    An input that cannot be read or posed gives an error record, never an
    exception: one bad file does not fail the dataset.
    """

    def __init__(self, model: str | None = None, backend: str | None = None, *,
                 config: Config | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
                 **options: Any) -> None:
        if config is None:
            config = load_config(api={"model": model, "backend": backend, **options})
        elif model is not None or backend is not None or options:
            raise ValueError("pass either config= or model/backend/options, not both")
        cpus = actor_cpus()
        if cpus is not None:
            # As many backend threads as the actor has CPUs: ONNX Runtime and XNNPACK
            # would otherwise start one per core of the node in every actor.
            config = with_backend_threads(config, cpus)
        self._estimator = PoseEstimator(config=config, max_pixels=max_pixels)
        # Loads and pre-processes the next image while the network runs on this one.
        self._loader = ThreadPoolExecutor(1, thread_name_prefix="posefast-prepare")

    def __call__(self, batch: Mapping[str, np.ndarray]) -> Any:
        rows = list(_rows(batch))
        pending = [None if error is not None else self._loader.submit(self._prepare, image, source)
                   for source, _, _, image, error in rows]
        records = []
        for (source, frame, time, _, error), future in zip(rows, pending):
            if future is not None:
                prepared, error = future.result()
                if error is None:
                    try:
                        poses = self._estimator.infer([prepared])[0]
                        records.append(make_record(source, frame, prepared.width,
                                                   prepared.height, poses, time=time))
                        continue
                    except Exception as exc:
                        error = f"inference failed: {type(exc).__name__}: {exc}"
            records.append(failed_record(source, frame, error))
        return records_to_table(records)

    def _prepare(self, image: Any, source: str) -> tuple[Any, str | None]:
        try:
            return self._estimator.prepare(image), None
        except ImageLoadError as exc:
            # named as the input was given: the actor reads it at its absolute path
            return None, f"{source}: {exc.reason}"
        except Exception as exc:
            return None, failure_reason(exc)

    def __del__(self) -> None:
        if sys.is_finalizing():
            # an actor (or a script) ending with the predictor alive: the process's end
            # frees everything, and closing now would import and run teardown code
            # in a half-dismantled interpreter ("Exception ignored in __del__")
            return
        loader = getattr(self, "_loader", None)
        if loader is not None:
            loader.shutdown(wait=False)
        estimator = getattr(self, "_estimator", None)
        if estimator is not None:
            estimator.close()


def actor_cpus() -> int | None:
    """The CPUs Ray gave the calling actor or task (at least 1); None outside Ray."""
    try:
        import ray

        if not ray.is_initialized():
            return None
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    except Exception:  # not in a Ray worker, or a Ray without this API
        return None
    return max(1, int(cpus or 1))


def _column(batch: Mapping[str, np.ndarray], name: str, n: int) -> list:
    col = batch.get(name)
    return [None] * n if col is None else list(col)


def _rows(batch: Mapping[str, np.ndarray]
          ) -> Iterator[tuple[str, int | None, float | None, Any, str | None]]:
    """(source, frame, time, image input, known error) of each row of ``batch``."""
    n = len(next(iter(batch.values()))) if batch else 0
    paths = _column(batch, "path", n)
    sources = [s if s is not None else (p if p is not None else "<array>")
               for s, p in zip(_column(batch, "source", n), paths)]
    frames = [None if f is None or int(f) < 0 else int(f) for f in _column(batch, "frame", n)]
    times = [None if t is None or t != t else float(t) for t in _column(batch, "time", n)]
    errors = _column(batch, "error", n)
    if "bytes" in batch:
        images: list = [EncodedImage(bytes(b), s) for b, s in zip(batch["bytes"], sources)]
    elif "image" in batch:
        images = list(batch["image"])
    elif "pixels" in batch:
        images = [None if p is None else
                  np.frombuffer(p, np.uint8).reshape(int(h), int(w), 3)
                  for p, h, w in zip(batch["pixels"], batch["height"], batch["width"])]
        # Rows without pixels are image files, read here.
        images = [img if img is not None else path for img, path in zip(images, paths)]
    elif "path" in batch:
        images = paths
    else:
        raise ValueError(f"a batch needs a column bytes, image, pixels or path; "
                         f"got {', '.join(batch) or 'none'}")
    for source, frame, time, image, error in zip(sources, frames, times, images, errors):
        yield str(source), frame, time, image, (None if error is None else str(error))
