"""posefast.models.own_settings: a model's own input size and output stride (what
``posefast config`` shows and ``--resume`` compares), on the shared models."""
from __future__ import annotations

import pytest

from conftest import MODEL_353, MODEL_481
from posefast.config import Config
from posefast.models.own_settings import model_own_settings


@pytest.mark.parametrize("model, size", [(MODEL_353, [353, 481]), (MODEL_481, [481, 641])])
def test_the_models_own_size_and_stride_whatever_the_config_sets(model, size):
    """The config's own input_size/output_stride do not change what the model sets."""
    config = Config(model=str(model), input_size=(225, 321), output_stride=32)
    own, problem = model_own_settings(config)
    assert problem is None
    assert own == {"input_size": size, "output_stride": 16}


def test_only_what_is_wanted_and_each_apart():
    """A backend that is not there: the stride is still read, the size says why not."""
    config = Config(model=str(MODEL_353), backend="no-such-backend")
    own, problem = model_own_settings(config)
    assert own == {"output_stride": 16}
    assert problem.startswith("input_size: ") and "no-such-backend" in problem
    assert model_own_settings(config, ["output_stride"]) == ({"output_stride": 16}, None)
    assert model_own_settings(config, []) == ({}, None)


def test_a_missing_model_says_why(tmp_path):
    own, problem = model_own_settings(Config(model=str(tmp_path / "gone.tflite")))
    assert own == {} and "gone.tflite" in problem
