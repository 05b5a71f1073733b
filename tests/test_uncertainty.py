"""TrustedClassifier and its parts: coverage guarantee, calibration, out-of-scope score,
grouped folds, scikit-learn conventions and parameter errors."""

import pickle

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skin_estimators import TrustedClassifier
from skin_estimators.uncertainty import classwise_ece, coverage, mean_set_size
from skin_estimators.uncertainty._calibration import apply_calibration, fit_calibration
from skin_estimators.uncertainty._conformal import conformal_quantiles, prediction_sets


def _data(n=1500, seed=0, n_classes=3):
    return make_classification(n, n_features=8, n_informative=4, n_classes=n_classes,
                               n_clusters_per_class=1, weights=None, flip_y=0.05,
                               random_state=seed)


@pytest.mark.parametrize("mondrian", [False, True])
def test_split_conformal_coverage_over_many_splits(mondrian):
    X, y = _data(n=2400)
    rng = np.random.RandomState(0)
    overall, per_class = [], []
    for _ in range(60):
        order = rng.permutation(len(y))
        fit, cal, test = order[:600], order[600:1500], order[1500:]
        model = LogisticRegression().fit(X[fit], y[fit])
        q = conformal_quantiles(model.predict_proba(X[cal]), y[cal], 0.9, mondrian)
        sets = prediction_sets(model.predict_proba(X[test]), q)
        total, classes = coverage(y[test], sets, [0, 1, 2])
        overall.append(total)
        per_class.append(classes)
    assert abs(np.mean(overall) - 0.9) <= 0.02
    if mondrian:
        assert np.all(np.abs(np.mean(per_class, axis=0) - 0.9) <= 0.02)


def test_trusted_classifier_covers_new_exchangeable_data():
    overall, per_class = [], []
    for seed in range(6):
        X, y = _data(n=1200, seed=seed)
        clf = TrustedClassifier(LogisticRegression(), out_of_scope=None,
                                random_state=seed).fit(X[:600], y[:600])
        total, classes = coverage(y[600:], clf.predict_set(X[600:]), clf.classes_)
        overall.append(total)
        per_class.append(classes)
    assert abs(np.mean(overall) - 0.9) <= 0.02
    assert np.all(np.mean(per_class, axis=0) >= 0.87)


def test_quantile_is_maplies_order_statistic():
    mapie = pytest.importorskip("mapie.classification")
    X, y = _data(n=900, seed=3)
    model = LogisticRegression().fit(X[:300], y[:300])
    scc = mapie.SplitConformalClassifier(model, confidence_level=0.9, conformity_score="lac",
                                         prefit=True).conformalize(X[300:600], y[300:600])
    _, theirs = scc.predict_set(X[600:])
    q = conformal_quantiles(model.predict_proba(X[300:600]), y[300:600], 0.9, mondrian=False)
    ours = prediction_sets(model.predict_proba(X[600:]), q)
    assert np.array_equal(ours, theirs[:, :, 0])


def test_few_calibration_scores_give_the_full_set():
    q = conformal_quantiles(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 1]), 0.9)
    assert q.tolist() == [1.0, 1.0]
    assert prediction_sets(np.array([[1.0, 0.0]]), q).all()


class _Overconfident(ClassifierMixin, BaseEstimator):
    """Logistic regression with its log-probabilities multiplied by ``sharpness``."""

    def __init__(self, sharpness=4.0):
        self.sharpness = sharpness

    def fit(self, X, y):
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return softmax(self.sharpness * np.log(self.model_.predict_proba(X)), axis=1)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


