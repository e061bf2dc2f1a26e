"""posefast on a Ray cluster (``pip install 'posefast[ray]'``).

- :class:`PosePredictor`: the ``Dataset.map_batches`` callable class; one
  ``PoseEstimator`` per actor, batches of encoded images (``read_binary_files``),
  decoded images (``read_images``) or file paths in, records out.
- :func:`pose_dataset`: ``posefast run``'s INPUT arguments in, a Dataset of records
  out, in input order.

Example::

    import ray, posefast.ray
    ds = posefast.ray.pose_dataset(["photos/", "clip.mp4"], model="posenet_mobilenet_v1_075_481_641_quant")
    ds.write_parquet("poses/")      # or: for row in ds.iter_rows(): ...

``posefast run INPUT... --engine ray`` runs the same job from the command line.
"""
from __future__ import annotations

try:
    import ray as _ray  # noqa: F401
    import ray.data as _ray_data  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("posefast.ray needs Ray Data: pip install 'posefast[ray]'") from exc

from .dataset import pose_dataset, sources_dataset, uses_gpu
from .predictor import PosePredictor

__all__ = ["PosePredictor", "pose_dataset", "sources_dataset", "uses_gpu"]
