"""``skin-estimators adapt``, ``info`` and ``evaluate --adapt`` on a tiny recommended model."""

import shutil

import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import Pipeline

from skin_estimators import load_model, save_model
from skin_estimators.adaptation import MIN_TARGET, adapter_of
from skin_estimators.cli import main

CLASSES = ("acne", "herpes_simplex", "lichen_planus")


@pytest.fixture(scope="module")
def run(train_on_skin3_subset):
    folder, _ = train_on_skin3_subset("{conformal: cross, out_of_scope: knn, cv: 3}", "adapt")
    return folder / "model.safetensors"


def _photos(folder, n, seed, nested=True):
    """``n`` small random photos, a class folder each third (labels for evaluate)."""
    rng = np.random.RandomState(seed)
    paths = []
    for i in range(n):
        sub = folder / CLASSES[i % 3] if nested else folder
        sub.mkdir(parents=True, exist_ok=True)
        pixels = (rng.rand(40, 48, 3) * 120 + 100 + 30 * (i % 3)).astype(np.uint8)
        path = sub / f"photo_{i:03d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clinic")
    _photos(folder, MIN_TARGET + 5, seed=0)
    return folder


def _adapt(model, folder, out, *extra):
    return main(["adapt", str(model), str(folder), "--out", str(out), "-q", *extra])


def test_adapt_info_predict_and_evaluate_with_the_adapted_file(run, clinic, tmp_path, capsys):
    out = tmp_path / "adapted.safetensors"
    assert _adapt(run, clinic, out) == 0
    adapted = load_model(out)
    adapter = adapter_of(adapted)
    assert adapter.n_target_ == MIN_TARGET + 5 and adapter.method == "standardize"
    assert adapter_of(load_model(run)).n_target_ == 0  # the model file is not touched
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"adapted to:           {MIN_TARGET + 5} photos" in printed
    assert adapter.target_digest_ in printed and "standardize" in printed
    assert main(["predict", str(out), str(clinic), "--out", str(tmp_path / "p.csv"), "-q"]) == 0
    assert main(["evaluate", str(out), str(clinic), "--out", str(tmp_path / "ev"), "-q"]) == 0


def test_names_folders_and_order_do_not_change_the_adapter(run, clinic, tmp_path):
    shuffled = tmp_path / "renamed"
    files = sorted(clinic.rglob("*.png"))
    for i, path in enumerate(reversed(files)):  # other names, other (deeper) folders
        target = shuffled / f"batch{i % 4}" / "deeper" / f"x{i * 7 % 100:02d}_{i}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    assert _adapt(run, clinic, tmp_path / "a.safetensors", "--method", "coral") == 0
    assert _adapt(run, shuffled, tmp_path / "b.safetensors", "--method", "coral") == 0
    a = adapter_of(load_model(tmp_path / "a.safetensors"))
    b = adapter_of(load_model(tmp_path / "b.safetensors"))
    assert a.target_digest_ == b.target_digest_
    np.testing.assert_array_equal(a.offset_, b.offset_)
    np.testing.assert_array_equal(a.scale_, b.scale_)


def test_adapting_an_adapted_file_replaces_its_adapter(run, clinic, tmp_path):
    other = tmp_path / "other"
    _photos(other, MIN_TARGET + 2, seed=1, nested=False)
    assert _adapt(run, clinic, tmp_path / "first.safetensors") == 0
    assert _adapt(tmp_path / "first.safetensors", other, tmp_path / "twice.safetensors") == 0
    assert _adapt(run, other, tmp_path / "once.safetensors") == 0
    twice, once = (load_model(tmp_path / f"{n}.safetensors") for n in ("twice", "once"))
    assert adapter_of(twice).target_digest_ == adapter_of(once).target_digest_
    np.testing.assert_array_equal(adapter_of(twice).offset_, adapter_of(once).offset_)
    photos = [str(p) for p in sorted(other.glob("*.png"))[:4]]
    np.testing.assert_allclose(twice.predict_proba(photos), once.predict_proba(photos),
                               atol=1e-6)


def test_too_few_photos_is_refused_in_one_line(run, tmp_path, capsys):
    few = tmp_path / "few"
    _photos(few, MIN_TARGET - 1, seed=2)
    capsys.readouterr()
    assert _adapt(run, few, tmp_path / "x.safetensors") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("usage:") and len(err) == 2  # exit 2: the usage line, the error
    assert f"at least {MIN_TARGET} photos" in err[1] and f"has {MIN_TARGET - 1}" in err[1]
    assert not (tmp_path / "x.safetensors").exists()


def test_unreadable_files_are_left_out_and_named(run, clinic, tmp_path, capsys):
    folder = tmp_path / "with_bad"
    shutil.copytree(clinic, folder)
    (folder / "acne" / "broken.jpg").write_bytes(b"not a jpeg")
    capsys.readouterr()
    assert _adapt(run, folder, tmp_path / "x.safetensors") == 0
    err = capsys.readouterr().err
    assert "warning: left out" in err and "broken.jpg" in err
    assert adapter_of(load_model(tmp_path / "x.safetensors")).n_target_ == MIN_TARGET + 5


def test_a_model_without_adapter_exits_2(run, clinic, tmp_path, capsys):
    model = load_model(run)
    trusted = model[-1]
    inner = Pipeline([s for s in trusted.estimator_.steps if s[0] != "domainadapter"])
    save_model(Pipeline(model.steps[:-1] + [("model", inner)]), tmp_path / "plain.safetensors")
    capsys.readouterr()
    assert _adapt(tmp_path / "plain.safetensors", clinic, tmp_path / "x.safetensors") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no adaptation step" in err[1]
    assert main(["evaluate", str(tmp_path / "plain.safetensors"), str(clinic), "--adapt",
                 "--out", str(tmp_path / "ev"), "-q"]) == 2


def test_evaluate_adapt_reports_with_and_without(run, clinic, tmp_path, capsys):
    out = tmp_path / "ev"
    capsys.readouterr()
    assert main(["evaluate", str(run), str(clinic), "--adapt", "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "With and without adaptation (standardize" in printed
    assert "  without: macro recall" in printed and "  adapted: macro recall" in printed
    assert (out / "adapted" / "predictions.csv").exists()
    assert "With and without adaptation" in (out / "report.txt").read_text()