@pytest.mark.parametrize("method", ["temperature", "sigmoid"])
def test_calibration_improves_ece_of_a_miscalibrated_model(method):
    X, y = _data(n=2000, seed=1)
    raw = _Overconfident().fit(X[:1000], y[:1000])
    clf = TrustedClassifier(_Overconfident(), calibration=method,
                            out_of_scope=None).fit(X[:1000], y[:1000])
    before, _ = classwise_ece(y[1000:], raw.predict_proba(X[1000:]), raw.classes_)
    after, _ = classwise_ece(y[1000:], clf.predict_proba(X[1000:]), clf.classes_)
    assert after < 0.6 * before
    assert np.array_equal(clf.predict(X[1000:]), raw.predict(X[1000:]))


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("method", ["temperature", "sigmoid"])
def test_stored_calibration_equals_scikit_learns(method, n_classes):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    X, y = _data(n=600, seed=2, n_classes=n_classes)
    model = _Overconfident().fit(X[:300], y[:300])
    proba = model.predict_proba(X[300:])
    params = fit_calibration(proba, y[300:], method)
    reference = CalibratedClassifierCV(FrozenEstimator(model), method=method)
    reference.fit(X[300:], y[300:])
    np.testing.assert_allclose(apply_calibration(model.predict_proba(X[:300]), method, params),
                               reference.predict_proba(X[:300]), atol=1e-7)


def test_balanced_prevalence_raises_the_rare_class_probability():
    X, y = make_classification(1500, n_features=6, n_informative=3, n_classes=2,
                               weights=[0.85], flip_y=0.1, random_state=0)
    kw = dict(out_of_scope=None, calibration="sigmoid")
    training = TrustedClassifier(LogisticRegression(), prevalence="training", **kw).fit(X, y)
    balanced = TrustedClassifier(LogisticRegression(), prevalence="balanced", **kw).fit(X, y)
    rare_training = training.predict_proba(X)[:, 1].mean()
    rare_balanced = balanced.predict_proba(X)[:, 1].mean()
    assert abs(rare_training - np.mean(y == 1)) < 0.03  # matches the training frequency
    assert rare_balanced > rare_training + 0.1


@pytest.mark.parametrize("kind", ["mahalanobis", "max_proba"])
def test_out_of_scope_threshold_false_alarms_and_far_points(kind):
    alarms = []
    for seed in range(4):
        X, y = _data(n=1400, seed=seed)
        clf = TrustedClassifier(make_pipeline(StandardScaler(), LogisticRegression()),
                                out_of_scope=kind, random_state=seed).fit(X[:700], y[:700])
        alarms.append(np.mean(clf.predict_flag(X[700:]) == "out_of_scope"))
        if kind == "mahalanobis":
            far = X[700:750] + 25.0 * np.sign(X[700:750])
            assert np.all(clf.predict_flag(far) == "out_of_scope")
            assert np.all(clf.out_of_scope_score(far) > clf.out_of_scope_score(X[700:]).max())
    assert 0.02 <= np.mean(alarms) <= 0.09


def test_flags_follow_sets_and_threshold():
    X, y = _data(n=600)
    clf = TrustedClassifier(LogisticRegression()).fit(X, y)
    out = clf.predict_all(X)
    size = out["sets"].sum(axis=1)
    scope = out["out_of_scope_score"] > clf.oos_threshold_
    expected = np.where(scope, "out_of_scope", np.where(size == 1, "confident", "uncertain"))
    assert np.array_equal(out["flag"], expected)
    assert set(expected) == {"out_of_scope", "confident", "uncertain"}
    assert np.array_equal(out["pred"], clf.predict(X))
    assert mean_set_size(out["sets"]) == pytest.approx(size.mean())


class _Spy(ClassifierMixin, BaseEstimator):
    """Records the groups (column 0) it is fitted on and predicts for."""

    log = []

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.fit_groups_ = set(np.asarray(X)[:, 0].astype(int).tolist())
        self.model_ = LogisticRegression().fit(X[:, 1:], y)
        return self

    def predict_proba(self, X):
        _Spy.log.append((self.fit_groups_, set(np.asarray(X)[:, 0].astype(int).tolist())))
        return self.model_.predict_proba(X[:, 1:])

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def test_a_group_never_calibrates_itself():
    X, y = _data(n=400)
    groups = np.arange(len(y)) // 4  # groups of four rows
    X = np.column_stack([groups, X])
    _Spy.log = []
    TrustedClassifier(_Spy(), out_of_scope=None, cv=5).fit(X, y, groups=groups)
    assert len(_Spy.log) == 5
    for fitted, predicted in _Spy.log:
        assert fitted and predicted and not fitted & predicted
    # without groups the rows of a group are split between fitting and calibration
    _Spy.log = []
    TrustedClassifier(_Spy(), out_of_scope=None, cv=5).fit(X, y)
    assert any(fitted & predicted for fitted, predicted in _Spy.log)


