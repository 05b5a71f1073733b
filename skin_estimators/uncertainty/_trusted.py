"""TrustedClassifier: calibrated probabilities, conformal prediction sets and an out-of-scope
score around any classifier or pipeline, fitted on out-of-fold predictions of a grouped CV."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.utils.validation import check_is_fitted

from ..utils._model_state import stored_in_model_files
from ..utils._param_validation import (
    BOOLEAN,
    HasMethods,
    Interval,
    StrOptions,
    validate_constraints,
)
from ._calibration import apply_calibration, fit_calibration
from ._conformal import conformal_quantiles, lac_scores, prediction_sets
from ._cross import cross_conformal_sets, frozen_prefix_length, split_frozen, take_rows
from ._fit_inputs import check_fit_inputs
from ._negatives import NEGATIVE_SCORES, check_negatives, fit_negatives, negatives_score
from ._out_of_scope import (
    KNN_NEIGHBORS,
    fit_knn,
    fit_mahalanobis,
    knn_score,
    mahalanobis_score,
    max_proba_score,
)
from ._quality import gate_blank
from ._trusted_state import StoredTrustedState

__all__ = ["FLAGS", "TrustedClassifier"]

#: The flags :meth:`TrustedClassifier.predict_flag` gives, in order of trust.
FLAGS = ("confident", "uncertain", "out_of_scope")
#: The out-of-scope scores computed on the estimator's features.
_FEATURE_SCORES = ("mahalanobis", "knn", *NEGATIVE_SCORES)


@stored_in_model_files
class TrustedClassifier(StoredTrustedState, ClassifierMixin, BaseEstimator):
    """A classifier that says how sure it is: calibrated probabilities, conformal sets, flags.

    ``fit`` cross-validates ``estimator`` (grouped when ``groups`` are given, so that photos
    of one group never calibrate each other), fits on the out-of-fold predictions (a) a
    calibration map, (b) the split-conformal quantiles of the calibrated probabilities (per
    class with ``mondrian=True``) and (c) the threshold of an out-of-scope score at the
    in-scope false-alarm rate, and finally refits ``estimator`` on all the data. The
    guarantees hold for new data exchangeable with the training data: a set then holds the
    true class with probability at least ``confidence_level`` (for every class with
    ``mondrian=True``), up to the difference between the fold models and the final one;
    ``conformal="cross"`` removes that difference: the sets come from the fold models
    themselves (cross-conformal prediction).

    Leading steps of a pipeline ``estimator`` that learn nothing from the data (a frozen
    :class:`~skin_estimators.PretrainedFeatures`, see ``_cross.learns_from_data``) are
    fitted once on all the data and shared: the fold models are the rest of the pipeline.

    Parameters
    ----------
    estimator : classifier
        Any classifier with ``predict_proba``; for the Mahalanobis score a pipeline, whose
        steps but the last give the features (or a classifier on 2-D features).
    confidence_level : float, default=0.9
        The coverage level of the prediction sets, in (0, 1).
    mondrian : bool, default=True
        Class-conditional sets: the level holds for each true class, not only on average.
    calibration : {"temperature", "sigmoid", None}, default="temperature"
        Temperature scaling of the log-probabilities, one-vs-rest sigmoids (Platt), or none.
    out_of_scope : {"mahalanobis", "knn", "other_class", "knn_other", "max_proba", None}, \
