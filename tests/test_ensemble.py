"""Soft-voting ensembles: one estimator (scikit-learn's VotingClassifier), one safe model file,
and a config row (``name: ensemble``) that ``cv``, ``train``, ``predict``, ``evaluate`` and
``info`` work with. Tiny images and backbones without their pretrained weights."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from skin_estimators import (
    ChannelNormalizer,
    EfficientNetLiteClassifier,
    ImageLoader,
    load_model,
    make_recommended_classifier,
    save_model,
)
from skin_estimators.cli import main
from skin_estimators.experiments import ConfigError, validate_config

CLASSES = ("acne", "herpes", "lichen")


def _probe(model="efficientnet_lite0"):
    return make_recommended_classifier(pretrainedfeatures__pretrained=False,
                                       pretrainedfeatures__model=model)


def _ensemble(weights=None):
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import make_pipeline

    members = [("lite0", _probe()), ("lite1", _probe("efficientnet_lite1")),
               ("ft", EfficientNetLiteClassifier(pretrained=False, max_epochs=1, batch_size=4,
                                                 random_state=0))]
    return make_pipeline(ImageLoader(size=16), ChannelNormalizer(mean="efficientnet_lite"),
                         VotingClassifier(members, voting="soft", weights=weights))


@pytest.fixture(scope="module")
def images():
    rng = np.random.RandomState(0)
    y = np.array(CLASSES * 3)
    X = rng.randint(0, 256, (9, 16, 16, 3), dtype=np.uint8)
    X[y == "acne", ..., 0] = 250  # something to learn
    return X, y


@pytest.fixture(scope="module")
def ensemble_file(images, tmp_path_factory):
    X, y = images
    model = _ensemble(weights=[2, 1, 1]).fit(X, y)
    path = tmp_path_factory.mktemp("ensemble") / "ensemble.safetensors"
    save_model(model, path)
    return path, model


def test_an_ensemble_is_saved_and_loaded_as_one_safe_file(images, ensemble_file):
    X, y = images
    path, model = ensemble_file
    loaded = load_model(path)
    vote = loaded[-1]
    assert type(vote).__name__ == "VotingClassifier" and vote.voting == "soft"
    assert vote.weights == [2, 1, 1]
    assert vote.classes_.tolist() == list(CLASSES)
    assert [name for name, _ in vote.estimators] == ["lite0", "lite1", "ft"]
    assert vote.named_estimators_["lite1"][0].model == "efficientnet_lite1"
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)
    assert (loaded.predict(X) == model.predict(X)).all()


def test_the_vote_is_the_weighted_mean_of_the_members_probabilities(images, ensemble_file):
    X, _ = images
    model = load_model(ensemble_file[0])
    Z = model[:-1].transform(X)
    members = np.stack([m.predict_proba(Z) for m in model[-1].estimators_])
    np.testing.assert_allclose(model.predict_proba(X),
                               np.average(members, axis=0, weights=[2, 1, 1]), atol=1e-6)


def test_a_trusted_ensemble_is_saved_and_loaded(tmp_path):
    """A TrustedClassifier wrapping a soft vote: calibration, sets and scores survive the file."""
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import make_pipeline

    from skin_estimators import TrustedClassifier

    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, (18, 16, 16, 3), dtype=np.uint8)
    y = np.array(CLASSES * 6)
    vote = VotingClassifier([("lite0", _probe()), ("lite1", _probe("efficientnet_lite1"))],
                            voting="soft")
    model = make_pipeline(ImageLoader(size=16), ChannelNormalizer(mean="efficientnet_lite"),
                          TrustedClassifier(vote, cv=2)).fit(X, y)
    save_model(model, tmp_path / "trusted.safetensors")
    loaded = load_model(tmp_path / "trusted.safetensors")
    assert type(loaded[-1].estimator_).__name__ == "VotingClassifier"
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)
    Z = loaded[:-1].transform(X)
    got, want = loaded[-1].predict_all(Z), model[-1].predict_all(model[:-1].transform(X))
    np.testing.assert_allclose(got["out_of_scope_score"], want["out_of_scope_score"],
                               rtol=1e-5)
    assert [list(s) for s in got["sets"]] == [list(s) for s in want["sets"]]


# ------------------------------------------------------------------ the config row
def _config(**ensemble):
    return {"data": "fetch_skin3", "image_size": 16, "models": [
        {"name": "recommended", "label": "lite0",
         "params": {"pretrainedfeatures__pretrained": False}},
        {"name": "recommended", "label": "lite1",
         "params": {"pretrainedfeatures__pretrained": False,
                    "pretrainedfeatures__model": "efficientnet_lite1"}},
        {"name": "ensemble", "label": "vote", **ensemble}]}


def test_an_ensemble_row_builds_a_soft_vote_of_its_members():
    config = validate_config(_config(members=[
        "lite0", "lite1", {"name": "efficientnet_lite", "label": "fine-tuned lite0",
                           "params": {"pretrained": False, "max_epochs": 2}}]))
    rows = config.rows()
    assert [r.label for r in rows] == ["lite0", "lite1", "vote"]
    row = rows[2]
    assert row.normalization == "efficientnet_lite" and row.max_epochs == 1 + 1 + 2
    pipeline = row.make_pipeline(random_state=0, device="cpu")
    vote = pipeline[-1]
    assert pipeline[1].mean == "efficientnet_lite"
    assert vote.voting == "soft"
    assert [name for name, _ in vote.estimators] == ["lite0", "lite1", "fine_tuned_lite0"]
    assert vote.estimators[1][1][0].model == "efficientnet_lite1"
    assert vote.estimators[2][1].max_epochs == 2 and vote.estimators[2][1].random_state == 0
    # the ensemble's identity follows its members'
    other = validate_config(_config(members=["lite0", "lite0"])).rows()[2]
    assert other.row_id != row.row_id


@pytest.mark.parametrize("ensemble, key, says", [
    ({"members": ["lite0"]}, "models[2].members", "at least 2 members"),
    ({"members": ["lite0", "lite9"]}, "models[2].members[1]", "label of no other entry"),
    ({"members": ["lite0", "lite1"], "params": {"voting": "hard"}}, "models[2].params.voting",
     "takes only weights"),
    ({"members": ["lite0", "lite1"], "params": {"weights": [1]}}, "models[2].params.weights",
     "one per member"),
    ({"members": ["lite0", "lite1"], "params": {"weights": [1, -1]}},
     "models[2].params.weights", "non-negative"),
    ({"members": ["lite0", {"name": "cnn"}]}, "models[2].members", "normalisations differ"),
    ({"members": ["lite0", {"name": "recommended", "params": {"C": 1}}]},
     "models[2].members[1].params.C", "has no parameter 'C'"),
    ({"members": ["lite0", {"name": "ensemble", "members": ["lite0", "lite1"]}]},
     "models[2].members[1]", "no name: ensemble, members"),
    ({"members": ["lite0", "lite1"], "normalization": "imagenet"},
     "models[2].normalization", "differs from the members'"),
])
def test_a_wrong_ensemble_entry_is_one_error_naming_the_key(ensemble, key, says):
    with pytest.raises(ConfigError) as info:
        validate_config(_config(**ensemble))
    assert info.value.problems[0][0] == key, info.value.problems
    assert says in info.value.problems[0][1]


def test_members_belong_to_ensembles_only():
    raw = _config(members=["lite0", "lite1"])
    raw["models"][0]["members"] = ["lite1", "lite1"]
    with pytest.raises(ConfigError, match=r"models\[0\].members: only an entry with name: "
                                          "ensemble"):
        validate_config(raw)


# ------------------------------------------------------------------ the commands
@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """4 tiny photos per class, in one sub-folder per class."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.RandomState(1)
    for k, cls in enumerate(CLASSES):
        (root / cls).mkdir()
        for i in range(4):
            pixels = rng.randint(0, 256, (20, 24, 3), dtype=np.uint8)
            pixels[..., k] = 240
            Image.fromarray(pixels).save(root / cls / f"{cls}{i}.png")
    return root


