"""Common checks for the image estimators, in the manner of imbalanced-learn's ``estimator_checks``.

scikit-learn's own common checks feed 2-D tables, which the image architectures cannot take;
the shared base is checked against them with a tabular module (``tests/test_common.py``). The
checks here cover the same contract on tiny images: cloning, parameters, fitting and
predicting, label types, pickling, reproducibility and input validation.

Use :func:`parametrize_with_image_checks` in a test module::

    @parametrize_with_image_checks([VanillaCNNClassifier(max_epochs=1)])
    def test_image_estimators(estimator, check):
        check(estimator)
"""

import functools
import io
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

__all__ = [
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "image_checks",
    "make_tiny_images",
    "parametrize_with_image_checks",
]


def make_tiny_images(n=12, size=16, n_classes=3, seed=0):
    """Random normalised images ``(n, 3, size, size)`` with a learnable class signal.

    Each class shifts the mean of a different channel, so even one epoch can separate them.

    Parameters
    ----------
    n : int, default=12
        Number of images.
    size : int, default=16
        Height and width of the images.
    n_classes : int, default=3
        Number of classes; the labels cycle ``0, 1, ..., n_classes - 1``.
    seed : int, default=0
        Seed of the random pixels.

    Returns
    -------
    X : ndarray of shape (n, 3, size, size), dtype float32
        The images.
    y : ndarray of shape (n,), dtype int
        Their labels.

    Examples
    --------
    >>> from skin_estimators.utils.estimator_checks import make_tiny_images
    >>> X, y = make_tiny_images(n=6, size=8)
    >>> X.shape, X.dtype
    ((6, 3, 8, 8), dtype('float32'))
    >>> y.tolist()
    [0, 1, 2, 0, 1, 2]
    """
    rng = np.random.RandomState(seed)
    y = np.arange(n) % n_classes
    X = rng.randn(n, 3, size, size).astype(np.float32)
    for c in range(n_classes):
        X[y == c, c % 3] += 2.0
    return X, y


def _fit_small(estimator, X=None, y=None, **params):
    est = clone(estimator).set_params(**params)
    if X is None:
        X, y = make_tiny_images()
    return est.fit(X, y)


def check_clone_and_params(estimator):
    """``clone`` keeps every parameter; ``set_params`` / ``get_params`` round-trip."""
    cloned = clone(estimator)
    assert type(cloned) is type(estimator)
    original = estimator.get_params(deep=False)
    for key, value in cloned.get_params(deep=False).items():
        assert original[key] is value or original[key] == value, key
    cloned.set_params(lr=0.123, max_epochs=3)
    assert cloned.get_params()["lr"] == 0.123 and cloned.get_params()["max_epochs"] == 3
    assert estimator.get_params()["lr"] != 0.123 or original["lr"] == 0.123


def check_init_stores_only(estimator):
    """Constructing does no work: no module is built and no fitted state exists."""
    est = clone(estimator)
    assert not hasattr(est, "module_")
    assert not hasattr(est, "classes_")
    with pytest.raises(NotFittedError):
        est.predict(make_tiny_images(n=3)[0])


def check_fit_predict_labels(estimator):
    """Fit/predict on tiny images with string labels; outputs have the right types and shapes."""
    X, y = make_tiny_images()
    labels = np.array(["acne", "herpes_simplex", "lichen_planus"])[y]
    est = _fit_small(estimator, X, labels)
    assert list(est.classes_) == ["acne", "herpes_simplex", "lichen_planus"]
    pred = est.predict(X)
    assert pred.shape == (len(X),) and set(pred) <= set(labels)
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert est.n_features_in_ == 3
    # integer labels that are not 0..n-1 come back unchanged
    est = _fit_small(estimator, X, y * 10 + 7)
    assert set(est.predict(X)) <= {7, 17, 27}


def check_fit_idempotent(estimator):
    """Two fits with the same ``random_state`` give identical probabilities on the CPU."""
    X, y = make_tiny_images()
    p1 = _fit_small(estimator, X, y, random_state=0).predict_proba(X)
    p2 = _fit_small(estimator, X, y, random_state=0).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)


