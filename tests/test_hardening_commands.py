"""Commands refuse what they cannot do well, before writing anything: an --out inside the
data folder (train, cv), augmentation parameters out of range, parameters that cannot go
together, and --tta where the model already averages the mirror image."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from skin_estimators.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*do not start with an atlas page")


def _folder(root, per_class=4):
    rng = np.random.RandomState(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.randint(0, 256, (20, 24, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(root / cls / f"1-{i}-{cls}.png")
    return root


def _config(path, data, params="{pretrainedfeatures__pretrained: false}", name="recommended"):
    path.write_text(
        f"data: {{path: {data}}}\nimage_size: 32\nnormalization: efficientnet_lite\n"
        "cv: {protocol: stratified, n_splits: 2, seeds: [0]}\n"
        f"models:\n  - name: {name}\n    params: {params}\n")
    return path


def _tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, dirs, files in os.walk(root) for f in files + dirs)


def _last_line(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


# --------------------------------------------------------------- --out inside the data folder
@pytest.mark.parametrize("command", ["train", "cv"])
@pytest.mark.parametrize("where", ["root", "class"])
def test_out_inside_the_data_folder_is_refused_before_writing(command, where, tmp_path,
                                                              capsys):
    data = _folder(tmp_path / "data")
    before = _tree(data)
    config = _config(tmp_path / "c.yaml", data)
    out = data / "runs" if where == "root" else data / "a" / "runs"
    args = ([command, "--config", str(config), "--out", str(out), "--quiet"]
            + (["--test-size", "0"] if command == "train" else ["--no-tracking"]))
    assert main(args) == 2
    assert "lies inside the data folder" in _last_line(capsys)
    assert _tree(data) == before


def test_out_inside_a_linked_class_folder_is_refused(tmp_path, capsys):
    elsewhere = _folder(tmp_path / "elsewhere")
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(elsewhere / "a", data / "a")
    os.symlink(elsewhere / "b", data / "b")
    config = _config(tmp_path / "c.yaml", data)
    out = elsewhere / "a" / "run"
    assert main(["train", "--config", str(config), "--out", str(out), "--test-size", "0",
                 "-q"]) == 2
    assert "lies inside" in _last_line(capsys) and not out.exists()


# ---------------------------------------------------------------- augmentation parameters
def test_augment_parameters_out_of_range_name_the_key(tmp_path, capsys):
    data = _folder(tmp_path / "data")
    config = _config(tmp_path / "c.yaml", data, name="cnn",
                     params="{max_epochs: 1, augment: {resized_crop: {scale: [2, 3]}}}")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o"), "-q"]) == 2
    line = _last_line(capsys)
    assert "models[0].params.augment" in line and "resized_crop.scale" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("augment, match", [
    ({"resized_crop": {"scale": [0.5, 0.2]}}, "resized_crop.scale"),
    ({"resized_crop": {"zoom": 2}}, "no parameter 'zoom'"),
    ({"hflip": {"p": 0.5}}, "no parameter 'p'"),
    ({"affine": {"max_degrees": float("nan")}}, "affine.max_degrees"),
    ({"color": {"contrast": 1.5}}, "color.contrast"),
    ({"resized_crop": [0.5, 1]}, "must be a mapping"),
])
def test_bad_augment_parameters_are_refused(augment, match):
    from skin_estimators.classifiers._augment import make_augmenter

    with pytest.raises(ValueError, match=match):
        make_augmenter(augment)


def test_augment_parameters_are_honoured():
    from skin_estimators.classifiers._augment import make_augmenter

    x = torch.rand(4, 3, 16, 16)
    whole = make_augmenter({"resized_crop": {"scale": [1, 1], "ratio": [1, 1]}})
    torch.testing.assert_close(whole(x), x, atol=1e-5, rtol=0)
    torch.manual_seed(0)
    quarter = make_augmenter({"resized_crop": {"scale": [0.25, 0.25], "ratio": [1, 1]}})(x)
    assert quarter.shape == x.shape and not torch.allclose(quarter, x, atol=1e-3)


def test_augment_dict_is_a_valid_cnn_parameter():
    from sklearn.base import clone

    from skin_estimators import VanillaCNNClassifier

    X = np.random.RandomState(0).randn(4, 3, 16, 16).astype("float32")
    clf = VanillaCNNClassifier(max_epochs=1, augment={"resized_crop": {"scale": [0.5, 1]}})
    clone(clf).fit(X, ["a", "b"] * 2)
    with pytest.raises(ValueError, match="resized_crop.scale"):
        VanillaCNNClassifier(max_epochs=1, augment={"resized_crop": {"scale": [2, 3]}}).fit(
            X, ["a", "b"] * 2)


# ------------------------------------------------------------ parameters that cannot go together
def test_trainable_stages_with_freeze_backbone_is_a_config_error(tmp_path, capsys):
    data = _folder(tmp_path / "data")
    config = _config(tmp_path / "c.yaml", data, name="efficientnet_lite",
                     params="{max_epochs: 1, pretrained: false, trainable_stages: 2, "
                            "freeze_backbone: true}")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o"), "-q"]) == 2
    line = _last_line(capsys)
    assert "c.yaml" in line and "models[0].params" in line
    assert "trainable_stages" in line and "freeze_backbone" in line