default="mahalanobis"
        The out-of-scope score: squared Mahalanobis distance of the features to the nearest
        class mean, the distance of the L2-normalised features to the fifth nearest training
        image's (``"knn"``), one minus the largest calibrated probability (the baseline), or
        none; ``"other_class"`` and ``"knn_other"`` learn from ``fit``'s ``X_other``.
    false_alarm_rate : float, default=0.05
        The share of in-scope (out-of-fold) training images above the out-of-scope threshold.
    cv : int or cross-validation splitter, default=5
        Folds of the out-of-fold predictions: ``StratifiedGroupKFold`` with groups,
        ``StratifiedKFold`` without (shuffled with ``random_state``), or a splitter.
    prevalence : {"training", "balanced"}, default="training"
        What a calibrated probability refers to: the class frequencies of the training data,
        or balanced classes (calibration weighted to equal class totals, as a class-weighted
        loss trains for).
    random_state : int or None, default=0
        Seed of the shuffled folds.
    conformal : {"split", "cross"}, default="split"
        How the prediction sets are made. ``"split"``: the quantiles of the out-of-fold
        scores, applied to the refitted estimator's probabilities. ``"cross"``:
        cross-conformal sets (Vovk 2015; MAPIE's ``CrossConformalClassifier``): each fold
        model scores the new sample against its own fold's out-of-fold scores, and a class
        is in the set when its p-value ``(1 + #{i : s_i >= s_fold(i)(x, k)}) / (n_k + 1)``
        exceeds ``1 - confidence_level`` (see ``_cross.py``). The fold models are kept.
        Probabilities, ``predict`` and the out-of-scope score are the refitted estimator's
        either way.

    Attributes
    ----------
    estimator_ : classifier
        ``estimator`` refitted on all the data.
    classes_ : ndarray
    calibration_params_ : ndarray
        The calibration map's numbers (see ``_calibration.fit_calibration``).
    quantiles_ : ndarray of shape (n_classes,)
        The conformal threshold on ``1 - p`` per class.
    oos_threshold_ : float or None
        Scores above it are out of scope.
    oos_means_, oos_basis_, oos_variances_, oos_floor_ : arrays, float or None
        The Mahalanobis model (class means, shared Ledoit-Wolf covariance in low-rank form).
    oos_reference_ : ndarray of shape (n_samples, n_features) or None
        The k-nearest-neighbour model: the L2-normalised training features.
    oos_neighbors_ : int or None
        Its k.
    oos_other_coef_, oos_other_intercept_, oos_combination_ : ndarray or None
        The scores with negatives (see ``_negatives.fit_negatives``).
    negative_features_ : ndarray of shape (n_negatives, n_features) or None
        The negatives after the frozen leading steps (when there are such steps), kept so
        that an adaptation can refit the score on them
        (:func:`~skin_estimators.adaptation.adapt_model`).
    n_negatives_ : int
        Negatives ``fit`` was given (0 without).
    n_calibration_ : int
        Out-of-fold predictions the calibration, the quantiles and the threshold came from.
    class_counts_ : ndarray of shape (n_classes,)
    cv_description_ : str
        How the out-of-fold predictions were made (``"StratifiedGroupKFold(n_splits=5)"``).
    frozen_steps_ : int
        Leading steps of ``estimator_`` fitted once and shared by the fold models (0 unless
        ``estimator`` is a pipeline that starts with steps that learn nothing).
    estimators_ : list of classifiers or None
        With ``conformal="cross"``: the fold models (the pipeline after its
        ``frozen_steps_``), fold ``j`` left out ``calibration_folds_ == j``.
    calibration_scores_, calibration_folds_, calibration_labels_ : ndarray or None
        With ``conformal="cross"``: the out-of-fold LAC scores (of the calibrated
        probabilities), the fold and the class index of every calibration sample.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skin_estimators import TrustedClassifier
    >>> X, y = make_classification(200, n_informative=4, n_classes=3, random_state=0)
    >>> clf = TrustedClassifier(LogisticRegression()).fit(X, y)
    >>> clf.predict_set(X[:2]).shape, clf.predict_flag(X[:2]).dtype.kind
    ((2, 3), 'U')
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "confidence_level": [Interval(numbers.Real, 0, 1, closed="neither")],
        "mondrian": [BOOLEAN],
        "calibration": [StrOptions({"temperature", "sigmoid"}), None],
        "out_of_scope": [StrOptions({"mahalanobis", "knn", "max_proba", *NEGATIVE_SCORES}), None],
        "false_alarm_rate": [Interval(numbers.Real, 0, 1, closed="neither")],
        "cv": [Interval(numbers.Integral, 2, None, closed="left"), HasMethods(["split", "get_n_splits"])],
        "prevalence": [StrOptions({"training", "balanced"})],
        "random_state": ["random_state"],
        "conformal": [StrOptions({"split", "cross"})],
    }

    def __init__(self, estimator, confidence_level=0.9, mondrian=True,
                 calibration="temperature", out_of_scope="mahalanobis", false_alarm_rate=0.05,
                 cv=5, prevalence="training", random_state=0, conformal="split"):
        self.estimator = estimator
        self.confidence_level = confidence_level
        self.mondrian = mondrian
        self.calibration = calibration
        self.out_of_scope = out_of_scope
        self.false_alarm_rate = false_alarm_rate
        self.cv = cv
        self.prevalence = prevalence
        self.random_state = random_state
        self.conformal = conformal

    # ------------------------------------------------------------------ fitting
    def _validate(self):
        # scikit-learn's declared constraints: one line naming the parameter and what it takes
        validate_constraints(self)
        if not is_classifier(self.estimator):
            raise ValueError(f"TrustedClassifier: estimator must be a classifier with "
                             f"predict_proba, got {type(self.estimator).__name__}.")

    def _splitter(self, groups):
        from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

        if hasattr(self.cv, "split"):
            return self.cv
        kind = StratifiedGroupKFold if groups is not None else StratifiedKFold
        return kind(n_splits=int(self.cv), shuffle=True, random_state=self.random_state)

    def features(self, estimator, X):
        """The features of the out-of-scope score: a pipeline's output before its last step."""
        if hasattr(estimator, "steps"):
            return np.asarray(estimator[:-1].transform(X), dtype=float)
        X = np.asarray(X, dtype=float)
        return X.reshape(len(X), -1)

    def one_pass(self, X):
        """``(frozen, features)`` of one pass of ``X`` through the wrapped pipeline.

        ``frozen``: the frozen leading steps' output, which the cross-conformal fold models
        start from (None without frozen steps); ``features``: the last step's input, which
        the out-of-scope score uses. ``(None, None)`` when the wrapped estimator is not a
        pipeline. Each image goes through the network once.
        """
        est = self.estimator_
        if not hasattr(est, "steps"):
            return None, None
        n_frozen = getattr(self, "frozen_steps_", 0) or 0
        frozen = est[:n_frozen].transform(X) if n_frozen else None
        start = X if frozen is None else frozen
        last = len(est.steps) - 1
        feats = est[n_frozen:last].transform(start) if last > n_frozen else start
        return frozen, feats

    def fit(self, X, y, groups=None, X_other=None):
        """Out-of-fold calibration, conformal quantiles and out-of-scope threshold; refit.

        Parameters
        ----------
        X : array-like or list
            What ``estimator`` takes.
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), default=None
            Group labels (one atlas page, one patient): a group is never split between the
            fitting and the calibration part of a fold.
        X_other : array-like or list, default=None
            Negatives (photos of other conditions, in the form of ``X``) for the scores that
            learn from them: they train every fold's score and the final one, never the
            classifier; the threshold is set on the in-scope out-of-fold scores alone.
        """
        self._validate()
        self.classes_, y_enc, groups = check_fit_inputs(y, groups, self.cv)
        y = self.classes_[y_enc]
        n_classes = len(self.classes_)
        splitter = self._splitter(groups)
        n_frozen = frozen_prefix_length(self.estimator)
        final = clone(self.estimator)
        prefix, tail = split_frozen(final, n_frozen)
        # The steps that learn nothing are fitted once; the folds fit only the tail on them.
        # (They see the labels: a DomainAdapter keeps them with the training features.)
        Z = X if prefix is None else prefix.fit_transform(X, y)
        Z_other = check_negatives(self.out_of_scope, X_other, prefix)
        proba = np.zeros((len(y), n_classes))
        oos = np.zeros(len(y))
        fold_of = np.full(len(y), -1)
        fold_models = []
        for j, (train, test) in enumerate(splitter.split(np.zeros((len(y), 1)), y, groups)):
            model = clone(tail).fit(take_rows(Z, train), y[train])
            if self.conformal == "cross":  # kept: they make the sets
                fold_models.append(model)
                if (fold_of[test] >= 0).any():
                    raise ValueError("TrustedClassifier: the cv splitter puts a sample in "
                                     "more than one test fold; give a partition (KFold-like) "
                                     "splitter.")
            fold_of[test] = j
            cols = np.searchsorted(self.classes_, model.classes_)
            proba[np.ix_(test, cols)] = model.predict_proba(take_rows(Z, test))
            if self.out_of_scope in _FEATURE_SCORES:
                seen = self.features(model, take_rows(Z, train))
                new = self.features(model, take_rows(Z, test))
                if self.out_of_scope == "mahalanobis":
                    oos[test] = mahalanobis_score(new, *fit_mahalanobis(seen, y_enc[train],
                                                                        n_classes))
                elif self.out_of_scope == "knn":
                    oos[test] = knn_score(new, fit_knn(seen), KNN_NEIGHBORS)
                else:
                    oos[test] = negatives_score(self.out_of_scope, new, fit_negatives(
                        self.out_of_scope, seen, y_enc[train], n_classes,
                        self.features(model, Z_other)))
        if self.conformal == "cross" and (fold_of < 0).any():
            raise ValueError("TrustedClassifier: conformal='cross' needs every sample in one "
                             "test fold; the cv splitter leaves some out.")
        weight = None
        if self.prevalence == "balanced":
            counts = np.bincount(y_enc, minlength=n_classes)
            weight = len(y) / (n_classes * counts[y_enc])
        self.calibration_params_ = fit_calibration(proba, y_enc, self.calibration, weight)
        calibrated = apply_calibration(proba, self.calibration, self.calibration_params_)
        self.quantiles_ = conformal_quantiles(calibrated, y_enc, self.confidence_level,
                                              bool(self.mondrian))
        tail.fit(Z, y)
        if prefix is not None:  # the fitted steps, as one pipeline (whatever the memory)
            rest = tail.steps if hasattr(tail, "steps") else [(final.steps[-1][0], tail)]
            final.steps = list(prefix.steps) + list(rest)
        self.estimator_ = final
        self.frozen_steps_ = int(n_frozen)
        self.estimators_ = self.calibration_scores_ = None
        self.calibration_folds_ = self.calibration_labels_ = None
        if self.conformal == "cross":
            self.estimators_ = fold_models
            self.calibration_scores_ = lac_scores(calibrated, y_enc)
            self.calibration_folds_ = fold_of
            self.calibration_labels_ = y_enc.astype(np.int64)
        self.oos_means_ = self.oos_basis_ = self.oos_variances_ = None
        self.oos_floor_ = self.oos_threshold_ = self.oos_reference_ = self.oos_neighbors_ = None
        self.oos_other_coef_ = self.oos_other_intercept_ = self.oos_combination_ = None
        self.n_negatives_ = 0 if Z_other is None else int(len(Z_other))
        # Kept after frozen steps (features, not images) so the score can be refitted there.
        self.negative_features_ = (np.asarray(Z_other, dtype=np.float32) if prefix is not None
                                   and np.ndim(Z_other) == 2 else None)
        if self.out_of_scope == "max_proba":
            oos = max_proba_score(calibrated)
        if self.out_of_scope is not None:
            self.oos_threshold_ = float(np.quantile(oos, 1 - self.false_alarm_rate,
                                                    method="higher"))
        if self.out_of_scope == "mahalanobis":
            (self.oos_means_, self.oos_basis_, self.oos_variances_,
             self.oos_floor_) = fit_mahalanobis(self.features(tail, Z), y_enc, n_classes)
        elif self.out_of_scope == "knn":
            self.oos_reference_ = fit_knn(self.features(tail, Z))
            self.oos_neighbors_ = KNN_NEIGHBORS
        elif self.out_of_scope in NEGATIVE_SCORES:
            for name, value in fit_negatives(self.out_of_scope, self.features(tail, Z), y_enc,
                                             n_classes, self.features(tail, Z_other)).items():
                setattr(self, name, value)
        self.n_calibration_ = int(len(y))
        self.class_counts_ = np.bincount(y_enc, minlength=n_classes)
        self.cv_description_ = repr(splitter)
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        return self

    # ------------------------------------------------------------------ predicting
    def predict(self, X):
        """The top class of the refitted estimator (calibration does not change it)."""
        check_is_fitted(self, "quantiles_")
        return self.estimator_.predict(X)

    def score(self, X, y, sample_weight=None):
        """Accuracy of ``predict(X)`` against ``y`` (``sklearn.base.ClassifierMixin.score``)."""
        return super().score(X, y, sample_weight=sample_weight)

    def predict_proba(self, X):
        """Calibrated probabilities, columns in ``classes_`` order."""
        check_is_fitted(self, "quantiles_")
        return self._calibrated(self.estimator_.predict_proba(X))

    def _calibrated(self, raw):
        return apply_calibration(raw, self.calibration, self.calibration_params_)

    def predict_set(self, X):
        """Boolean ``(n_samples, n_classes)``: the classes in each sample's prediction set."""
        return self.conformal_sets(X)

    def conformal_sets(self, X, proba=None, mirror=False, frozen=None):
        """The prediction sets of a batch, boolean ``(n_samples, n_classes)``.

        The one place sets are made from a fitted TrustedClassifier (``predict_set``,
        ``predict_all``, the files of ``predict`` and ``evaluate``).

        Parameters
        ----------
        X : array-like or list
            What ``estimator_`` takes (cross-conformal sets run the fold models on it).
        proba : ndarray of shape (n_samples, n_classes), default=None
            The calibrated probabilities of ``X`` when already computed: split-conformal
            sets are made from them alone.
        mirror : bool, default=False
            Average each fold model's probabilities with those of the left-right mirrored
            inputs, as the probabilities were (``predict_files(tta=True)``).
        frozen : array-like, default=None
            The output of the frozen leading steps on ``X`` when already computed (not with
            ``mirror``): the fold models then start from it.
        """
        check_is_fitted(self, "quantiles_")
        if getattr(self, "conformal", "split") != "cross":
            if proba is None:
                proba = self.predict_proba(X)
            return prediction_sets(proba, self.quantiles_)
        from ..utils._validation import mirror_images

        n_frozen = getattr(self, "frozen_steps_", 0) or 0
        shared = self.estimator_[:n_frozen].transform if n_frozen else (lambda Z: Z)
        first = shared(X) if frozen is None or mirror else frozen
        inputs = [first] + ([shared(mirror_images(X))] if mirror else [])
        scores = []
        for model in self.estimators_:
            cols = np.searchsorted(self.classes_, model.classes_)
            calibrated = []
            for Z in inputs:
                raw = np.zeros((len(Z), len(self.classes_)))
                raw[:, cols] = model.predict_proba(Z)
                calibrated.append(self._calibrated(raw))
            scores.append(1.0 - np.mean(calibrated, axis=0))
        return cross_conformal_sets(np.stack(scores), self.calibration_scores_,
                                    self.calibration_folds_, self.calibration_labels_,
                                    self.confidence_level, bool(self.mondrian))

    def out_of_scope_score(self, X, proba=None):
        """The out-of-scope score, higher for samples less like the training classes.

        NaN for every sample when ``out_of_scope`` is None. ``proba``: the calibrated
        probabilities of ``X`` when already computed (the max-probability score needs them).
        ``inf`` for a blank image (one colour; see ``_quality.py``), whatever the model says.
        """
        check_is_fitted(self, "quantiles_")
        if self.out_of_scope in _FEATURE_SCORES:
            score = self.score_features(self.features(self.estimator_, X))
        else:
            if proba is None:
                proba = self.predict_proba(X)
            score = (max_proba_score(proba) if self.out_of_scope == "max_proba"
                     else np.full(len(proba), np.nan))
        return gate_blank(X, np.asarray(score, dtype=float))[0]  # blank images: inf

    def score_features(self, features):
        """The out-of-scope score of already computed features (see :meth:`features`)."""
        if self.out_of_scope == "mahalanobis":
            return mahalanobis_score(features, self.oos_means_, self.oos_basis_,
                                     self.oos_variances_, self.oos_floor_)
        if self.out_of_scope in NEGATIVE_SCORES:
            return negatives_score(self.out_of_scope, features, self)
        return knn_score(features, self.oos_reference_, self.oos_neighbors_)

    def predict_flag(self, X):
        """``'confident'`` (one class in the set, in scope), ``'uncertain'`` (none or several)
        or ``'out_of_scope'`` (score above the threshold, or a blank image) per sample."""
        return self.predict_all(X)["flag"]

    def flags_from(self, sets, score):
        """:meth:`predict_flag` of known sets and scores: the one place of the flag rule."""
        flag = np.where(np.sum(sets, axis=1) == 1, FLAGS[0], FLAGS[1]).astype("<U12")
        limit = np.inf if self.oos_threshold_ is None else self.oos_threshold_
        flag[(np.asarray(score, dtype=float) > limit) | np.isposinf(score)] = FLAGS[2]
        return flag

    def predict_all(self, X):
        """Everything at once (the model runs once): a dict of ``proba`` (calibrated),
        ``raw`` (the refitted estimator's own probabilities), ``pred`` (top class), ``sets``,
        ``out_of_scope_score`` and ``flag``."""
        check_is_fitted(self, "quantiles_")
        est = self.estimator_
        frozen, feats = self.one_pass(X)
        raw = est[-1].predict_proba(feats) if feats is not None else est.predict_proba(X)
        proba = self._calibrated(raw)
        sets = self.conformal_sets(X, proba, frozen=frozen)
        if self.out_of_scope in _FEATURE_SCORES:
            score = (self.score_features(np.asarray(feats, dtype=float)) if feats is not None
                     else self.out_of_scope_score(X))
        else:
            score = self.out_of_scope_score(None, proba=proba)
        score = gate_blank(X, np.asarray(score, dtype=float))[0]  # blank images: inf
        return {"proba": proba, "raw": raw, "pred": self.classes_[raw.argmax(axis=1)],
                "sets": sets, "out_of_scope_score": score, "flag": self.flags_from(sets, score)}
