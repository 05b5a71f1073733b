"""A config's ``color_constancy:`` reaches every ImageLoader a run builds, and only when set."""

import numpy as np
import pytest

from skin_estimators.experiments import ConfigError, load_config, validate_config
from skin_estimators.experiments._data import load_experiment_data
from skin_estimators.experiments._final import config_as_run
from skin_estimators.preprocessing import CONTROLLED_INPUTS, ImageLoader

from .test_experiments import write_config


def _config(**top):
    return validate_config({"data": "fetch_skin3", "image_size": 32,
                            "models": [{"name": "cnn"}], **top})


@pytest.mark.parametrize("controlled", [False, True])
def test_the_row_pipeline_loads_with_the_configs_colour_constancy(controlled):
    row = _config(color_constancy="shades_of_gray").rows()[0]
    loader = row.make_pipeline(random_state=0, device="cpu", controlled=controlled)[0]
    assert loader.color_constancy == "shades_of_gray"
    assert (loader.common_scale == CONTROLLED_INPUTS["common_scale"]) == controlled
    assert _config().rows()[0].make_pipeline(random_state=0, device="cpu")[0] \
        .color_constancy is None


def test_row_ids_change_only_when_it_is_set():
    plain, explicit_none = _config().rows()[0], _config(color_constancy=None).rows()[0]
    grey = _config(color_constancy="grey_world").rows()[0]
    assert plain.row_id == explicit_none.row_id
    assert grey.row_id != plain.row_id


def test_an_unknown_method_names_the_key_and_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: fetch_skin3\ncolor_constancy: white_patch\nmodels: [{name: cnn}]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message and "color_constancy" in message
    assert "shades_of_gray" in message


def test_the_runner_decodes_with_it(tmp_path, skin3_root):
    path = write_config(tmp_path, skin3_root, [{"name": "cnn"}],
                        color_constancy="shades_of_gray",
                        cv={"protocol": "all", "n_splits": 2, "seeds": [0]})
    config = load_config(path)
    data = load_experiment_data(config)
    for images, options in ((data.images, {"resize": "stretch"}),
                            (data.controlled_images, CONTROLLED_INPUTS)):
        expected = ImageLoader(size=16, cache=False, color_constancy="shades_of_gray",
                               **options).transform(list(data.filenames))
        np.testing.assert_array_equal(images, expected)
        plain = ImageLoader(size=16, cache=False, **options).transform(list(data.filenames))
        assert not np.array_equal(images, plain)
    # The config a saved model records (model metadata) carries it too.
    assert config_as_run(config, config.rows()[0])["color_constancy"] == "shades_of_gray"
    assert "color_constancy" not in config_as_run(_config(), _config().rows()[0])


def test_train_saves_it_and_info_and_predict_use_it(tmp_path, skin3_root, capsys):
    from skin_estimators import load_model
    from skin_estimators.cli import main

    config = write_config(tmp_path, skin3_root, [{"name": "cnn", "params": {
        "max_epochs": 1, "batch_size": 8}}], color_constancy="grey_world")
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    model = load_model(out / "model.safetensors")
    assert model[0].color_constancy == "grey_world"
    capsys.readouterr()
    assert main(["info", str(out / "model.safetensors")]) == 0
    assert "color_constancy=grey_world" in capsys.readouterr().out
    photo = sorted((skin3_root / "acne").iterdir())[0]
    csv = tmp_path / "p.csv"
    assert main(["predict", str(out / "model.safetensors"), str(photo), "--out", str(csv),
                 "-q"]) == 0
    np.testing.assert_allclose(
        [float(v) for v in csv.read_text().splitlines()[1].split(",")[2:5]],
        model.predict_proba([str(photo)])[0], atol=1e-5)
