"""The yardstick (SD-198's three diseases) is refused as training data; negatives are named."""

import numpy as np
import pytest

from skin_estimators.exceptions import ConfigError
from skin_estimators.experiments import validate_config
from skin_estimators.experiments._negatives import check_negatives, load_negatives


@pytest.mark.parametrize("name", ["fetch_sd198", "fetch_sd198_diseases", "sd198"])
def test_config_refuses_the_yardstick_as_training_data(name):
    with pytest.raises(ConfigError, match="yardstick that no model may be trained on"):
        validate_config({"data": name, "models": [{"name": "cnn"}]})


def test_config_refuses_negatives_as_the_classes_to_learn():
    with pytest.raises(ConfigError, match="names out-of-scope negatives"):
        validate_config({"data": "fetch_sd198_other", "models": [{"name": "cnn"}]})


def test_check_negatives():
    assert check_negatives("fetch_sd198_other") == "fetch_sd198_other"
    assert check_negatives({"path": "other/"}) == {"path": "other/"}
    with pytest.raises(ValueError, match="negatives: 'fetch_sd198' names .* yardstick"):
        check_negatives("fetch_sd198")
    with pytest.raises(ValueError, match="must be 'fetch_sd198_other' or"):
        check_negatives({"path": "x", "extra": 1})


def test_load_negatives_from_a_folder(tmp_path):
    from PIL import Image

    for rel in ("keloid/1.jpg", "keloid/2.jpg", "rosacea/3.jpg"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / rel)
    data = load_negatives({"path": "."}, base=tmp_path)
    np.testing.assert_array_equal(data.groups, ["keloid", "keloid", "rosacea"])
    with pytest.raises(ValueError, match="relative, but the config was not read from a file"):
        load_negatives({"path": "."})
