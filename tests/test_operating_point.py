"""The operating point: share answered confident, accuracy among them, risk-coverage curve;
evaluate's operating_point.csv, --out-of-scope-photos and risk_coverage.png."""

import csv

import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import Pipeline, make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    TrustedClassifier,
    make_recommended_classifier,
    save_model,
)
from skin_estimators.audit import evaluate_model
from skin_estimators.cli import main
from skin_estimators.uncertainty import FLAGS, flag_shares, operating_point, risk_coverage_curve

COLOURS = {"acne": (190, 60, 60), "herpes": (60, 160, 60), "lichen": (70, 70, 190)}
PNG = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- the functions


def test_operating_point_per_class_and_overall():
    y = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "b", "a", "b", "a", "c"]
    flags = ["confident", "confident", "uncertain", "confident", "out_of_scope", "uncertain"]
    point = operating_point(y, pred, flags, labels=["a", "b", "c"])
    assert point["overall"] == {"n": 6, "n_confident": 3, "confident": 0.5,
                                "confident_accuracy": pytest.approx(2 / 3),
                                "accuracy": pytest.approx(4 / 6)}
    assert point["a"]["confident"] == pytest.approx(2 / 3)
    assert point["a"]["confident_accuracy"] == 0.5
    assert point["b"]["confident_accuracy"] == 1.0
    assert point["c"]["n_confident"] == 0 and np.isnan(point["c"]["confident_accuracy"])
    with pytest.raises(ValueError, match="one entry per photo"):
        operating_point(y, pred[:-1], flags)


def test_flag_shares_sum_to_one_and_empty_is_nan():
    shares = flag_shares(np.array(["uncertain", "confident", "uncertain"]))
    assert list(shares) == list(FLAGS) and sum(shares.values()) == pytest.approx(1)
    assert all(np.isnan(v) for v in flag_shares([]).values())


def test_risk_coverage_curve_ties_and_ends():
    rng = np.random.RandomState(0)
    proba = rng.dirichlet([1, 1, 1], size=50)
    proba[:10] = proba[0]  # ten ties: answered together
    y = np.array(["a", "b", "c"])[rng.randint(0, 3, 50)]
    cov, acc, thr = risk_coverage_curve(y, proba, ["a", "b", "c"])
    assert cov[-1] == 1.0 and np.all(np.diff(cov) > 0) and np.all(np.diff(thr) < 0)
    right = np.array(["a", "b", "c"])[proba.argmax(axis=1)] == y
    assert acc[-1] == pytest.approx(right.mean())
    for c, a, t in zip(cov, acc, thr, strict=True):  # each point from its definition
        answered = proba.max(axis=1) >= t
        assert c == pytest.approx(answered.mean()) and a == pytest.approx(right[answered].mean())
    assert len(thr) == 41


def test_risk_coverage_curve_refuses_nan_and_wrong_shapes():
    with pytest.raises(ValueError, match="NaN"):
        risk_coverage_curve(["a"], [[np.nan, 1.0]], ["a", "b"])
    with pytest.raises(ValueError, match="shape"):
        risk_coverage_curve(["a", "b"], [[0.5, 0.5]], ["a", "b"])


