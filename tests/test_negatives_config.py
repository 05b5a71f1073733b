"""The yardstick (SD-198's three diseases) is refused as training data; negatives are named."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

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
    for rel in ("keloid/1.jpg", "keloid/2.jpg", "rosacea/3.jpg"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / rel)
    data = load_negatives({"path": "."}, base=tmp_path)
    np.testing.assert_array_equal(data.groups, ["keloid", "keloid", "rosacea"])
    with pytest.raises(ValueError, match="relative, but the config was not read from a file"):
        load_negatives({"path": "."})


_REAL_DATA = os.environ.get("SKIN_ESTIMATORS_DATA")
_SD198 = Path(os.path.abspath(_REAL_DATA), "sd198") if _REAL_DATA else None


@pytest.mark.skipif(_SD198 is None or not _SD198.is_dir(),
                    reason="needs the SD-198 photos: set SKIN_ESTIMATORS_DATA")
def test_a_copy_of_the_yardstick_in_a_data_folder_is_refused(tmp_path):
    from skin_estimators.experiments import load_config
    from skin_estimators.experiments._data import load_experiment_files

    source = sorted((_SD198 / "acne").iterdir())[0]
    for cls in ("acne", "lichen_planus"):
        (tmp_path / "photos" / cls).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (i * 90, 30, 60)).save(tmp_path / "photos" / cls / f"{i}.jpg")
    shutil.copy(source, tmp_path / "photos" / "acne" / "renamed.jpg")
    config_path = tmp_path / "cfg.yaml"
    config_path.write_text("data: {path: photos, groups: null}\nmodels: [{name: cnn}]\n")
    config = load_config(config_path)
    with pytest.raises(ConfigError, match="data.path: 1 of the photos .*renamed.jpg.* are "
                                          "SD-198's photos of the three diseases"):
        load_experiment_files(config)
    (tmp_path / "photos" / "acne" / "renamed.jpg").unlink()
    bunch, _ = load_experiment_files(config)
    assert len(bunch.filenames) == 4
