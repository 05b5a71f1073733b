"""Adapting a fitted model to a new clinic: its DomainAdapter fitted on the clinic's photos,
the steps after it (and the trust layer) refitted on the adapted training features."""

import copy
import hashlib

import numpy as np

from ..exceptions import AdaptationError
from ._adapter import DomainAdapter

__all__ = ["adapt_model", "adaptation_info", "adapter_of", "file_keys"]


def file_keys(paths):
    """The SHA-256 of each file's bytes: a photo's identity, whatever its name or folder.

    Examples
    --------
    >>> import os, tempfile
    >>> from skin_estimators.adaptation import file_keys
    >>> tmp = tempfile.TemporaryDirectory()
    >>> for name in ("a.jpg", "b.jpg"):
    ...     with open(os.path.join(tmp.name, name), "wb") as f:
    ...         _ = f.write(b"same bytes")
    >>> a, b = file_keys([os.path.join(tmp.name, n) for n in ("a.jpg", "b.jpg")])
    >>> a == b, len(a)
    (True, 64)
    >>> tmp.cleanup()
    """
    keys = []
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        keys.append(digest.hexdigest())
    return keys


def _locate(model):
    """``(outer, trusted, inner, k)``: the steps before the classifier (or None), the
    TrustedClassifier (or None), the pipeline holding the DomainAdapter and its index."""
    from sklearn.pipeline import Pipeline

    from ..uncertainty import TrustedClassifier

    outer, last = None, model
    if isinstance(model, Pipeline) and isinstance(model.steps[-1][1], TrustedClassifier):
        outer, last = model[:-1], model.steps[-1][1]
    trusted = last if isinstance(last, TrustedClassifier) else None
    inner = trusted.estimator_ if trusted is not None else last
    if isinstance(inner, Pipeline):
        for k, (_, step) in enumerate(inner.steps):
            if isinstance(step, DomainAdapter):
                return outer, trusted, inner, k
    return None


def adapter_of(model):
    """The model's fitted :class:`DomainAdapter`, or None when it has none.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skin_estimators.adaptation import DomainAdapter, adapter_of
    >>> X, y = np.random.RandomState(0).randn(20, 3), [0, 1] * 10
    >>> model = make_pipeline(DomainAdapter(), LogisticRegression()).fit(X, y)
    >>> adapter_of(model).n_target_, adapter_of(LogisticRegression().fit(X, y))
    (0, None)
    """
    found = _locate(model)
    return None if found is None else found[2].steps[found[3]][1]


def _labels(adapter, trusted):
    if adapter.source_labels_ is not None:
        return np.asarray(adapter.source_labels_)
    labels = getattr(trusted, "calibration_labels_", None)
    if labels is not None:
        return trusted.classes_[labels]
    raise AdaptationError("the model's DomainAdapter kept no training labels; refit the "
                          "model with this version of the library to adapt it.")


def _aligned_negatives(trusted, adapter):
    """The negatives a score of ``trusted`` learned from, mapped as the training features are
    (``"standardize"``: on the training features' own statistics), so that the score keeps
    its relation between them; None when the score learned from none."""
    if not getattr(trusted, "n_negatives_", 0):
        return None
    negatives = getattr(trusted, "negative_features_", None)
    if negatives is None:
        raise AdaptationError(
            "the model's out-of-scope score learned from negatives whose features it did not "
            "keep; refit the model with this version of the library to adapt it.")
    if adapter.method != "standardize":
        raise AdaptationError(
            f"method {adapter.method!r}: a model whose out-of-scope score learned from "
            "photos of other conditions is adapted with method 'standardize' only (the map "
            "of the training features is then known for the negatives too).")
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(adapter.source_features_.astype(np.float64))
    return scaler.transform(np.asarray(negatives, dtype=np.float64))


def _refit_trusted(trusted, tail, adapted, labels, n_frozen, negatives=None):
    """A TrustedClassifier like ``trusted``, its folds kept, refitted on ``adapted`` (and the
    aligned ``negatives`` of its out-of-scope score)."""
    from sklearn.base import clone
    from sklearn.model_selection import PredefinedSplit

    new = clone(trusted).set_params(estimator=clone(tail))
    folds = getattr(trusted, "calibration_folds_", None)
    if folds is not None:  # the same (grouped) folds as the original fit
        new.set_params(cv=PredefinedSplit(np.asarray(folds)))
    new.fit(adapted, labels, X_other=negatives)
    new.negative_features_ = getattr(trusted, "negative_features_", None)  # as trained
    new.set_params(estimator=trusted.estimator, cv=trusted.cv)
    new.cv_description_ = (f"{trusted.cv_description_}, refitted on the training features "
                           "as adapted")
    return new