@pytest.fixture(scope="module")
def config_file(folder, tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "ensemble.yaml"
    path.write_text(
        f"data: {{path: {folder}}}\nimage_size: 16\ncv: {{n_splits: 2, seeds: [0]}}\n"
        "models:\n"
        "  - {name: recommended, label: lite0, params: {pretrainedfeatures__pretrained: false}}\n"
        "  - name: ensemble\n    label: lite0+lite1+ft\n"
        "    members:\n      - lite0\n"
        "      - {name: recommended, label: lite1, params: {pretrainedfeatures__pretrained: false,"
        " pretrainedfeatures__model: efficientnet_lite1}}\n"
        "      - {name: efficientnet_lite, label: ft, params: {pretrained: false, max_epochs: 1,"
        " batch_size: 4}}\n")
    return path


def test_cv_scores_the_ensemble_row_beside_its_members(config_file, tmp_path):
    out = tmp_path / "cv"
    assert main(["cv", "--config", str(config_file), "--out", str(out), "--quiet",
                 "--no-tracking"]) == 0
    folds = [json.loads(p.read_text()) for p in sorted((out / "folds").glob("*.json"))]
    assert sorted(f["label"] for f in folds) == ["lite0", "lite0", "lite0+lite1+ft",
                                                 "lite0+lite1+ft"]
    assert all(len(f["y_pred"]) == f["n_test"] for f in folds)
    with open(out / "results.csv", newline="") as fh:
        rows = {r["label"]: r for r in csv.DictReader(fh)}
    assert rows["lite0+lite1+ft"]["model"] == "ensemble"
    assert 0 <= float(rows["lite0+lite1+ft"]["recall_macro_pooled"]) <= 1


@pytest.mark.parametrize("select", [["--row", "1"], ["--model", "ensemble"]])
def test_train_writes_one_safe_file_that_predict_evaluate_and_info_use(
        config_file, folder, tmp_path, capsys, select):
    out = tmp_path / "run"
    assert main(["train", "--config", str(config_file), "--out", str(out), "--test-size", "0",
                 "-q", *select]) == 0
    model = load_model(out / "model.safetensors")
    vote = model[-1]
    assert type(vote).__name__ == "VotingClassifier"
    assert [name for name, _ in vote.estimators] == ["lite0", "lite1", "ft"]
    assert vote.classes_.tolist() == list(CLASSES)
    # the written config trains the same ensemble again, as one row
    rerun = validate_config(__import__("yaml").safe_load((out / "config.yaml").read_text()))
    assert len(rerun.rows()) == 1 and len(rerun.rows()[0].members) == 3

    files = sorted(str(p) for p in folder.rglob("*.png"))
    csv_path = tmp_path / "p.csv"
    assert main(["predict", str(out / "model.safetensors"), *files[:3], "--out", str(csv_path),
                 "-q"]) == 0
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    np.testing.assert_allclose([[float(r[f"proba_{c}"]) for c in CLASSES] for r in rows],
                               model.predict_proba(files[:3]), atol=1e-6)
    assert main(["evaluate", str(out / "model.safetensors"), str(folder), "--out",
                 str(tmp_path / "eval"), "-q"]) == 0
    assert (tmp_path / "eval" / "report.txt").exists()
    capsys.readouterr()
    assert main(["info", str(out / "model.safetensors")]) == 0
    text = capsys.readouterr().out
    assert "VotingClassifier" in text
    assert "member lite1: PretrainedFeatures(efficientnet_lite1)" in text
