"""A quantised tensor handed to the decoders without dequantising it first."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Quantized(NamedTuple):
    """An integer tensor with its affine quantisation: real = (q - zero_point) * scale.

    The decoders accept a ``Quantized`` anywhere they accept a float tensor and read
    the integers directly, so the whole tensor is never dequantised.
    """

    array: np.ndarray  # uint8 or int8
    scale: float
    zero_point: int