# ----------------------------------------------------------------------------- evaluate


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A labelled folder (8 noisy photos per class) and a folder of other 'conditions'."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.RandomState(0)
    files, y = [], []
    for cls, colour in COLOURS.items():
        (root / "in" / cls).mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(rng.normal(colour, 45, (28, 28, 3)), 0, 255).astype(np.uint8)
            files.append(str(root / "in" / cls / f"{i}.png"))
            Image.fromarray(pixels).save(files[-1])
            y.append(cls)
    for cond, colour in {"keloid": (240, 240, 240), "xerosis": (20, 20, 20)}.items():
        (root / "other" / cond).mkdir(parents=True)
        for i in range(3):
            pixels = np.clip(rng.normal(colour, 30, (28, 28, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / "other" / cond / f"{i}.png")
    return root, files, np.array(y)


@pytest.fixture(scope="module")
def model_file(photos, tmp_path_factory):
    _, files, y = photos
    est = make_recommended_classifier(pretrainedfeatures__pretrained=False)
    model = make_pipeline(ImageLoader(size=32), ChannelNormalizer(mean="efficientnet_lite"),
                          TrustedClassifier(est, cv=3, confidence_level=0.8)).fit(files, y)
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    save_model(model, path)
    return model, path


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_evaluate_leads_with_the_operating_point(model_file, photos, tmp_path, capsys):
    model, path = model_file
    root, files, y = photos
    out = tmp_path / "eval"
    assert main(["evaluate", str(path), str(root / "in"), "--out", str(out), "--quiet"]) == 0
    text = (out / "report.txt").read_text()
    assert text.startswith("Operating point: the answers to act on are those flagged "
                           "confident")
    assert text in capsys.readouterr().out
    result = evaluate_model(model, files, y)
    point = operating_point(y, result.y_pred, result.trust.flags)
    rows = {r["group"]: r for r in _rows(out / "operating_point.csv")}
    assert set(rows) == {"overall", *COLOURS}
    for group, row in rows.items():
        assert row["photos"] == "in_scope"
        assert int(row["n"]) == point[group]["n"]
        assert float(row["confident"]) == pytest.approx(point[group]["confident"], abs=1e-5)
        if row["confident_accuracy"]:
            assert float(row["confident_accuracy"]) == pytest.approx(
                point[group]["confident_accuracy"], abs=1e-5)
        else:
            assert point[group]["n_confident"] == 0
    assert float(rows["overall"]["coverage"]) == pytest.approx(result.trust.coverage, abs=1e-5)
    assert float(rows["acne"]["mean_set_size"]) == pytest.approx(
        result.trust.size_per_class["acne"], abs=1e-5)
    assert (out / "risk_coverage.png").read_bytes()[:8] == PNG
    assert not (out / "out_of_scope_predictions.csv").exists()


def test_out_of_scope_photos_get_their_flag_shares(model_file, photos, tmp_path, capsys):
    model, path = model_file
    root, _, _ = photos
    other = root / "other"
    (other / "keloid" / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "eval"
    try:
        code = main(["evaluate", str(path), str(root / "in"), "--out-of-scope-photos",
                     str(other), "--out", str(out), "--quiet"])
    finally:
        (other / "keloid" / "broken.png").unlink()
    assert code == 1  # an unreadable out-of-scope photo is an error, reported as one
    assert "1 out-of-scope photo(s) could not be read" in capsys.readouterr().err
    files = sorted(str(p) for p in other.rglob("[0-9].png"))
    X = model[:-1].transform(files)
    expected = flag_shares(model[-1].predict_flag(X))
    rows = [r for r in _rows(out / "operating_point.csv") if r["photos"] ==
            "out_of_scope_photos"]
    assert [r["group"] for r in rows] == ["overall", "keloid", "xerosis"]
    assert int(rows[0]["n"]) == 6 and rows[0]["confident_accuracy"] == ""
    for flag in FLAGS:
        assert float(rows[0][flag]) == pytest.approx(expected[flag], abs=1e-5)
    per_photo = _rows(out / "out_of_scope_predictions.csv")
    assert len(per_photo) == 7
    broken = [r for r in per_photo if r["error"]]
    assert len(broken) == 1 and broken[0]["flag"] == "" and broken[0]["condition"] == "keloid"
    assert broken[0]["proba_acne"] == ""
    good = [r for r in per_photo if not r["error"]]
    assert all(r["pred_class"] == max(COLOURS, key=lambda c: float(r[f"proba_{c}"]))
               for r in good)
    text = (out / "report.txt").read_text()
    assert f"confident {100 * expected['confident']:.1f} %" in text
    assert (out / "risk_coverage.png").read_bytes()[:8] == PNG


def test_out_of_scope_photos_usage_errors(model_file, photos, tmp_path, capsys):
    model, path = model_file
    root, _, _ = photos
    args = ["evaluate", str(path), str(root / "in")]
    assert main([*args, "--out-of-scope-photos", str(tmp_path / "none"), "--out",
                 str(tmp_path / "e1")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main([*args, "--out-of-scope-photos", str(root / "other"), "--out",
                 str(root / "other" / "eval")]) == 2
    assert "lies inside the --out-of-scope-photos folder" in capsys.readouterr().err
    plain = Pipeline(model.steps[:-1] + [("model", model[-1].estimator_)])
    save_model(plain, tmp_path / "plain.safetensors")
    out = tmp_path / "e2"
    assert main(["evaluate", str(tmp_path / "plain.safetensors"), str(root / "in"),
                 "--out-of-scope-photos", str(root / "other"), "--out", str(out),
                 "--quiet"]) == 2
    assert "needs a model with trust parts" in capsys.readouterr().err
    assert not out.exists()  # refused before anything is read or written


def test_model_without_trust_parts_still_draws_the_curve(model_file, photos, tmp_path):
    model, _ = model_file
    root, _, _ = photos
    plain = Pipeline(model.steps[:-1] + [("model", model[-1].estimator_)])
    save_model(plain, tmp_path / "plain.safetensors")
    out = tmp_path / "eval"
    assert main(["evaluate", str(tmp_path / "plain.safetensors"), str(root / "in"), "--out",
                 str(out), "--quiet"]) == 0
    assert (out / "risk_coverage.png").read_bytes()[:8] == PNG
    assert not (out / "operating_point.csv").exists()
    assert "Operating point" not in (out / "report.txt").read_text()
