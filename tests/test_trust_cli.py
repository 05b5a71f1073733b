"""A config's trust: section: train stores the trust parts, predict shows them, info says how."""

import csv

import pytest
from sklearn.pipeline import Pipeline

from skin_estimators import TrustedClassifier, load_model, save_model
from skin_estimators.cli import main


@pytest.fixture(scope="module")
def trusted_run(train_on_skin3_subset):
    return train_on_skin3_subset("{confidence_level: 0.8, out_of_scope: mahalanobis, cv: 3}",
                                 "trust")


def _predict(model_path, paths, out):
    code = main(["predict", str(model_path), *map(str, paths), "--out", str(out),
                 "--quiet"])
    with open(out, newline="") as f:
        return code, list(csv.DictReader(f))


def test_train_stores_trust_and_predict_shows_it(trusted_run, tmp_path):
    run, root = trusted_run
    model = load_model(run / "model.safetensors")
    clf = model[-1]
    assert isinstance(clf, TrustedClassifier) and clf.confidence_level == 0.8
    assert clf.oos_threshold_ is not None and clf.n_calibration_ == 24
    photos = sorted((root / "acne").iterdir())[:3]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    code, rows = _predict(run / "model.safetensors", [*photos, broken], tmp_path / "p.csv")
    assert code == 1  # one file could not be read
    classes = clf.classes_.tolist()
    for row in rows[:3]:
        members = row["prediction_set"].split("|") if row["prediction_set"] else []
        assert set(members) <= set(classes)
        assert row["flag"] in {"confident", "uncertain", "out_of_scope"}
        assert (row["flag"] == "confident") == (len(members) == 1 and float(
            row["out_of_scope_score"]) <= clf.oos_threshold_)
    bad = [r for r in rows if r["image_path"].endswith("broken.jpg")][0]
    assert bad["error"] and bad["prediction_set"] == bad["flag"] == ""


def test_model_without_trust_parts_gives_empty_columns(trusted_run, tmp_path):
    run, root = trusted_run
    model = load_model(run / "model.safetensors")
    plain = Pipeline(model.steps[:-1] + [("model", model[-1].estimator_)])
    save_model(plain, tmp_path / "plain.safetensors")
    code, rows = _predict(tmp_path / "plain.safetensors", sorted((root / "acne").iterdir())[:2],
                          tmp_path / "p.csv")
    assert code == 0
    assert all(r["prediction_set"] == r["out_of_scope_score"] == r["flag"] == "" for r in rows)
    assert all(r["pred_class"] for r in rows)


def test_info_prints_level_threshold_and_fit(trusted_run, capsys):
    run, _ = trusted_run
    assert main(["info", str(run / "model.safetensors")]) == 0
    text = capsys.readouterr().out
    assert "confidence level 0.8" in text and "per class (Mondrian)" in text
    assert "threshold" in text and "out-of-fold predictions of 24 images" in text


def test_config_trust_section_is_validated(tmp_path):
    from skin_estimators.experiments import ConfigError, validate_config

    with pytest.raises(ConfigError, match="confidence_level"):
        validate_config({"data": "fetch_skin3", "trust": {"confidence_level": float("nan")},
                         "models": [{"name": "recommended"}]})
    config = validate_config({"data": "fetch_skin3", "trust": {"out_of_scope": None},
                              "models": [{"name": "recommended"}]})
    assert config.trust.out_of_scope is None and config.trust.confidence_level == 0.9
