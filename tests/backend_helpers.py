"""Helpers the backend tests share: images as network input, and the poses the core decodes."""
from __future__ import annotations

import numpy as np
from PIL import Image

from conftest import IMAGES
from posefast import decode_outputs
from posefast.backend import Backend
from posefast.preprocess import to_input

IMAGE_NAMES = ("couple.jpg", "kneeling.png", "sitting.png", "standing.png",
               "standing_doorway.png", "standing_far.png", "no_person.jpg")


def network_input(name: str, backend: Backend) -> np.ndarray:
    """One shared image, stretched to the backend's input, as a batch of one."""
    image = Image.open(IMAGES / name).convert("RGB")
    array, _ = to_input(image, image.width, image.height, backend.input_spec, "stretch")
    return array[None]


def poses(backend: Backend, name: str, **decoder):
    """The poses the core decodes from ``backend`` on one shared image (network-input pixels)."""
    return decode_outputs(backend.run(network_input(name, backend)), **decoder)[0]
