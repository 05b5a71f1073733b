"""Odd entries in image folders (a link that loops, a FIFO) and decompression bombs: every
command lists folders with the one listing function and names the file with its reason."""

import csv
import os

import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import make_pipeline

from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier, save_model
from skin_estimators.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*do not start with an atlas page")

LOOP = "a link that loops"
FIFO = "not a regular file (a FIFO)"


def _folder(root, per_class=6, seed=0):
    rng = np.random.RandomState(seed)
    for cls, colour in (("a", (200, 40, 40)), ("b", (40, 40, 200))):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.clip(np.array(colour) + rng.normal(0, 20, (20, 24, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / cls / f"{cls}{i}.png")
    return root


def _odd(root):
    os.symlink("loop.jpg", root / "a" / "loop.jpg")
    os.mkfifo(root / "b" / "fifo.jpg")
    return root


@pytest.fixture
def odd_folder(tmp_path):
    return _odd(_folder(tmp_path / "data"))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from skin_estimators.datasets import load_image_folder

    root = tmp_path_factory.mktemp("model")
    data = load_image_folder(_folder(root / "train"), groups=None)
    model = make_pipeline(ImageLoader(size=16), ChannelNormalizer(),
                          VanillaCNNClassifier(max_epochs=1, batch_size=4, verbose=0))
    save_model(model.fit(data.filenames, data.target), root / "model.safetensors")
    return root / "model.safetensors"


def _config(tmp_path, data):
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data: {{path: {data}}}\nimage_size: 32\nnormalization: efficientnet_lite\n"
        "cv: {protocol: stratified, n_splits: 2, seeds: [0]}\n"
        "models:\n  - name: recommended\n    params: {pretrainedfeatures__pretrained: false}\n")
    return config


def _named(err, name, reason):
    return any(name in line and reason in line for line in err.splitlines())


def test_listing_keeps_odd_entries_and_the_loader_names_them(odd_folder):
    from skin_estimators.datasets import load_image_folder
    from skin_estimators.inference import transform_files

    data = load_image_folder(odd_folder, groups=None)
    names = [os.path.basename(f) for f in data.filenames]
    assert "loop.jpg" in names and "fifo.jpg" in names
    _, ok, errors = transform_files(ImageLoader(size=16), data.filenames)
    reasons = {os.path.basename(data.filenames[i]): r for i, r in errors.items()}
    assert LOOP in reasons["loop.jpg"] and reasons["fifo.jpg"] == FIFO
    assert len(ok) == 12


def test_evaluate_gives_an_error_row_for_a_loop_and_a_fifo(model_file, odd_folder, tmp_path):
    out = tmp_path / "eval"
    assert main(["evaluate", str(model_file), str(odd_folder), "--out", str(out), "-q"]) == 1
    with open(out / "predictions.csv", newline="") as f:
        rows = {os.path.basename(r["image_path"]): r for r in csv.DictReader(f)}
    assert LOOP in rows["loop.jpg"]["error"] and rows["fifo.jpg"]["error"] == FIFO
    assert rows["a0.png"]["error"] == "" and len(rows) == 14


def test_describe_lists_a_loop_and_a_fifo_as_unreadable(odd_folder, tmp_path):
    import json

    out = tmp_path / "d"
    assert main(["describe", str(odd_folder), "--out", str(out), "-q"]) == 1
    unreadable = json.loads((out / "summary.json").read_text())["unreadable"]
    reasons = {os.path.basename(k): v for k, v in unreadable.items()}
    assert LOOP in reasons["loop.jpg"] and reasons["fifo.jpg"] == FIFO


@pytest.mark.parametrize("command", ["audit", "train", "cv"])
def test_audit_train_cv_name_the_odd_files(command, odd_folder, tmp_path, capsys):
    out = tmp_path / "out"
    if command == "audit":
        args = ["audit", str(odd_folder), "--out", str(out), "--n-estimators", "3"]
    elif command == "train":
        args = ["train", "--config", str(_config(tmp_path, odd_folder)), "--out", str(out),
                "--test-size", "0", "-q"]
    else:
        args = ["cv", "--config", str(_config(tmp_path, odd_folder)), "--out", str(out),
                "--quiet", "--no-tracking"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "Errno 40" not in err and "Traceback" not in err
    assert _named(err, "loop.jpg", LOOP) and _named(err, "fifo.jpg", FIFO)


def test_predict_says_a_fifo_is_not_a_regular_file(model_file, odd_folder, tmp_path):
    out = tmp_path / "p.csv"
    assert main(["predict", str(model_file), str(odd_folder), "--out", str(out), "-q"]) == 1
    with open(out, newline="") as f:
        rows = {os.path.basename(r["image_path"]): r for r in csv.DictReader(f)}
    assert rows["fifo.jpg"]["error"] == FIFO and LOOP in rows["loop.jpg"]["error"]


def _bombs(root):
    # Headers claiming 20000 x 20000 (over twice Pillow's limit: an error in Pillow) and
    # 10000 x 10000 pixels (between the limit and twice it: only a warning in Pillow).
    Image.new("1", (20000, 20000)).save(root / "a" / "huge.png")
    Image.new("1", (10000, 10000)).save(root / "b" / "large.png")
    Image.open(root / "a" / "a0.png").convert("RGB").save(root / "b" / "full.jpg")
    jpeg = (root / "b" / "full.jpg").read_bytes()
    (root / "b" / "full.jpg").unlink()
    (root / "b" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    return root


def test_audit_names_bombs_and_truncated_files_in_one_error(tmp_path, capsys):
    import warnings

    root = _bombs(_folder(tmp_path / "data"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        code = main(["audit", str(root), "--out", str(tmp_path / "out"), "--n-estimators", "3"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and not (tmp_path / "out").exists()
    assert _named(err, "huge.png", "MAX_IMAGE_PIXELS")
    assert _named(err, "large.png", "MAX_IMAGE_PIXELS")
    assert _named(err, "truncated.jpg", "truncated")


def test_a_bomb_warning_becomes_one_reason_naming_the_file(tmp_path, recwarn):
    from skin_estimators.inference import transform_files

    root = _bombs(_folder(tmp_path / "data"))
    _, _, errors = transform_files(ImageLoader(size=16), [str(root / "b" / "large.png")])
    assert "MAX_IMAGE_PIXELS" in errors[0]
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
