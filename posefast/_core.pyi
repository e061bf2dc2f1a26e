# Types of the compiled decoding core (src/_core.pyx); see posefast.decode for the
# input conventions and the algorithm.
from typing import Literal, Union

import numpy as np

from .pose import Pose
from .quantized import Quantized

_Tensor = Union[np.ndarray, Quantized]
_Layout = Literal["hwc", "chw"]

SIMD: str

def cpu_has_avx2() -> bool: ...

def decode_single_pose(heatmaps: _Tensor, offsets: _Tensor, output_stride: int, *,
                       layout: _Layout = "hwc") -> Pose: ...
def decode_single_pose_batch(heatmaps: _Tensor, offsets: _Tensor, output_stride: int, *,
                             layout: _Layout = "hwc") -> list[Pose]: ...
def decode_multiple_poses(heatmaps: _Tensor, offsets: _Tensor, displacements_fwd: _Tensor,
                          displacements_bwd: _Tensor, output_stride: int,
                          max_detections: int = 10, score_threshold: float = 0.5,
                          nms_radius: float = 20.0, refine_steps: int = 5, *,
                          layout: _Layout = "hwc") -> list[Pose]: ...
def decode_multiple_poses_batch(heatmaps: _Tensor, offsets: _Tensor,
                                displacements_fwd: _Tensor, displacements_bwd: _Tensor,
                                output_stride: int, max_detections: int = 10,
                                score_threshold: float = 0.5, nms_radius: float = 20.0,
                                refine_steps: int = 5, *,
                                layout: _Layout = "hwc") -> list[list[Pose]]: ...
