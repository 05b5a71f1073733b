"""The skin-estimators command line: every subcommand's help, success and usage errors."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skin_estimators import load_model, save_model
from skin_estimators._commands import SUBCOMMANDS
from skin_estimators.cli import main

MINE = ["train", "predict", "describe", "info", "explain"]


@pytest.fixture(scope="module")
def subset(skin3_root, tmp_path_factory):
    """A class-per-folder copy of 8 images per class (symlinks): fast to train on."""
    root = tmp_path_factory.mktemp("subset")
    for cls in sorted(os.listdir(skin3_root)):
        (root / cls).mkdir()
        for name in sorted(os.listdir(skin3_root / cls))[:8]:
            os.symlink(skin3_root / cls / name, root / cls / name)
    return root


@pytest.fixture(scope="module")
def trained(subset, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = out / "cnn.yaml"
    # data relative to the config file, as configs are written
    rel = os.path.relpath(subset, out)
    config.write_text(
        f"data: {{path: {rel}}}\nimage_size: 16\n"
        "models:\n  - name: cnn\n    params: {lr: 0.01, max_epochs: 1, batch_size: 8}\n"
    )
    code = main(["train", "--config", str(config), "--out", str(out / "run"), "--quiet"])
    assert code == 0
    return out / "run"


@pytest.fixture
def new_images(skin3_root, tmp_path):
    """A folder of new images: 3 photos (one in a sub-folder), a corrupt JPEG, a text file."""
    folder = tmp_path / "new"
    (folder / "sub").mkdir(parents=True)
    photos = sorted((skin3_root / "acne").iterdir())[-2:] + \
        sorted((skin3_root / "lichen_planus").iterdir())[-1:]
    shutil.copy(photos[0], folder / "a.jpg")
    shutil.copy(photos[1], folder / "b with space.jpg")
    shutil.copy(photos[2], folder / "sub" / "c.jpg")
    (folder / "corrupt.jpg").write_bytes(photos[0].read_bytes()[:2000])
    (folder / "notes.txt").write_text("not an image\n")
    return folder


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------ help and usage
def test_subcommands_are_registered():
    assert set(MINE) <= set(SUBCOMMANDS)


@pytest.mark.parametrize("command", MINE)
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"skin-estimators {command}" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["train", "--out", "x"],                                 # no --config
    ["train", "--config", "c.yaml", "--out", "x", "--test-size", "1.5"],
    ["predict", "model.safetensors"],                         # no PATH
    ["predict", "m", "p", "--batch-size", "0"],
    ["describe", "data"],                                     # no --out
    ["info"],                                                 # no MODEL
    ["explain", "m", "img.jpg"],                              # no --out
    ["explain", "m", "img.jpg", "--out", "d", "--method", "lime"],
    ["no-such-command"],
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_bad_config_is_a_usage_error_naming_the_key(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("data: fetch_skin3\nimage_sise: 16\nmodels: [{name: cnn}]\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "image_sise" in err
    config.write_text("data: fetch_skin3\nmodels: [{name: vgg}]\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    assert "vgg" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "missing.yaml"), "--out", "o"]) == 2


def test_config_with_several_rows_needs_row(tmp_path, capsys):
    from skin_estimators.experiments import load_config, select_row

    config = tmp_path / "grid.yaml"
    config.write_text("data: fetch_skin3\nimage_size: 32\nmodels:\n"
                      "  - {name: cnn, params: {max_epochs: 1}, grid: {lr: [0.1, 0.01]}}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--row" in err and "0.01" in err
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o"),
                 "--row", "2"]) == 2
    assert "out of range" in capsys.readouterr().err
    parsed = load_config(config)
    row = select_row(parsed, 1)
    assert row.model == "cnn" and row.params == {"max_epochs": 1, "lr": 0.01}
    assert parsed.data.fetch_skin3 and row.image_size == 32 and row.normalization == "fold"


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "skin_estimators.cli", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for command in MINE:
        assert command in out


# ------------------------------------------------------------------ train
def test_train_writes_model_report_figures_and_config(trained):
    names = set(os.listdir(trained))
    assert {"model.safetensors", "report.txt", "confusion_matrix.png", "misclassified.csv",
            "misclassified.png", "config.yaml"} <= names
    report = (trained / "report.txt").read_text()
    assert "recall" in report and "spe" in report
    assert "19 training images, 5 test images" in report
    with open(trained / "misclassified.csv") as f:
        assert next(csv.reader(f)) == ["path", "true", "predicted", "probability"]
    from skin_estimators.experiments import load_config, select_row

    # config.yaml is a config of the same schema: the run can be repeated from it
    again = select_row(load_config(trained / "config.yaml"))
    assert again.model == "cnn" and again.image_size == 16
    assert again.params == {"lr": 0.01, "max_epochs": 1, "batch_size": 8}
    assert "--test-size 0.2" in (trained / "config.yaml").read_text()
    model = load_model(trained / "model.safetensors")
    assert model[0].size == 16
    assert model[-1].verbose == 0  # the progress bar was for the run, not the saved model


def test_train_on_all_data_in_joblib(subset, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{path: {subset}}}\nimage_size: 16\n"
                      "models:\n  - {name: cnn, params: {max_epochs: 1, batch_size: 8}}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o"),
                 "--test-size", "0", "--format", "joblib", "-q"]) == 0
    assert {"model.joblib", "report.txt", "config.yaml"} <= set(os.listdir(tmp_path / "o"))
    assert "nothing to evaluate" in (tmp_path / "o" / "report.txt").read_text()
    # the joblib file carries the training metadata too
    from skin_estimators.persistence import load_model_metadata

    meta = load_model_metadata(tmp_path / "o" / "model.joblib", trust_pickle=True)
    assert meta["format"] == "joblib" and meta["metadata"]["training"]["n_images"] == 24
    assert len(meta["metadata"]["training"]["data_sha256"]) == 64
    assert not hasattr(load_model(tmp_path / "o" / "model.joblib", trust_pickle=True),
                       "_skin_estimators_file_metadata")


BEST = Path(__file__).resolve().parents[1] / "benchmarks" / "configs" / "best.yaml"


def test_train_best_config_then_predict(skin3_root, new_images, tmp_path):
    """The README's final-model command on the recommended config (random backbone weights,
    32 px, 4 images per class), then `predict` with the model it wrote."""
    out = tmp_path / "best"
    assert main(["train", "--config", str(BEST), "--test-size", "0", "--out", str(out), "-q",
                 "--set", "image_size=32", "--set", "data.images_per_class=4",
                 "--set", "models.0.params.pretrainedfeatures__pretrained=false",
                 "--set", "trust.cv=2"]) == 0
    model = load_model(out / "model.safetensors")
    inner = model[-1].estimator_  # best.yaml's trust: section wraps the recommended model
    assert [name for name, _ in inner.steps] == [
        "pretrainedfeatures", "domainadapter", "standardscaler", "logisticregression"]
    assert inner[0].stages == (2, 3, 4, 5, 6) and inner[0].mirror
    assert model[0].size == 32 and model[1].mean == "efficientnet_lite"
    files = [str(new_images / "a.jpg"), str(new_images / "sub" / "c.jpg")]
    assert main(["predict", str(out / "model.safetensors"), *files,
                 "--out", str(tmp_path / "p.csv"), "-q"]) == 0
    rows = _rows(tmp_path / "p.csv")
    assert [r["error"] for r in rows] == ["", ""]
    np.testing.assert_allclose(
        [float(rows[0][f"proba_{c}"]) for c in model[-1].classes_],
        model.predict_proba(files[:1])[0], atol=1e-6)


@pytest.mark.parametrize("name, params", [
    ("cnn", {}),
    ("scattering", {}),
    ("recommended", {"pretrainedfeatures__pretrained": False}),
    ("skin_estimators:make_recommended_classifier", {"pretrainedfeatures__pretrained": False}),
    ("skin_estimators.classifiers._recommended:make_scattering_recommended", {}),
    ("resnet50", {"pretrained": False}),
    ("bit", {"pretrained": False}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_every_registry_name_trains(name, params, subset, tmp_path):
    config = tmp_path / "c.yaml"
    net = "pretrainedfeatures__pretrained" not in params  # the recommended model has no epochs
    if net:
        params = {"max_epochs": 1, "batch_size": 8, "random_state": 0, **params}
    config.write_text(f"data: {{path: {subset}, images_per_class: 3}}\nimage_size: 32\n"
                      f"models:\n  - {{name: '{name}', params: {params}}}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o"),
                 "--test-size", "0", "-q"]) == 0
    model = load_model(tmp_path / "o" / "model.safetensors")
    assert len(model[-1].classes_) == 3
    if net:
        assert model[-1].max_epochs == 1


# ------------------------------------------------------------------ predict
def test_predict_has_a_row_for_every_input(trained, new_images, tmp_path, capsys):
    out = tmp_path / "predictions.csv"
    code = main(["predict", str(trained / "model.safetensors"), str(new_images),
                 str(tmp_path / "missing.jpg"), "--out", str(out), "--batch-size", "2", "-q"])
    assert code == 1  # some rows have errors
    rows = _rows(out)
    by_name = {os.path.basename(r["image_path"]): r for r in rows}
    assert set(by_name) == {"a.jpg", "b with space.jpg", "c.jpg", "corrupt.jpg", "notes.txt",
                            "missing.jpg"}
    model = load_model(trained / "model.safetensors")
    classes = model[-1].classes_.tolist()
    assert list(rows[0]) == ["image_path", "pred_class", *[f"proba_{c}" for c in classes],
                             "prediction_set", "out_of_scope_score", "flag", "error"]
    for name in ("a.jpg", "b with space.jpg", "c.jpg"):
        row = by_name[name]
        assert row["error"] == "" and row["pred_class"] in classes
        proba = [float(row[f"proba_{c}"]) for c in classes]
        assert abs(sum(proba) - 1) < 1e-4
        np.testing.assert_allclose(proba, model.predict_proba([row["image_path"]])[0],
                                   atol=1e-6)
    for name in ("corrupt.jpg", "notes.txt", "missing.jpg"):
        assert by_name[name]["error"] and by_name[name]["pred_class"] == ""
    assert "truncated" in by_name["corrupt.jpg"]["error"]
    assert "not an image" in by_name["notes.txt"]["error"]


def test_predict_all_good_exits_0_and_tta(trained, new_images, tmp_path):
    files = [str(new_images / "a.jpg"), str(new_images / "sub" / "c.jpg")]
    model = str(trained / "model.safetensors")
    assert main(["predict", model, *files, "--out", str(tmp_path / "p.csv"), "-q"]) == 0
    assert main(["predict", model, *files, "--out", str(tmp_path / "t.csv"), "--tta", "-q"]) == 0
    assert len(_rows(tmp_path / "t.csv")) == 2


def test_predict_writes_atomically(trained, new_images, tmp_path, monkeypatch):
    """A crash half-way through writing leaves the old CSV (or none), never half a file."""
    out = tmp_path / "out" / "predictions.csv"
    out.parent.mkdir()
    out.write_text("old content\n")
    real_writer = csv.writer

    class CrashingWriter:
        def __init__(self, f):
            self.inner, self.n = real_writer(f), 0

        def writerow(self, row):
            self.n += 1
            if self.n > 3:  # header and two rows are in the temporary file by now
                raise KeyboardInterrupt("killed")
            self.inner.writerow(row)

    monkeypatch.setattr(csv, "writer", CrashingWriter)
    model = str(trained / "model.safetensors")
    assert main(["predict", model, str(new_images), "--out", str(out), "-q"]) == 130
    assert out.read_text() == "old content\n"
    assert os.listdir(out.parent) == ["predictions.csv"]  # no temporary file left behind
    out.unlink()
    assert main(["predict", model, str(new_images), "--out", str(out), "-q"]) == 130
    assert not out.exists()


_KILL_SCRIPT = """
import csv, sys, time
real = csv.writer
class Slow:
    def __init__(self, f):
        self.f, self.inner, self.n = f, real(f), 0
    def writerow(self, row):
        self.inner.writerow(row)
        self.n += 1
        if self.n == 2:  # header and one row written: wait here to be killed
            self.f.flush()
            open(sys.argv[1], "w").close()
            time.sleep(120)
