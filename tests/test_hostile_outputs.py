"""What the commands write: never inside their inputs, never partial, with the user's
permissions, and every figure they print true."""

import errno
import os
import re
import warnings
from dataclasses import MISSING, fields

import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import make_pipeline

from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier, save_model
from skin_estimators.cli import main

_COLOURS = {"acne": (200, 40, 40), "herpes_simplex": (40, 200, 40),
            "lichen_planus": (40, 40, 200)}
_AUDIT_FAST = ["--no-pictures", "--n-jobs", "1", "--image-size", "32", "--n-estimators", "3"]
_ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _folder(root, classes=tuple(_COLOURS), per_class=3, seed=0, size=16):
    """Class folders of small noisy single-colour photos, named like atlas pages."""
    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            colour = np.array(_COLOURS.get(name, (128, 128, 128)))
            pixels = np.clip(colour + rng.normal(0, 10, (size, size, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{k + 1}-{i}-{i}.png")
    return root


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from skin_estimators.datasets import load_image_folder

    root = tmp_path_factory.mktemp("model")
    data = load_image_folder(_folder(root / "train", per_class=4), groups=None)
    model = make_pipeline(ImageLoader(size=16), ChannelNormalizer(),
                          VanillaCNNClassifier(max_epochs=2, batch_size=4, verbose=0))
    model.fit(data.filenames, data.target)
    path = root / "model.safetensors"
    save_model(model, path)
    return path


@pytest.fixture(scope="module")
def audit_result(tmp_path_factory):
    from skin_estimators.audit import audit_images
    from skin_estimators.datasets import load_image_folder

    data = load_image_folder(_folder(tmp_path_factory.mktemp("audit") / "data", per_class=4,
                                     size=40))
    return audit_images(data.filenames, data.target, data.groups, image_size=32, n_splits=2,
                        n_duplicates=2, n_estimators=3)


# ------------------------------------------------------------------ --out inside DATA
@pytest.mark.parametrize("where", ["class folder", "new folder", "data folder", "via a link",
                                   "relative"])
def test_evaluate_out_inside_data_is_refused(where, model_file, tmp_path, monkeypatch,
                                             capsys):
    data = _folder(tmp_path / "clinic")
    (tmp_path / "link").symlink_to(data)
    out = {"class folder": data / "acne", "new folder": data / "results", "data folder": data,
           "via a link": tmp_path / "link" / "acne" / "eval", "relative": "clinic/acne"}[where]
    monkeypatch.chdir(tmp_path)
    before = _tree(data)
    code = main(["evaluate", str(model_file), str(data), "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert f"--out {str(out)!r} lies inside the data folder {str(data)!r}" in line
    assert _tree(data) == before  # nothing written into the data


def test_audit_out_inside_data_is_refused(tmp_path, capsys):
    data = _folder(tmp_path / "data", per_class=4, size=40)
    before = _tree(data)
    code = main(["audit", str(data), "--out", str(data / "herpes_simplex"), *_AUDIT_FAST])
    err = capsys.readouterr().err
    assert code == 2 and "lies inside the data folder" in err and str(data) in err
    assert _tree(data) == before
    # a folder beside the data is fine
    assert main(["audit", str(data), "--out", str(tmp_path / "audit"), *_AUDIT_FAST]) == 0


def test_predict_out_inside_a_folder_it_reads_is_refused(model_file, tmp_path, capsys):
    photos = _folder(tmp_path / "photos")
    before = _tree(photos)
    out = photos / "acne" / "predictions.csv"
    code = main(["predict", str(model_file), str(photos), "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and f"lies inside the folder given as PATH {str(photos)!r}" in err
    assert _tree(photos) == before
    # naming single files is fine: the next run reads only those
    files = [str(p) for p in sorted((photos / "acne").iterdir())]
    assert main(["predict", str(model_file), *files, "--out", str(out), "-q"]) == 0


# ------------------------------------------------------------------ atomic audit outputs
def test_audit_report_is_written_atomically(audit_result, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from skin_estimators.audit import write_audit_report

    out = tmp_path / "out"
    out.mkdir()
    (out / "shortcuts.png").write_bytes(b"old picture")
    real_savefig = Figure.savefig

    def full_disk(self, fname, *args, **kwargs):
        real_savefig(self, fname, *args, **kwargs)  # half the bytes are on disk by now...
        raise _ENOSPC

    monkeypatch.setattr(Figure, "savefig", full_disk)
    with pytest.raises(OSError, match="No space left") as exc:
        write_audit_report(audit_result, out)
    assert "shortcuts.png" in str(exc.value) and exc.value.errno == errno.ENOSPC
    assert (out / "shortcuts.png").read_bytes() == b"old picture"
    assert os.listdir(out) == ["shortcuts.png"]  # no temporary file, no other partial file

    monkeypatch.setattr(Figure, "savefig", real_savefig)
    (out / "report.md").write_text("old report\n")
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(_ENOSPC))
    with pytest.raises(OSError, match="No space left") as exc:
        write_audit_report(audit_result, out, pictures=False)
    assert os.fspath(out / "report.md") in str(exc.value)
    assert (out / "report.md").read_text() == "old report\n"
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]
    monkeypatch.setattr(os, "fsync", real_fsync)
    paths = write_audit_report(audit_result, out)
    assert all(os.path.getsize(p) > 0 for p in paths)
    assert (out / "shortcuts.png").read_bytes().startswith(b"\x89PNG")


# ------------------------------------------------------------------ evaluate on a subset
def _macro_row(report):
    """The macro-average recall of the (first, scikit-learn) table of a report."""
    line = next(ln for ln in report.splitlines() if ln.strip().startswith("macro avg"))
    return float(line.split()[3])


def test_evaluate_macro_figures_are_over_the_classes_present(model_file, tmp_path, capsys):
    from skin_estimators import load_model
    from skin_estimators.audit import evaluate_model

    data = _folder(tmp_path / "clinic", classes=("acne", "lichen_planus"), seed=1)
    # herpes-coloured photos filed as acne: predicted as the absent class, they are errors
    _folder(tmp_path / "wrong", classes=("herpes_simplex",), seed=2)
    for p in (tmp_path / "wrong" / "herpes_simplex").iterdir():
        p.rename(data / "acne" / f"9-{p.name}")
    out = tmp_path / "eval"
    main(["evaluate", str(model_file), str(data), "--out", str(out), "-q"])
    stdout = capsys.readouterr().out
    report = (out / "report.txt").read_text()
    headline = float(re.search(r"macro recall (\d\.\d+)", report).group(1))
    assert _macro_row(report) == pytest.approx(headline, abs=1e-3)
    absent = next(ln for ln in report.splitlines() if "no photo here" in ln)
    assert absent.endswith(": herpes_simplex.") and absent in stdout

    model = load_model(model_file)
    files = sorted(str(p) for p in data.glob("*/*.png"))
    y = np.array([os.path.basename(os.path.dirname(f)) for f in files])
    result = evaluate_model(model, files, y)
    assert result.absent_classes == ["herpes_simplex"]
    expected = np.mean([np.mean(result.y_pred[y == c] == c) for c in ("acne", "lichen_planus")])
    assert result.macro_recall == pytest.approx(expected)
    assert _macro_row(result.report) == pytest.approx(expected, abs=1e-3)
    assert result.confusion_matrix.shape == (3, 3)  # predictions of herpes stay visible
    assert result.confusion_matrix.sum() == len(files)


# ------------------------------------------------------------------ fold files, umask
def _fold_record():
    from skin_estimators.experiments._record import FoldRecord

    values = {f.name: 0 for f in fields(FoldRecord)
              if f.default is MISSING and f.default_factory is MISSING}
    return FoldRecord(**{**values, "row_id": "r", "cv": "group", "seed": 0, "fold": 1})


def test_fold_files_get_the_users_umask(tmp_path):
    from skin_estimators.experiments._store import FoldStore

    store = FoldStore(tmp_path)
    old = os.umask(0o022)
    try:
        paths = [store.save_fold(_fold_record()), store.save_model("r", "group", 0, {"a": 1})]
        store.mark_tracked("r", "group", "file:///x", "run")
        paths.append(store.tracked_path("r", "group"))
    finally:
        os.umask(old)
    assert [oct(os.stat(p).st_mode & 0o777) for p in paths] == ["0o644"] * 3


# ------------------------------------------------------------------ disk full: name the file
def test_full_disk_messages_name_the_file(model_file, tmp_path, monkeypatch, capsys):
    from skin_estimators.experiments._store import FoldStore

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    store = FoldStore(tmp_path / "run")
    with pytest.raises(OSError, match="No space left") as exc:
        store.save_fold(_fold_record())
    assert os.fspath(store.fold_path("r", "group", 0, 1)) in str(exc.value)
    assert exc.value.errno == errno.ENOSPC
    assert os.listdir(store.folds_dir) == []  # neither a partial fold nor a temporary file

    data = _folder(tmp_path / "clinic")
    out = tmp_path / "eval"
    code = main(["evaluate", str(model_file), str(data), "--out", str(out), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "No space left on device" in err[0] and str(out / "predictions.csv") in err[0]


# ------------------------------------------------------------------ links: one rule
def test_predict_and_evaluate_both_follow_linked_class_folders(model_file, tmp_path, capsys):
    elsewhere = _folder(tmp_path / "elsewhere", classes=("lichen_planus",))
    data = _folder(tmp_path / "clinic", classes=("acne", "herpes_simplex"))
    (data / "lichen_planus").symlink_to(elsewhere / "lichen_planus", target_is_directory=True)
    (data / "acne" / "loop").symlink_to(data, target_is_directory=True)  # a link loop

    out = tmp_path / "eval"
    assert main(["evaluate", str(model_file), str(data), "--out", str(out), "-q"]) == 0
    evaluated = sorted(os.path.relpath(r.split(",")[0], data) for r in
                       (out / "predictions.csv").read_text().splitlines()[1:])
    assert main(["predict", str(model_file), str(data), "--out", str(tmp_path / "p.csv"),
                 "-q"]) == 0
    predicted = sorted(os.path.relpath(r.split(",")[0], data) for r in
                       (tmp_path / "p.csv").read_text().splitlines()[1:])
    assert len(evaluated) == 9 and predicted == evaluated
    assert "already searched" in capsys.readouterr().err  # the loop was cut, and said so


# ------------------------------------------------------------------ plain paths in messages
def test_audit_names_an_unreadable_file_as_a_plain_path(tmp_path):
    from skin_estimators.audit import audit_images

    data = _folder(tmp_path / "data", classes=("acne", "lichen_planus"), per_class=2)
    fake = data / "acne" / "fake.jpg"
    fake.write_bytes(b"not a jpeg")
    files = np.array(sorted(str(p) for p in data.glob("*/*")))
    y = np.array([os.path.basename(os.path.dirname(f)) for f in files])
    from skin_estimators.exceptions import ImageLoadError

    with pytest.raises(ImageLoadError) as exc:  # every photo is decoded before the audit
        audit_images(files, y, image_size=32, n_estimators=3)
    assert str(fake) in str(exc.value) and "np.str_" not in str(exc.value)


# ------------------------------------------------------------------ groups of equal names
def test_equal_names_in_two_classes_share_a_group_and_the_warning_says_so(tmp_path):
    from skin_estimators.datasets import load_image_folder

    for cls in ("acne", "lichen_planus"):
        (tmp_path / cls).mkdir()
        for name in ("photo.jpg", f"{cls}_only.jpg"):
            Image.new("RGB", (8, 8)).save(tmp_path / cls / name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_image_folder(tmp_path)
    (message,) = [str(w.message) for w in caught if "atlas page" in str(w.message)]
    groups = dict(zip([os.path.relpath(f, tmp_path) for f in data.filenames],
                      data.groups.tolist(), strict=True))
    # the same name in two class folders: probably one photograph, kept in one group
    assert groups["acne/photo.jpg"] == groups["lichen_planus/photo.jpg"] == "photo"
    assert len(set(groups.values())) == 3
    assert "its own group" not in message
    assert "share a group" in message and "'photo'" in message