def test_sklearn_conventions_clone_params_pickle():
    X, y = _data(n=300)
    clf = TrustedClassifier(LogisticRegression(C=0.5), confidence_level=0.8, cv=3)
    assert clf.get_params()["estimator__C"] == 0.5
    assert not [k for k in vars(clf) if k.endswith("_")]
    copy = clone(clf)
    assert copy.get_params()["confidence_level"] == 0.8
    fitted = clf.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.predict_set(X), fitted.predict_set(X))
    np.testing.assert_array_equal(again.out_of_scope_score(X), fitted.out_of_scope_score(X))


@pytest.mark.parametrize("params, name", [
    ({"confidence_level": float("nan")}, "confidence_level"),
    ({"confidence_level": 1.0}, "confidence_level"),
    ({"confidence_level": "0.9"}, "confidence_level"),
    ({"false_alarm_rate": float("nan")}, "false_alarm_rate"),
    ({"false_alarm_rate": 0}, "false_alarm_rate"),
    ({"calibration": "isotonicish"}, "calibration"),
    ({"out_of_scope": "energy"}, "out_of_scope"),
    ({"prevalence": "equal"}, "prevalence"),
    ({"mondrian": "yes"}, "mondrian"),
    ({"cv": 1}, "cv"),
    ({"estimator": StandardScaler()}, "estimator"),
])
def test_bad_parameters_one_line_naming_it(params, name):
    X, y = _data(n=100)
    kw = {"estimator": LogisticRegression(), **params}
    with pytest.raises(ValueError) as info:
        TrustedClassifier(**kw).fit(X, y)
    message = str(info.value)
    assert name in message and "\n" not in message


def test_groups_of_the_wrong_length():
    X, y = _data(n=100)
    with pytest.raises(ValueError, match="groups has 3 entries"):
        TrustedClassifier(LogisticRegression()).fit(X, y, groups=[1, 2, 3])


def test_ece_and_coverage_metrics():
    proba = np.array([[0.8, 0.2], [0.8, 0.2], [0.3, 0.7], [0.3, 0.7]])
    ece, per_class = classwise_ece(["a", "b", "b", "b"], proba, ["a", "b"])
    # class a: bin 0.8 has freq 0.5 (|0.5-0.8|*2), bin 0.3 has freq 0 (|0-0.3|*2); / 4
    assert per_class[0] == pytest.approx((0.3 * 2 + 0.3 * 2) / 4)
    assert ece == pytest.approx(per_class.mean())
    sets = np.array([[True, False], [True, True], [False, True], [True, False]])
    total, classes = coverage(["a", "b", "b", "b"], sets, ["a", "b"])
    assert total == 0.75 and classes.tolist() == [1.0, 2 / 3]
    with pytest.raises(ValueError, match="not among the classes"):
        coverage(["c"], sets[:1], ["a", "b"])


def test_mahalanobis_is_finite_without_within_class_variation():
    """One sample a class in each fold: the scores and the threshold stay finite (a file
    holding an infinite threshold would be refused on load)."""
    from sklearn.linear_model import LogisticRegression

    X = np.random.RandomState(0).randn(6, 4)
    clf = TrustedClassifier(LogisticRegression(), cv=2).fit(X, ["a", "b", "c"] * 2)
    assert np.isfinite(clf.oos_threshold_) and np.isfinite(clf.out_of_scope_score(X)).all()