csv.writer = Slow
from skin_estimators.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.timeout(600)  # a hang guard: predict starts writing in seconds
def test_predict_killed_mid_write_leaves_the_old_file(trained, new_images, tmp_path):
    """SIGKILL while the CSV is being written: no cleanup runs, the old file is still whole."""
    import signal
    import time

    out = tmp_path / "out" / "predictions.csv"
    out.parent.mkdir()
    out.write_text("old content\n")
    marker = tmp_path / "writing"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(marker), "predict",
         str(trained / "model.safetensors"), str(new_images), "--out", str(out), "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while not marker.exists():  # the test's timeout is the hang guard
            assert proc.poll() is None, "predict ended before writing"
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.read_text() == "old content\n"
    partial = [n for n in os.listdir(out.parent) if n != "predictions.csv"]
    assert all(n.startswith(".predictions.csv.") for n in partial)  # only a hidden temp file


def test_joblib_model_needs_trust_pickle(trained, new_images, tmp_path, capsys):
    path = tmp_path / "model.joblib"
    save_model(load_model(trained / "model.safetensors"), path, format="joblib")
    image = str(new_images / "a.jpg")
    out = str(tmp_path / "p.csv")
    assert main(["predict", str(path), image, "--out", out, "-q"]) == 1
    assert "--trust-pickle" in capsys.readouterr().err
    assert not os.path.exists(out)
    assert main(["predict", str(path), image, "--out", out, "--trust-pickle", "-q"]) == 0
    assert main(["info", str(path)]) == 1
    assert main(["info", str(path), "--trust-pickle"]) == 0


