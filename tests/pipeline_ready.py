"""The ``pipeline`` fixture of the end-to-end tests: the shared models and images.

(It used to skip while the decoder, configuration and tflite backend were not yet
on main; they are, so the tests of the whole pipeline always run.)
"""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pipeline(shared_data):
    return shared_data
