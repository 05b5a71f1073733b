"""Tests for skin_estimators.audit.evaluate_model and the ``evaluate`` command."""

import csv
import os

import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import make_pipeline

from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier, save_model
from skin_estimators.audit import evaluate_model
from skin_estimators.cli import main

_COLOURS = {"acne": (200, 40, 40), "herpes_simplex": (40, 200, 40), "lichen_planus": (40, 40, 200)}


def _folder(root, classes=_COLOURS, per_class=4, seed=0):
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            colour = np.array(_COLOURS.get(name, (128, 128, 128)))
            pixels = np.clip(colour + rng.normal(0, 10, (20, 20, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from skin_estimators.datasets import load_image_folder

    root = tmp_path_factory.mktemp("model")
    data = load_image_folder(_folder(root / "train"), groups=None)
    model = make_pipeline(ImageLoader(size=16), ChannelNormalizer(),
                          VanillaCNNClassifier(max_epochs=2, batch_size=4, verbose=0))
    model.fit(data.filenames, data.target)
    path = root / "model.safetensors"
    save_model(model, path)
    return path


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_evaluate_command_writes_its_outputs(model_file, tmp_path, capsys):
    data = _folder(tmp_path / "clinic", seed=1)
    out = tmp_path / "eval"
    assert main(["evaluate", str(model_file), str(data), "--out", str(out), "-q"]) == 0
    assert sorted(os.listdir(out)) == ["confusion_matrix.png", "predictions.csv", "report.html",
                                       "report.txt", "risk_coverage.png"]
    rows = _rows(out / "predictions.csv")
    assert len(rows) == 12
    assert list(rows[0]) == ["image_path", "true_class", "pred_class", "proba_acne",
                             "proba_herpes_simplex", "proba_lichen_planus", "error"]
    for row in rows:
        assert row["true_class"] == os.path.basename(os.path.dirname(row["image_path"]))
        probs = [float(row[f"proba_{c}"]) for c in _COLOURS]
        assert sum(probs) == pytest.approx(1, abs=1e-4) and row["error"] == ""
        assert row["pred_class"] == max(_COLOURS, key=lambda c: float(row[f"proba_{c}"]))
    report = (out / "report.txt").read_text()
    assert "macro recall" in report and "Sensitivity and specificity" in report
    assert report.splitlines()[0] in capsys.readouterr().out


def test_bad_files_get_a_row_and_exit_1(model_file, tmp_path, capsys):
    data = _folder(tmp_path / "clinic", per_class=2)
    (data / "acne" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "eval"
    assert main(["evaluate", str(model_file), str(data), "--out", str(out), "-q"]) == 1
    rows = _rows(out / "predictions.csv")
    bad = [r for r in rows if r["error"]]
    assert len(rows) == 7 and len(bad) == 1
    assert bad[0]["image_path"].endswith("broken.jpg") and bad[0]["pred_class"] == ""
    assert bad[0]["proba_acne"] == "" and bad[0]["true_class"] == "acne"
    assert "1 file(s) could not be read" in capsys.readouterr().err
    assert "6 of 7 photos scored" in (out / "report.txt").read_text()


def test_unknown_class_is_a_clear_error(model_file, tmp_path, capsys):
    data = _folder(tmp_path / "clinic", classes=["acne", "psoriasis"], per_class=1)
    code = main(["evaluate", str(model_file), str(data), "--out", str(tmp_path / "eval")])
    assert code == 1
    err = capsys.readouterr().err
    assert "'psoriasis'" in err and "the model knows" in err
    assert not (tmp_path / "eval").exists()


def test_evaluate_model_function(model_file, tmp_path):
    from skin_estimators import load_model

    model = load_model(model_file)
    data = _folder(tmp_path / "clinic", classes=["acne", "lichen_planus"], per_class=3)
    files = sorted(str(p) for p in data.glob("*/*.png"))
    y = [os.path.basename(os.path.dirname(f)) for f in files]
    result = evaluate_model(model, files, y)
    assert result.n_errors == 0 and result.proba.shape == (6, 3)
    assert result.confusion_matrix.shape == (3, 3) and result.confusion_matrix.sum() == 6
    # the recall is averaged over the classes the photos hold (2), not the model's (3)
    expected = np.mean([np.mean(result.y_pred[np.array(y) == c] == c)
                        for c in ("acne", "lichen_planus")])
    assert result.macro_recall == pytest.approx(expected)
    with pytest.raises(ValueError, match="one class per file"):
        evaluate_model(model, files, y[:-1])


@pytest.mark.parametrize("command", ["audit", "evaluate"])
def test_help_and_usage(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"skin-estimators {command}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main([command, "x"])  # no --out (and, for evaluate, no DATA)
    assert exc.value.code == 2
