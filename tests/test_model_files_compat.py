"""Model files written by an earlier version still load, and give the same outputs.

``tests/data/model_files/`` holds small safe model files of every estimator kind the format
allows (as far as small files allow), with what each fitted model gave on synthetic inputs
(``expected.json``); ``tests/data/make_model_files.py`` wrote them and says how.
"""

import importlib.util
import json
import pathlib

import numpy as np
import pytest

from skin_estimators import TrustedClassifier, load_model

DATA = pathlib.Path(__file__).resolve().parent / "data"
FILES = DATA / "model_files"
EXPECTED = json.loads((FILES / "expected.json").read_text())["models"]


def _maker():
    spec = importlib.util.spec_from_file_location("make_model_files",
                                                  DATA / "make_model_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _maker()


def test_every_committed_file_has_its_expected_outputs():
    assert sorted(p.stem for p in FILES.glob("*.safetensors")) == sorted(EXPECTED)
    assert sum(p.stat().st_size for p in FILES.iterdir()) < 3_000_000


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_file_of_the_earlier_version_loads_and_predicts_the_same(name):
    expected = EXPECTED[name]
    model = load_model(FILES / f"{name}.safetensors")
    X = MAKER.inputs(expected["inputs"])
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba, np.asarray(expected["predict_proba"]), rtol=1e-5,
                               atol=1e-6)
    if isinstance(model, TrustedClassifier):
        np.testing.assert_array_equal(model.predict_set(X), np.asarray(expected["predict_set"]))
        np.testing.assert_array_equal(model.predict_flag(X),
                                      np.asarray(expected["predict_flag"]))
    assert set(expected) - {"inputs", "predict_proba"} == (
        {"predict_set", "predict_flag"} if isinstance(model, TrustedClassifier) else set())


def test_the_files_cover_every_kind_of_estimator():
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import Pipeline

    kinds = set()

    def walk(est):
        kinds.add(type(est).__name__)
        for _, step in getattr(est, "steps", []):
            walk(step)
        for sub in [getattr(est, "estimator_", None), *(getattr(est, "estimators_", None) or [])]:
            if sub is not None and not isinstance(est, VotingClassifier | Pipeline):
                walk(sub)
        if isinstance(est, VotingClassifier):
            for member in est.estimators_:
                walk(member)

    for name in EXPECTED:
        walk(load_model(FILES / f"{name}.safetensors"))
    assert {"Pipeline", "ImageLoader", "ChannelNormalizer", "VanillaCNNClassifier",
            "ScatteringClassifier", "StandardScaler", "LogisticRegression", "VotingClassifier",
            "TrustedClassifier", "DomainAdapter"} <= kinds
