"""Whether the pieces the estimator builds on are in place yet.

The estimator needs the decoder (``posefast.decode_outputs``), the configuration
(``posefast.config.load_config``), the model registry and a ``tflite`` backend.
Until those land, tests of the whole pipeline skip saying which is missing;
afterwards they run and must pass.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import MODEL_481


def missing() -> list[str]:
    from posefast.backend import ModelOutputs
    from posefast.config import load_config
    from posefast.decode import decode_outputs
    from posefast.models import resolve_model
    from posefast.registry import backend_names

    gaps = []
    zeros = np.zeros((1, 2, 2, 17), np.float32)
    try:
        decode_outputs(ModelOutputs(zeros, np.zeros((1, 2, 2, 34), np.float32),
                                    np.zeros((1, 2, 2, 32), np.float32),
                                    np.zeros((1, 2, 2, 32), np.float32), 16))
    except NotImplementedError:
        gaps.append("posefast.decode_outputs (issue 2)")
    except Exception:
        pass
    try:
        load_config(env={})
    except NotImplementedError:
        gaps.append("posefast.config.load_config (issue 3)")
    except Exception:
        pass
    try:
        resolve_model(str(MODEL_481))
    except NotImplementedError:
        gaps.append("posefast.models.resolve_model (issue 3)")
    except Exception:
        pass
    if "tflite" not in backend_names():
        gaps.append("the tflite backend (issue 3)")
    return gaps


@pytest.fixture(scope="session")
def pipeline(shared_data):
    gaps = missing()
    if gaps:
        pytest.skip("the pipeline needs " + ", ".join(gaps) + ", not on main yet")
    return shared_data
