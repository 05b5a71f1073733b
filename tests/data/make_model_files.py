"""Write the small safe model files that ``tests/test_model_files_compat.py`` loads.

The files under ``tests/data/model_files/`` were written by this script at the commit named
in ``tests/data/model_files/expected.json`` (``written_by``): model files of the format as
that version of skin-estimators saves them. Each later version must still load them and give
the same outputs, so they are not rewritten when the code changes. To add a model, or to
write the files again after a deliberate change of the format, run from the repository root::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python tests/data/make_model_files.py

It fits each model on synthetic data made from fixed seeds (no photos), saves it with
``save_model`` in the safe format, and records in ``expected.json`` what the fitted model
gives on the synthetic inputs of :func:`inputs`: ``predict_proba`` and, for a
TrustedClassifier, its prediction sets and flags. The inputs are made again by the test from
the same seeds, so only the model files and the expected outputs are stored.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "model_files"

#: The side of the synthetic images, and their number.
SIDE, N_IMAGES = 20, 12


def images(seed):
    """``(n, SIDE, SIDE, 3)`` uint8 images: noise on a colour that depends on the class."""
    rng = np.random.RandomState(seed)
    y = np.array(["acne", "herpes", "lichen"] * (N_IMAGES // 3))
    pixels = rng.randint(0, 120, (N_IMAGES, SIDE, SIDE, 3))
    for k in range(3):
        pixels[y == ["acne", "herpes", "lichen"][k], :, :, k] += 120
    return pixels.astype(np.uint8), y


def arrays(seed):
    """``(n, 3, 16, 16)`` float32 images (what a classifier takes without a loader)."""
    X = np.random.RandomState(seed).randn(N_IMAGES, 3, 16, 16).astype(np.float32)
    return X, np.array(["a", "b", "c"] * (N_IMAGES // 3))


def features(seed, n=90, d=6):
    """``(n, d)`` features of three classes (as ``tests/test_adaptation.py`` makes them)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = np.repeat(["a", "b", "c"], n // 3)
    X[y == "b", 0] += 2.5
    X[y == "c", 1] += 2.5
    return X, y


def negatives(seed, n=30, d=6):
    """Features of other conditions, away from the three classes."""
    return np.random.RandomState(seed).randn(n, d) - 3.0


def inputs(kind):
    """The synthetic inputs a model of ``kind`` ("images", "arrays" or "features") is
    evaluated on."""
    if kind == "images":
        return images(1)[0]
    if kind == "arrays":
        return arrays(1)[0]
    X, _ = features(1)
    return np.vstack([X, 1 + 2 * X[:10], negatives(2, n=5)])


def _models():
    """``name -> (fitted model, input kind)``: every estimator kind a safe file may hold."""
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skin_estimators import ScatteringClassifier, TrustedClassifier, VanillaCNNClassifier
    from skin_estimators.adaptation import DomainAdapter, adapt_model
    from skin_estimators.preprocessing import ChannelNormalizer, ImageLoader

    X_img, y_img = images(0)
    X, y = features(0)

    def linear(C=0.5):
        return make_pipeline(StandardScaler(), LogisticRegression(C=C))

    models = {}
    models["cnn_pipeline"] = (make_pipeline(
        ImageLoader(size=16), ChannelNormalizer(),
        VanillaCNNClassifier(max_epochs=2, batch_size=4, lr=0.01, random_state=0)
    ).fit(X_img, y_img), "images")
    # Not here: PretrainedFeatures and the EfficientNet-Lite, ResNet-50 and BiT classifiers,
    # whose files hold the whole backbone's weights (about 14 MB for EfficientNet-Lite0).
    models["scattering"] = (ScatteringClassifier(
        max_epochs=1, batch_size=4, random_state=0).fit(*arrays(0)), "arrays")
    models["linear"] = (linear().fit(X, y), "features")
    models["voting"] = (VotingClassifier(
        [("scaled", linear()), ("plain", LogisticRegression(C=2.0))], voting="soft",
        weights=[2.0, 1.0]).fit(X, y), "features")
    models["trusted_split"] = (TrustedClassifier(linear(), cv=3).fit(X, y), "features")
    models["trusted_cross_knn"] = (TrustedClassifier(
        linear(), cv=3, conformal="cross", out_of_scope="knn", calibration="sigmoid"
    ).fit(X, y), "features")
    models["trusted_knn_other"] = (TrustedClassifier(
        linear(), cv=3, out_of_scope="knn_other").fit(X, y, X_other=negatives(0)), "features")
    adaptable = TrustedClassifier(make_pipeline(DomainAdapter(), StandardScaler(),
                                                LogisticRegression()),
                                  conformal="cross", out_of_scope="knn", cv=3).fit(X, y)
    models["adapted"] = (adapt_model(adaptable, 1 + 2 * X), "features")
    return models


def outputs(model):
    """What a fitted model gives on its inputs: probabilities, and a trusted model's sets."""
    from skin_estimators import TrustedClassifier

    out = {"predict_proba": model.predict_proba}
    if isinstance(model, TrustedClassifier):
        out["predict_set"] = model.predict_set
        out["predict_flag"] = model.predict_flag
    return out


def main():
    from skin_estimators import __version__, save_model

    OUT.mkdir(exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    expected = {"written_by": {"commit": commit, "skin_estimators": __version__},
                "models": {}}
    for name, (model, kind) in _models().items():
        save_model(model, OUT / f"{name}.safetensors")
        X = inputs(kind)
        expected["models"][name] = {"inputs": kind, **{
            what: np.asarray(method(X)).tolist() for what, method in outputs(model).items()}}
        size = (OUT / f"{name}.safetensors").stat().st_size
        print(f"{name}: {size / 1e3:.0f} kB", file=sys.stderr)
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
