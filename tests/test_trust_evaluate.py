"""evaluate with the trust parts: coverage, set size, ECE before/after, flags, reliability.png."""

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
from skin_estimators.uncertainty import FLAGS, classwise_ece, coverage

COLOURS = {"acne": (190, 60, 60), "herpes": (60, 160, 60), "lichen": (70, 70, 190)}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A labelled folder: 8 noisy photos per class, one sub-folder per class."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.RandomState(0)
    files, y = [], []
    for cls, colour in COLOURS.items():
        (root / cls).mkdir()
        for i in range(8):
            pixels = np.clip(rng.normal(colour, 45, (28, 28, 3)), 0, 255).astype(np.uint8)
            files.append(str(root / cls / f"{i}.png"))
            Image.fromarray(pixels).save(files[-1])
            y.append(cls)
    return root, files, np.array(y)


def _trusted(**params):
    est = make_recommended_classifier(pretrainedfeatures__pretrained=False)
    return TrustedClassifier(est, cv=3, confidence_level=0.8, **params)


@pytest.fixture(scope="module")
def model(photos):
    _, files, y = photos
    front = [ImageLoader(size=32), ChannelNormalizer(mean="efficientnet_lite")]
    return make_pipeline(*front, _trusted()).fit(files, y)


def test_evaluate_measures_the_trust_parts(model, photos, tmp_path):
    _, files, y = photos
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    result = evaluate_model(model, files + [str(broken)], list(y) + ["acne"])
    trust, clf, ok = result.trust, model[-1], slice(0, len(files))
    assert result.n_errors == 1 and result.trust.flags[-1] == ""
    assert not trust.sets[-1].any()
    X = model[:-1].transform(files)
    np.testing.assert_allclose(result.proba[ok], clf.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(trust.raw[ok], clf.estimator_.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(trust.sets[ok], clf.predict_set(X))
    np.testing.assert_array_equal(trust.flags[ok], clf.predict_flag(X))
    np.testing.assert_allclose(trust.score[ok], clf.out_of_scope_score(X), rtol=1e-5)
    overall, per_class = coverage(y, clf.predict_set(X), clf.classes_)
    assert trust.coverage == pytest.approx(overall)
    assert list(trust.coverage_per_class.values()) == pytest.approx(per_class.tolist())
    assert trust.mean_set_size == pytest.approx(clf.predict_set(X).sum(axis=1).mean())
    assert trust.ece_before == pytest.approx(classwise_ece(y, trust.raw[ok], clf.classes_)[0])
    assert trust.ece_after == pytest.approx(classwise_ece(y, result.proba[ok], clf.classes_)[0])
    shares = trust.flag_shares
    assert set(shares) == set(FLAGS) and sum(shares.values()) == pytest.approx(1.0)
    assert shares["confident"] == pytest.approx(np.mean(clf.predict_flag(X) == "confident"))


def test_macro_figures_are_over_the_classes_present(model, photos):
    _, files, y = photos
    keep = y != "herpes"
    result = evaluate_model(model, list(np.array(files)[keep]), y[keep])
    trust = result.trust
    assert result.absent_classes == ["herpes"]
    assert sorted(trust.coverage_per_class) == ["acne", "lichen"]
    per_class = classwise_ece(y[keep], result.proba, model[-1].classes_)[1]
    assert trust.ece_after == pytest.approx(per_class[[0, 2]].mean())
    assert trust.ece_per_class_after == pytest.approx(
        {"acne": per_class[0], "lichen": per_class[2]})


def test_trusted_classifier_as_the_model(model, photos):
    """A TrustedClassifier around the whole pipeline from files evaluates like the flat one."""
    _, files, y = photos
    rec = make_recommended_classifier(pretrainedfeatures__pretrained=False)
    steps = [("imageloader", ImageLoader(size=32)),
             ("channelnormalizer", ChannelNormalizer(mean="efficientnet_lite")), *rec.steps]
    wrapped = TrustedClassifier(Pipeline(steps), cv=3, confidence_level=0.8).fit(files, y)
    a, b = evaluate_model(wrapped, files, y).trust, evaluate_model(model, files, y).trust
    np.testing.assert_array_equal(a.sets, b.sets)
    np.testing.assert_array_equal(a.flags, b.flags)
    assert a.ece_after == pytest.approx(b.ece_after)


def test_evaluate_command_writes_the_coverage_table_and_reliability(model, photos, tmp_path,
                                                                     capsys):
    root, _, _ = photos
    save_model(model, tmp_path / "model.safetensors")
    out = tmp_path / "eval"
    assert main(["evaluate", str(tmp_path / "model.safetensors"), str(root), "--out", str(out),
                 "--quiet"]) == 0
    text = (out / "report.txt").read_text()
    assert "Prediction sets at confidence level 0.8, per class (Mondrian)" in text
    assert "Flags: confident" in text and "overall" in text
    assert text in capsys.readouterr().out
    assert (out / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(out / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24
    classes = {"acne", "herpes", "lichen"}
    for row in rows:
        assert row["flag"] in FLAGS and float(row["out_of_scope_score"]) >= 0
        assert set(filter(None, row["prediction_set"].split("|"))) <= classes
    covered = np.mean([r["true_class"] in r["prediction_set"].split("|") for r in rows])
    line = [ln for ln in text.splitlines() if ln.startswith("overall")][0]
    assert float(line.split()[2]) == pytest.approx(covered, abs=5e-4)


def test_model_without_trust_parts_evaluates_as_before(model, photos, tmp_path):
    root, files, y = photos
    plain = Pipeline(model.steps[:-1] + [("model", model[-1].estimator_)])
    assert evaluate_model(plain, files, y).trust is None
    save_model(plain, tmp_path / "plain.safetensors")
    out = tmp_path / "eval"
    assert main(["evaluate", str(tmp_path / "plain.safetensors"), str(root), "--out", str(out),
                 "--quiet"]) == 0
    assert not (out / "reliability.png").exists()
    assert "Prediction sets" not in (out / "report.txt").read_text()
    with open(out / "predictions.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header == ["image_path", "true_class", "pred_class", "proba_acne", "proba_herpes",
                      "proba_lichen", "error"]