def check_pickle_roundtrip(estimator):
    """pickle and joblib keep the fitted model: identical probabilities after loading."""
    X, y = make_tiny_images()
    est = _fit_small(estimator, X, y, random_state=0)
    expected = est.predict_proba(X)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    assert loaded.get_params()["device"] == est.get_params()["device"]


def check_bad_input_shapes(estimator):
    """Wrong dimensions, channels, NaN, one class, too few samples: clear ValueErrors."""
    X, y = make_tiny_images()
    est = clone(estimator)
    with pytest.raises(ValueError, match="4-D"):
        est.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="3 channels"):
        est.fit(X[:, :2], y)
    with pytest.raises(ValueError, match="channels"):
        est.fit(np.ascontiguousarray(X.transpose(0, 2, 3, 1)), y)
    bad = X.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(bad, y)
    with pytest.raises(ValueError, match="class"):
        est.fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="sample"):
        est.fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="file paths|dtype"):
        est.fit(np.array(["a.jpg"] * len(y)), y)
    fitted = _fit_small(estimator, X, y)
    with pytest.raises(ValueError, match="channels|features"):
        fitted.predict(X[:, :2])


def check_partial_fit_rejects_unseen(estimator):
    """Warm-start training with a label never seen in fit is an error naming the label."""
    X, y = make_tiny_images()
    est = _fit_small(estimator, X, y)
    with pytest.raises(ValueError, match="99"):
        est.partial_fit(X, np.where(y == 0, 99, y))


#: Methods whose outputs the invariance checks compare, when the estimator has them.
_OUTPUT_METHODS = ("predict_proba", "decision_function", "transform", "predict")

#: float32 tolerances: what float32 kernels may change when a row moves within its batch
#: (absolute for probabilities in [0, 1]; deep networks accumulate a few ulps per layer).
FLOAT32_RTOL = 1e-5
FLOAT32_ATOL = 1e-5


def _outputs(fitted, X):
    return {m: np.asarray(getattr(fitted, m)(X)) for m in _OUTPUT_METHODS if hasattr(fitted, m)}


def _assert_same_outputs(expected, actual, proba=None, what="", rtol=FLOAT32_RTOL,
                         atol=FLOAT32_ATOL):
    """Numeric outputs agree to float32 precision; labels agree where no near-tie decides them.

    ``proba`` (the reference probabilities) marks the rows whose top two classes are within
    the tolerance of each other: there float32 rounding may pick either label.
    """
    for method, want in expected.items():
        got = actual[method]
        assert got.shape == want.shape, (method, got.shape, want.shape)
        if method == "predict":
            decided = np.ones(len(want), dtype=bool)
            if proba is not None and proba.shape[1] > 1:
                top2 = np.sort(proba, axis=1)[:, -2:]
                decided = (top2[:, 1] - top2[:, 0]) > 10 * atol
            np.testing.assert_array_equal(got[decided], want[decided], err_msg=f"{method} {what}")
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                       err_msg=f"{method} {what}")


def check_methods_sample_order_invariance(estimator, X=None, y=None, rtol=FLOAT32_RTOL,
                                          atol=FLOAT32_ATOL):
    """Outputs for reordered rows are the reordered outputs, to float32 precision.

    scikit-learn's check of the same name asks for agreement to 1e-7, which float32
    networks cannot promise (a row's last bits may depend on its place in the batch); this
    one allows ``rtol`` / ``atol`` (float32's). ``X`` and ``y`` default to
    :func:`make_tiny_images`; a transformer may be given ``y=None``.

    Parameters
    ----------
    estimator : estimator
        Unfitted; it is cloned and fitted on ``X``, ``y``.
    X, y : array-like, optional
        Training and checking data.
    rtol, atol : float
        Tolerances of numeric outputs (probabilities, decision values, features).

    Examples
    --------
    >>> from skin_estimators import VanillaCNNClassifier
    >>> from skin_estimators.utils.estimator_checks import (
    ...     check_methods_sample_order_invariance)
    >>> check_methods_sample_order_invariance(VanillaCNNClassifier(max_epochs=1))
    """
    if X is None:
        X, y = make_tiny_images()
    est = _fit_small(estimator, X, y)
    expected = _outputs(est, X)
    order = np.random.RandomState(1).permutation(len(X))
    actual = _outputs(est, X[order])
    proba = expected.get("predict_proba")
    reordered = {m: v[order] for m, v in expected.items()}
    _assert_same_outputs(reordered, actual, None if proba is None else proba[order],
                         "after reordering the rows", rtol, atol)


