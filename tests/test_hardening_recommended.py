"""The recommended model (frozen features -> scaler -> logistic regression, inside the trust
layer): explain through a differentiable stand-in that reproduces the pipeline's logits;
--tta on a model that already averages the mirror; blank images flagged out of scope."""

import csv

import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    TrustedClassifier,
    make_recommended_classifier,
    save_model,
)
from skin_estimators.cli import main


def linear_probe(model):
    from skin_estimators._explain_linear import linear_probe

    return linear_probe(model)

SIZE = 64


def _photos(folder, n=12, seed=0, background=(90, 160)):
    """Synthetic photos (no patient's): a coloured disc on a noisy background per class."""
    rng = np.random.RandomState(seed)
    folder.mkdir(exist_ok=True)
    paths, labels = [], []
    colours = {"acne": (200, 40, 40), "herpes": (40, 200, 40), "lichen": (40, 40, 200)}
    yy, xx = np.mgrid[:48, :56]
    for i in range(n):
        label = sorted(colours)[i % 3]
        img = rng.randint(*background, (48, 56, 3)).astype(np.uint8)
        cy, cx = rng.randint(12, 36), rng.randint(12, 44)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < 80] = colours[label]
        paths.append(folder / f"photo{i}.png")
        Image.fromarray(img).save(paths[-1])
        labels.append(label)
    return paths, np.array(labels)


