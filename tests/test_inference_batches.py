"""Batch prediction from files: background decoding changes nothing, --backend reaches every
frozen-feature step (also inside a TrustedClassifier)."""

import csv
import os

import numpy as np
import pytest
from PIL import Image
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    PretrainedFeatures,
    TrustedClassifier,
    save_model,
)
from skin_estimators.cli import main
from skin_estimators.inference import (
    iter_file_batches,
    predict_files,
    set_feature_backend,
    small_blas,
    transform_files,
)


@pytest.fixture
def photo_folder(tmp_path):
    """Two class folders of small random photos, with one unreadable file among them."""
    rng = np.random.RandomState(0)
    paths, labels = [], []
    folder = tmp_path / "photos"
    for cls in ("acne", "lichen_planus"):
        (folder / cls).mkdir(parents=True)
        for i in range(7):
            path = folder / cls / f"p{i}.png"
            Image.fromarray(rng.randint(0, 256, (20 + i, 28, 3), dtype=np.uint8)).save(path)
            paths.append(str(path))
            labels.append(cls)
    return folder, paths, labels


def _broken(folder):
    path = folder / "acne" / "broken.png"
    path.write_bytes(b"not an image")
    return str(path)


def test_batches_are_transform_files_per_batch(photo_folder):
    folder, paths, _ = photo_folder
    paths = paths[:3] + [_broken(folder)] + paths[3:]
    pre = make_pipeline(ImageLoader(size=16), ChannelNormalizer()).fit(paths[:3])
    batches = list(iter_file_batches(pre, paths, batch_size=4))
    assert [start for start, *_ in batches] == [0, 4, 8, 12]
    for start, X, ok, errors in batches:
        X_ref, ok_ref, errors_ref = transform_files(pre, paths[start:start + 4])
        assert ok == ok_ref and errors == errors_ref
        np.testing.assert_array_equal(X, X_ref)  # the same computation, bit for bit
    assert list(batches[0][3]) == [3] and "broken.png" in paths[3]


def test_batches_of_an_empty_list_and_of_a_bare_loader(photo_folder):
    _, paths, _ = photo_folder
    loader = ImageLoader(size=8).fit(paths)
    assert list(iter_file_batches(loader, [], batch_size=4)) == []
    (start, X, ok, errors), = iter_file_batches(loader, paths[:2], batch_size=4)
    assert (start, X.shape, ok, errors) == (0, (2, 8, 8, 3), [0, 1], {})


def test_an_error_in_the_background_is_raised_at_its_batch(photo_folder):
    _, paths, _ = photo_folder

    class Failing(ImageLoader):
        def transform(self, X):
            if any("p5" in str(p) for p in X):
                raise RuntimeError("disk gone")
            return super().transform(X)

    loader = Failing(size=8).fit(paths)
    seen = []
    with pytest.raises(RuntimeError, match="disk gone"):
        for start, *_ in iter_file_batches(loader, paths[:7], batch_size=2):
            seen.append(start)
    assert seen == [0, 2]  # p5 is in the batch starting at 4


def test_predict_files_does_not_depend_on_the_batch_size(photo_folder):
    folder, paths, labels = photo_folder
    model = make_pipeline(ImageLoader(size=8), ChannelNormalizer(), _Flatten(),
                          LogisticRegression(max_iter=500)).fit(paths, labels)
    files = paths + [_broken(folder)]
    one, errors_one = predict_files(model, files, batch_size=1)
    many, errors_many = predict_files(model, files, batch_size=5)
    assert errors_one[:-1] == errors_many[:-1] == [None] * len(paths)
    assert errors_one[-1] and errors_many[-1]
    np.testing.assert_allclose(one[:-1], many[:-1], rtol=1e-5, atol=1e-6)
    assert np.isnan(one[-1]).all() and np.isnan(many[-1]).all()


class _Flatten(TransformerMixin, BaseEstimator):
    """A stateless transformer: images to rows (a plain linear model then fits them)."""

    def fit(self, X, y=None):
        self.n_features_in_ = int(np.prod(np.shape(X)[1:]))
        return self

    def transform(self, X):
        return np.asarray(X).reshape(len(X), -1)


def test_small_blas_limits_numpy_to_one_thread_and_restores():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]

    before = blas_threads()
    with small_blas():
        assert set(blas_threads()) <= {1}
    assert blas_threads() == before


def _tiny_features(**params):
    return PretrainedFeatures(pretrained=False, stages=(2, 6), **params)


def test_set_feature_backend_reaches_nested_steps(rng):
    X = rng.randn(12, 3, 32, 32).astype(np.float32)
    y = np.array(["a", "b", "c"] * 4)
    trusted = TrustedClassifier(make_pipeline(_tiny_features(), LogisticRegression()), cv=2,
                                out_of_scope=None).fit(X, y)
    model = make_pipeline(ChannelNormalizer(), trusted)
    # The template inside the TrustedClassifier and the refitted estimator_: both are set.
    assert set_feature_backend(model, "torch") == 2
    assert trusted.estimator[0].backend == trusted.estimator_[0].backend == "torch"
    assert set_feature_backend(make_pipeline(ChannelNormalizer(), LogisticRegression()),
                               "torch") == 0


def _probabilities(csv_path):
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(r[k]) for k in r if k.startswith("proba_")] for r in rows])


def test_cli_backend_switch_gives_the_same_answers(photo_folder, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    folder, paths, labels = photo_folder
    model = make_pipeline(ImageLoader(size=32), ChannelNormalizer(mean="efficientnet_lite"),
                          _tiny_features(backend="auto"), LogisticRegression(max_iter=500))
    model_path = tmp_path / "model.safetensors"
    save_model(model.fit(paths, labels), model_path)
    proba = {}
    for backend in ("torch", "onnxruntime"):
        out = tmp_path / f"eval_{backend}"
        assert main(["evaluate", str(model_path), str(folder), "--backend", backend,
                     "--out", str(out), "--quiet"]) == 0
        proba[backend] = _probabilities(out / "predictions.csv")
    np.testing.assert_allclose(proba["onnxruntime"], proba["torch"], atol=1e-4)
    capsys.readouterr()


def test_cli_backend_on_a_model_without_frozen_features_says_so(photo_folder, tmp_path,
                                                                 capsys):
    folder, paths, labels = photo_folder
    model = make_pipeline(ImageLoader(size=8), ChannelNormalizer(), _Flatten(),
                          LogisticRegression(max_iter=500))
    # A plain pipeline with a non-library step is stored by joblib only.
    import joblib

    model_path = tmp_path / "model.joblib"
    joblib.dump(model.fit(paths, labels), model_path)
    capsys.readouterr()
    assert main(["predict", str(model_path), str(folder), "--trust-pickle", "--backend",
                 "torch", "--out", str(tmp_path / "p.csv"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "no frozen pretrained features" in err and "--backend torch" in err
    assert os.path.exists(tmp_path / "p.csv")