def adapt_model(model, X_target, method=None, keys=None, n_components=None):
    """A copy of ``model`` adapted to a new clinic's photos ``X_target``, without their labels.

    The model's :class:`DomainAdapter` is fitted on its kept training features and the
    features of ``X_target`` (:meth:`DomainAdapter.adapt`), and everything after it is
    refitted on the training features as adapted: the classifier and, for a
    :class:`~skin_estimators.TrustedClassifier`, its calibration, conformal sets (on the same
    folds as the original fit when it kept them: ``conformal="cross"``) and out-of-scope
    reference. An adapted model adapted again starts from the kept training features: the
    new adaptation replaces the old one.

    Parameters
    ----------
    model : fitted Pipeline or TrustedClassifier
        A model with a ``DomainAdapter`` step after its frozen features (the recommended
        model), alone or after an ``ImageLoader -> ChannelNormalizer`` pipeline.
    X_target : array-like or list
        What ``model`` takes (file paths for a model that starts with an ImageLoader).
    method : str or None, default=None
        The alignment (``DomainAdapter``'s ``method``); None keeps the adapter's.
    keys : list of str, default=None
        One identity per photo (see :func:`file_keys`); None: the features' own hashes.
    n_components : int or None, default=None
        For ``method="subspace"``; None keeps the adapter's.

    Returns
    -------
    estimator
        The adapted copy; ``model`` is unchanged.

    Raises
    ------
    AdaptationError
        When the model has no DomainAdapter, or with too few photos.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skin_estimators import TrustedClassifier
    >>> from skin_estimators.adaptation import DomainAdapter, adapt_model
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.randn(90, 4), np.repeat(["a", "b", "c"], 30)
    >>> X[y == "b", 0] += 3
    >>> model = TrustedClassifier(make_pipeline(DomainAdapter(), StandardScaler(),
    ...                                         LogisticRegression()), cv=3).fit(X, y)
    >>> clinic = 2 * X + 5  # the same photos through another camera: no labels used
    >>> adapted = adapt_model(model, clinic)
    >>> float(np.mean(adapted.predict(clinic) == y)) > float(np.mean(model.predict(clinic) == y))
    True
    """
    from sklearn.pipeline import Pipeline

    model = copy.deepcopy(model)
    found = _locate(model)
    if found is None:
        raise AdaptationError(
            f"this model ({type(model).__name__}) has no adaptation step (DomainAdapter "
            "after its frozen features): only the recommended frozen-feature models can be "
            "adapted; train one with benchmarks/configs/best.yaml.")
    outer, trusted, inner, k = found
    adapter = inner.steps[k][1]
    if method is not None:
        adapter.set_params(method=method)
    if n_components is not None:
        adapter.set_params(n_components=n_components)
    Z = X_target if outer is None else outer.transform(X_target)
    Z = inner[:k].transform(Z) if k else Z
    labels = _labels(adapter, trusted)
    adapted = adapter.adapt(Z, keys=keys)
    head = inner[k + 1:] if k + 1 < len(inner.steps) - 1 else inner.steps[-1][1]
    if trusted is None:
        from sklearn.base import clone

        refitted = clone(head).fit(adapted, labels)
        rest = refitted.steps if isinstance(refitted, Pipeline) else [(inner.steps[-1][0],
                                                                        refitted)]
        inner.steps = list(inner.steps[:k + 1]) + list(rest)
        return model
    n_frozen = getattr(trusted, "frozen_steps_", 0) or 0
    if n_frozen != k + 1:
        raise AdaptationError(
            "the model's DomainAdapter must come right after its frozen feature steps "
            f"(it is step {k + 1}, the frozen steps are {n_frozen}); refit it as "
            "make_recommended_classifier() builds it.")
    negatives = _aligned_negatives(trusted, adapter)
    new = _refit_trusted(trusted, head, adapted, labels, n_frozen, negatives)
    rest = new.estimator_.steps if isinstance(new.estimator_, Pipeline) else [
        (inner.steps[-1][0], new.estimator_)]
    new.estimator_ = Pipeline(list(inner.steps[:k + 1]) + list(rest))
    new.frozen_steps_ = k + 1
    if hasattr(trusted, "n_features_in_"):
        new.n_features_in_ = trusted.n_features_in_
    elif hasattr(new, "n_features_in_"):
        del new.n_features_in_
    if outer is None:
        return new
    model.steps[-1] = (model.steps[-1][0], new)
    return model


def adaptation_info(model):
    """What ``model`` was adapted to, as a dict (None for a model with no DomainAdapter).

    ``n_photos``, ``photos_sha256`` (the digest of the photos' sorted content hashes: the
    same for any names and order), ``method`` and a one-line ``summary``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skin_estimators.adaptation import DomainAdapter, adapt_model, adaptation_info
    >>> X, y = np.random.RandomState(0).randn(60, 3), [0, 1] * 30
    >>> model = make_pipeline(DomainAdapter(), LogisticRegression()).fit(X, y)
    >>> adaptation_info(model)["n_photos"]
    0
    >>> info = adaptation_info(adapt_model(model, 2 * X + 1))
    >>> info["n_photos"], info["method"]
    (60, 'standardize')
    """
    adapter = adapter_of(model)
    if adapter is None:
        return None
    if not adapter.n_target_:
        return {"n_photos": 0, "photos_sha256": None, "method": None,
                "summary": "nothing (not adapted; 'skin-estimators adapt' adapts it to a "
                           "clinic's photos)"}
    return {"n_photos": adapter.n_target_, "photos_sha256": adapter.target_digest_,
            "method": adapter.method,
            "summary": f"{adapter.n_target_} photos (sha256 of their sorted content hashes "
                       f"{adapter.target_digest_}), method {adapter.method}"}