@pytest.fixture(scope="module")
def recommended(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain_recommended")
    paths, y = _photos(root / "photos")
    inner = make_recommended_classifier(pretrainedfeatures__pretrained=False,
                                        pretrainedfeatures__backend="torch")
    model = make_pipeline(ImageLoader(size=SIZE), ChannelNormalizer(mean="efficientnet_lite"),
                          TrustedClassifier(inner, cv=2, conformal="cross", out_of_scope="knn"))
    model.fit([str(p) for p in paths], y)
    save_model(model, root / "model.safetensors")
    return model, paths, root


def test_probe_reproduces_the_decision_function(recommended):
    model, paths, _ = recommended
    probe = linear_probe(model)
    X = probe.preprocess.transform([str(p) for p in paths[:4]])
    estimator = model[-1].estimator_
    expected = estimator.decision_function(X)
    np.testing.assert_allclose(probe.logits(X), expected, rtol=1e-4, atol=1e-4)
    logits = probe.logits(X).astype(float)
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(softmax / softmax.sum(axis=1, keepdims=True),
                               estimator.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("method", ["standardize", "subspace"])
def test_probe_of_an_adapted_model_reproduces_its_decision_function(recommended, tmp_path,
                                                                   method):
    import copy

    from skin_estimators.adaptation import adapt_model, adapter_of

    model, paths, _ = recommended
    model = copy.deepcopy(model)
    adapter_of(model).min_target = 12  # the synthetic clinic is small
    target, _ = _photos(tmp_path / "clinic", n=12, seed=1, background=(40, 230))
    adapted = adapt_model(model, [str(p) for p in target], method=method,
                          n_components=4 if method == "subspace" else None)
    probe = linear_probe(adapted)
    X = probe.preprocess.transform([str(p) for p in paths[:4]])
    expected = adapted[-1].estimator_.decision_function(X)
    assert not np.allclose(expected, model[-1].estimator_.decision_function(X), atol=1e-3)
    np.testing.assert_allclose(probe.logits(X), expected, rtol=1e-4, atol=1e-4)


def test_probe_binary_head_reproduces_the_logistic_probability(recommended):
    _, paths, _ = recommended
    two = [str(p) for p in paths[:8]]
    y = np.array(["a", "b"] * 4)
    steps = make_recommended_classifier(pretrainedfeatures__pretrained=False,
                                        pretrainedfeatures__backend="torch").steps
    model = make_pipeline(ImageLoader(size=SIZE), ChannelNormalizer(mean="efficientnet_lite"),
                          *[step for _, step in steps]).fit(two, y)
    probe = linear_probe(model)
    X = probe.preprocess.transform(two)
    logits = probe.logits(X).astype(float)
    proba = 1 / (1 + np.exp(logits[:, 0] - logits[:, 1]))
    np.testing.assert_allclose(proba, model[2:].predict_proba(X)[:, 1], atol=1e-5)


def test_explain_command_writes_an_overlay_per_photo(recommended, tmp_path):
    model, paths, root = recommended
    out = tmp_path / "e"
    code = main(["explain", str(root / "model.safetensors"), *map(str, paths[:3]),
                 "--out", str(out), "--quiet"])
    assert code == 0
    with open(out / "explanations.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    predicted = model.predict([str(p) for p in paths[:3]])
    for row, path, pred in zip(rows, paths, predicted, strict=False):
        assert row["error"] == "" and row["method"] == "gradcam"
        assert row["pred_class"] == pred
        with Image.open(row["overlay_path"]) as im, Image.open(path) as photo:
            assert im.size == photo.size and im.mode == "RGB"


def test_maps_are_in_range_and_follow_the_mirror(recommended):
    """The features are mirror-averaged, so a mirrored photo's map is the mirrored map."""
    model, paths, _ = recommended
    probe = linear_probe(model)
    X = probe.preprocess.transform([str(p) for p in paths[:4]])
    targets = probe.logits(X).argmax(axis=1)
    maps = probe.saliency(X, targets, "gradcam")
    assert maps.shape == (4, SIZE, SIZE) and maps.min() >= 0 and maps.max() <= 1 + 1e-6
    assert maps.reshape(4, -1).max(axis=1).max() > 0.99  # not all blank
    mirrored = probe.saliency(np.ascontiguousarray(X[..., ::-1]), targets, "gradcam")
    np.testing.assert_allclose(mirrored, maps[..., ::-1], atol=0.05)
    grads = probe.saliency(X, targets, "gradient")
    assert grads.shape == maps.shape and grads.max() <= 1 + 1e-6


def test_a_model_that_cannot_be_explained_is_refused_before_writing(recommended, tmp_path,
                                                                    capsys):
    from sklearn.ensemble import RandomForestClassifier

    _, paths, _ = recommended
    steps = make_recommended_classifier(pretrainedfeatures__pretrained=False,
                                        pretrainedfeatures__backend="torch").steps
    forest = make_pipeline(ImageLoader(size=32), ChannelNormalizer(mean="efficientnet_lite"),
                           steps[0][1], RandomForestClassifier(n_estimators=3, random_state=0))
    forest.fit([str(p) for p in paths[:6]], ["a", "b"] * 3)
    save_model(forest, tmp_path / "forest.joblib", format="joblib")
    out = tmp_path / "e"
    code = main(["explain", str(tmp_path / "forest.joblib"), "--trust-pickle", str(paths[0]),
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()
    assert "cannot be explained" in err[-1] and "Traceback" not in "".join(err)


def test_tta_on_the_recommended_model_says_it_is_already_mirror_averaged(recommended,
                                                                         tmp_path, capsys):
    """Its features average each photo with its mirror: --tta gives the same predictions and
    says so in one line, instead of silently doing nothing."""
    from skin_estimators.inference import averages_mirror

    model, paths, root = recommended
    assert averages_mirror(model)
    outputs = {}
    for tta in (False, True):
        out = tmp_path / f"p{tta}.csv"
        args = ["predict", str(root / "model.safetensors"), *map(str, paths[:3]),
                "--out", str(out)] + (["--tta"] if tta else [])
        assert main(args) == 0
        with open(out, newline="") as f:
            outputs[tta] = list(csv.DictReader(f))
        err = capsys.readouterr().err
        assert ("already averages each image with its mirror image" in err) == tta
    assert outputs[True] == outputs[False]


# ----------------------------------------------------------------------- blank images
def _solid(path, colour, size=400):
    Image.new("RGB", (size, size), colour).save(path)
    return path


def test_blank_images_are_flagged_out_of_scope(recommended, tmp_path):
    model, paths, root = recommended
    blanks = [_solid(tmp_path / f"{name}.jpg", colour) for name, colour in
              (("black", (0, 0, 0)), ("white", (255, 255, 255)), ("red", (255, 0, 0)))]
    blanks.append(_solid(tmp_path / "grey.png", (128, 128, 128)))
    out = tmp_path / "p.csv"
    assert main(["predict", str(root / "model.safetensors"), *map(str, blanks + paths[:3]),
                 "--out", str(out), "--quiet"]) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["flag"] for r in rows[:4]] == ["out_of_scope"] * 4
    assert all(r["out_of_scope_score"] == "inf" and r["pred_class"] for r in rows[:4])
    assert all(r["out_of_scope_score"] != "inf" for r in rows[4:])
    X = model[:-1].transform([str(p) for p in blanks])
    trusted = model[-1]
    assert (trusted.predict_flag(X) == "out_of_scope").all()
    assert np.isposinf(trusted.out_of_scope_score(X)).all()


def test_blank_gate_without_an_out_of_scope_model(recommended):
    from sklearn.base import clone

    _, paths, _ = recommended
    inner = make_recommended_classifier(pretrainedfeatures__pretrained=False,
                                        pretrainedfeatures__backend="torch")
    model = make_pipeline(ImageLoader(size=SIZE), ChannelNormalizer(mean="efficientnet_lite"),
                          TrustedClassifier(clone(inner), cv=2, out_of_scope=None))
    model.fit([str(p) for p in paths], np.array(["acne", "herpes", "lichen"] * 4))
    X = model[:-1].transform([str(paths[0])])
    X = np.concatenate([X, np.full_like(X, 0.3)])
    result = model[-1].predict_all(X)
    assert result["flag"][1] == "out_of_scope" and np.isposinf(result["out_of_scope_score"][1])
    assert np.isnan(result["out_of_scope_score"][0]) and result["flag"][0] != "out_of_scope"


def test_no_real_photo_is_caught_by_the_blank_gate():
    """Every photo of skin3, sd198 and sd198_other passes the gate, at the recommended
    model's inputs (controlled, 224 px); efficientnet_lite's std (0.5) is the largest of the
    presets, so its normalised spreads are the smallest."""
    import os

    from skin_estimators.preprocessing import CONTROLLED_INPUTS
    from skin_estimators.uncertainty._quality import BLANK_STD, blank_images

    base = os.environ.get("SKIN_ESTIMATORS_DATA")
    if not base or not os.path.isdir(os.path.join(base, "skin3")):
        pytest.skip("the photos are not available: set SKIN_ESTIMATORS_DATA")
    files = []
    for name in ("skin3", "sd198", "sd198_other"):
        for folder, _, names in os.walk(os.path.join(base, name)):
            files += [os.path.join(folder, n) for n in sorted(names)
                      if n.lower().endswith((".jpg", ".jpeg", ".png"))]
    assert len(files) > 800
    prep = make_pipeline(ImageLoader(size=224, **CONTROLLED_INPUTS),
                         ChannelNormalizer(mean="efficientnet_lite"))
    caught, lowest = [], np.inf
    for start in range(0, len(files), 64):
        X = prep.fit_transform(files[start:start + 64])
        spread = X.reshape(len(X), 3, -1).std(axis=2).max(axis=1)
        lowest = min(lowest, float(spread.min()))
        caught += [f for f, b in zip(files[start:start + 64], blank_images(X), strict=True) if b]
    assert caught == []
    assert lowest > 5 * BLANK_STD  # far from the threshold (0.079 measured), not just above


def test_a_trusted_network_is_explained_through_its_network(recommended, tmp_path):
    from skin_estimators import VanillaCNNClassifier

    _, paths, _ = recommended
    y = np.array(["acne", "herpes", "lichen"] * 4)
    model = make_pipeline(ImageLoader(size=16), ChannelNormalizer(),
                          TrustedClassifier(VanillaCNNClassifier(max_epochs=1, random_state=0),
                                            cv=2, out_of_scope="max_proba"))
    model.fit([str(p) for p in paths], y)
    save_model(model, tmp_path / "m.safetensors")
    out = tmp_path / "e"
    assert main(["explain", str(tmp_path / "m.safetensors"), *map(str, paths[:2]),
                 "--out", str(out), "--quiet"]) == 0
    with open(out / "explanations.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    proba = model.predict_proba([str(p) for p in paths[:2]])
    for row, p in zip(rows, proba, strict=True):
        assert row["method"] == "gradcam" and row["error"] == ""
        assert float(row["probability"]) == pytest.approx(p.max())  # the calibrated one
