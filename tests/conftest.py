"""Shared fixtures: where the real models and images live.

They are read from ``../shared`` beside the project root, or from the folder
named by ``POSEFAST_TEST_DATA``; tests that need them skip only if it is absent.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("POSEFAST_TEST_DATA", ROOT.parent / "shared"))
MODELS = DATA / "models"
IMAGES = DATA / "images"

MODEL_481 = MODELS / "posenet_mobilenet_v1_075_481_641_quant.tflite"
MODEL_353 = MODELS / "posenet_mobilenet_v1_075_353_481_quant.tflite"
MODEL_721 = MODELS / "posenet_mobilenet_v1_075_721_1281_quant.tflite"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not MODELS.is_dir() or not IMAGES.is_dir():
        pytest.skip(f"shared data not found at {DATA} (set POSEFAST_TEST_DATA)")
    return DATA