def test_corrupt_model_file_is_a_one_line_error(new_images, tmp_path, capsys):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}")
    assert main(["predict", str(bad), str(new_images), "--out", str(tmp_path / "p.csv")]) == 1
    err = capsys.readouterr().err
    assert "model.safetensors" in err and "Traceback" not in err


# ------------------------------------------------------------------ info
def test_info_prints_the_fields(trained, capsys):
    assert main(["info", str(trained / "model.safetensors")]) == 0
    out = capsys.readouterr().out
    for field in ("classes:", "architecture:", "trainable parameters:", "image size:",
                  "library versions", "training data hash:", "parameters:"):
        assert field in out
    assert "acne, herpes_simplex, lichen_planus" in out
    assert "VanillaCNNClassifier" in out and "16x16" in out
    assert "lr = 0.01" in out
    assert "training data hash:   unknown" not in out


def test_info_json_and_unknown_training_data(trained, tmp_path, capsys):
    import json

    path = tmp_path / "from_python.safetensors"
    save_model(load_model(trained / "model.safetensors"), path)  # no training metadata
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["training_data_sha256"] == "unknown"
    assert info["classes"] == ["acne", "herpes_simplex", "lichen_planus"]
    assert info["trainable_parameters"] > 0


# ------------------------------------------------------------------ describe
def test_describe_writes_its_pictures(subset, tmp_path, capsys):
    out = tmp_path / "describe"
    assert main(["describe", str(subset), "--out", str(out), "--size", "32", "-q"]) == 0
    assert {"class_distribution.png", "sizes.png", "samples.png", "summary.json"} <= \
        set(os.listdir(out))
    printed = capsys.readouterr().out
    assert "24 images in 3 classes" in printed
    assert "channel mean" in printed and "width:" in printed
    for name in ("class_distribution.png", "sizes.png", "samples.png"):
        with Image.open(out / name) as im:
            assert im.size[0] > 100