def check_methods_subset_invariance(estimator, X=None, y=None, rtol=FLOAT32_RTOL,
                                    atol=FLOAT32_ATOL):
    """Outputs for one row at a time, or a few, are those for all rows together (float32).

    The float32-tolerant counterpart of scikit-learn's ``check_methods_subset_invariance``;
    the parameters are those of :func:`check_methods_sample_order_invariance`.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import ChannelNormalizer
    >>> from skin_estimators.utils.estimator_checks import check_methods_subset_invariance
    >>> images = np.random.RandomState(0).randint(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    >>> check_methods_subset_invariance(ChannelNormalizer(), images)
    """
    if X is None:
        X, y = make_tiny_images()
    est = _fit_small(estimator, X, y)
    expected = _outputs(est, X)
    proba = expected.get("predict_proba")
    for size in (1, 5):
        for start in range(0, len(X), size):
            rows = slice(start, start + size)
            _assert_same_outputs({m: v[rows] for m, v in expected.items()},
                                 _outputs(est, X[rows]),
                                 None if proba is None else proba[rows],
                                 f"for rows {start}:{start + size} alone", rtol, atol)


def image_checks():
    """The checks every image estimator must pass.

    Each check is a function that takes an (unfitted) estimator and raises an
    ``AssertionError`` (or the error the estimator should not have raised) when the estimator
    breaks the contract.

    Returns
    -------
    list of callable

    Examples
    --------
    >>> from skin_estimators import VanillaCNNClassifier
    >>> from skin_estimators.utils.estimator_checks import image_checks
    >>> [check.__name__ for check in image_checks()][:3]
    ['check_clone_and_params', 'check_init_stores_only', 'check_fit_predict_labels']
    >>> for check in image_checks():
    ...     check(VanillaCNNClassifier(max_epochs=1, batch_size=4))
    """
    return [
        check_clone_and_params,
        check_init_stores_only,
        check_fit_predict_labels,
        check_fit_idempotent,
        check_pickle_roundtrip,
        check_bad_input_shapes,
        check_partial_fit_rejects_unseen,
        check_methods_sample_order_invariance,
        check_methods_subset_invariance,
    ]


def _check_id(obj):
    if hasattr(obj, "get_params"):
        return type(obj).__name__
    if callable(obj):
        return getattr(obj, "__name__", repr(obj))
    return None


def parametrize_with_image_checks(estimators):
    """Pytest decorator: one test per (estimator, check) pair, like sklearn's ``parametrize_with_checks``.

    Parameters
    ----------
    estimators : list of estimator
        Unfitted image estimators, configured to train quickly (one epoch, say).

    Returns
    -------
    decorator
        ``pytest.mark.parametrize("estimator, check", ...)``, with test ids naming the
        estimator class and the check.

    Examples
    --------
    In a test module:

    >>> from skin_estimators import VanillaCNNClassifier
    >>> from skin_estimators.utils.estimator_checks import parametrize_with_image_checks
    >>> @parametrize_with_image_checks([VanillaCNNClassifier(max_epochs=1)])
    ... def test_image_estimators(estimator, check):
    ...     check(estimator)
    >>> [mark.args[0] for mark in test_image_estimators.pytestmark]
    ['estimator, check']
    """
    pairs = [(est, functools.partial(check)) for est in estimators for check in image_checks()]
    for _, partial in pairs:
        functools.update_wrapper(partial, partial.func)
    return pytest.mark.parametrize("estimator, check", pairs, ids=_check_id)
