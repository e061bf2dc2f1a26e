"""posefast: PoseNet pose decoding at C speed, with pluggable inference backends.

Coordinates are pixels, x before y, unless a docstring says otherwise.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backend import Availability, Backend, InputSpec, ModelOutputs
    from .decode import (
        decode_multiple_poses,
        decode_multiple_poses_batch,
        decode_outputs,
        decode_single_pose,
        decode_single_pose_batch,
    )
    from .estimator import PoseEstimator
    from .pose import Pose
    from .quantized import Quantized
    from .skeleton import KEYPOINT_NAMES, NUM_EDGES, NUM_KEYPOINTS, SKELETON
    from .video import BoxTracker, OneEuroFilter, PoseSmoother, PoseTracker

__version__ = "0.1.0"

#: Where each public name lives. They are imported on first use (PEP 562), so that
#: importing the package, or its command line, loads neither NumPy nor anything else
#: heavy until a name is used: ``posefast run`` starts its fork server first thing,
#: and that server's imports then overlap the command's own.
_EXPORTS = {
    "KEYPOINT_NAMES": "skeleton", "SKELETON": "skeleton", "NUM_KEYPOINTS": "skeleton",
    "NUM_EDGES": "skeleton",
    "Pose": "pose", "Quantized": "quantized",
    "decode_single_pose": "decode", "decode_multiple_poses": "decode",
    "decode_outputs": "decode", "decode_single_pose_batch": "decode",
    "decode_multiple_poses_batch": "decode",
    "Backend": "backend", "Availability": "backend", "InputSpec": "backend",
    "ModelOutputs": "backend",
    "PoseEstimator": "estimator",
    "PoseTracker": "video", "BoxTracker": "video", "OneEuroFilter": "video",
    "PoseSmoother": "video",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> object:
    import importlib

    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value  # the next lookup is a plain one
        return value
    # a submodule (``posefast.decode.SIMD`` after ``import posefast``, as when the
    # package imported its modules itself)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module 'posefast' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the public names and the module's own dunders; not what the code here imports
    return sorted(set(__all__) | {n for n in globals() if n.startswith("__")})


# the package's namespace is its API: names the code above needed go
del annotations, TYPE_CHECKING