def test_describe_missing_folder_fails(tmp_path, capsys):
    assert main(["describe", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1
    assert "nope" in capsys.readouterr().err


# ------------------------------------------------------------------ explain
def test_explain_writes_one_image_per_input_with_its_size(trained, new_images, tmp_path):
    inputs = [new_images / "a.jpg", new_images / "sub" / "c.jpg"]
    out = tmp_path / "expl"
    assert main(["explain", str(trained / "model.safetensors"), *map(str, inputs),
                 "--out", str(out), "-q"]) == 0
    rows = _rows(out / "explanations.csv")
    assert len(rows) == 2
    for src, row in zip(inputs, rows, strict=True):
        assert row["method"] == "gradcam" and row["error"] == ""
        with Image.open(src) as a, Image.open(row["overlay_path"]) as b:
            assert a.size == b.size


def test_explain_reports_unreadable_images(trained, new_images, tmp_path):
    out = tmp_path / "expl"
    code = main(["explain", str(trained / "model.safetensors"), str(new_images / "a.jpg"),
                 str(new_images / "notes.txt"), "--out", str(out), "-q",
                 "--method", "gradient"])
    assert code == 1
    rows = _rows(out / "explanations.csv")
    assert [bool(r["error"]) for r in rows] == [False, True]
    assert len([n for n in os.listdir(out) if n.endswith(".png")]) == 1


def test_bad_config_is_a_usage_error_for_cv_and_train(tmp_path, capsys):
    from skin_estimators.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndata: fetch_skin3\nimage_size: 32\nmodels:\n  - name: cnn\n    params: {lrr: 1}\n")
    assert main(["cv", "--config", str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    cv_err = capsys.readouterr().err
    assert "models[0].params.lrr" in cv_err
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "m.safetensors")]) == 2
    train_err = capsys.readouterr().err
    # one error path: the same message, under each command's name
    assert cv_err.replace("skin-estimators cv", "CMD") == \
        train_err.replace("skin-estimators train", "CMD")
    assert train_err.count("error:") == 1 and "Traceback" not in train_err


def test_train_says_what_it_trains_on(subset, tmp_path, capsys):
    """The first line counts the training images per class and the held-out ones."""
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{path: {subset}}}\nimage_size: 16\n"
                      "models:\n  - {name: cnn, params: {max_epochs: 1, batch_size: 8}}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o"),
                 "--test-size", "6"]) == 0
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("Training cnn on 18 images (")
    assert "6 held out for testing; 16x16 stretch inputs" in first


def test_ctrl_c_during_train_saves_no_model(subset, tmp_path, monkeypatch, capsys, request):
    """skorch ends a fit quietly on KeyboardInterrupt; train must not save that model."""
    import signal

    from skorch.callbacks import EpochTimer

    original = EpochTimer.on_epoch_end

    def ctrl_c_at_epoch_2(self, net, **kwargs):
        original(self, net, **kwargs)
        if len(net.history) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(EpochTimer, "on_epoch_end", ctrl_c_at_epoch_2)
    # Python's own Ctrl-C handler, even where the test runner was started with SIGINT ignored
    # (a background job of a non-interactive shell); restored afterwards.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{path: {subset}}}\nimage_size: 16\n"
                      "models:\n  - {name: cnn, params: {max_epochs: 5, batch_size: 8}}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o"), "-q"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
