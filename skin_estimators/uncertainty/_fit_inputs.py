"""The checks of what :meth:`TrustedClassifier.fit` is given: labels, groups and folds.

They run before anything is fitted, so a mistake is one message naming the argument and what
to do, as scikit-learn's own classifiers report it.
"""

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

__all__ = ["check_fit_inputs"]


def check_fit_inputs(y, groups, cv):
    """``(classes, y_encoded, groups)`` of valid labels and groups for ``cv`` folds.

    ``y``: one label per sample, of at least two classes (a column is flattened with
    scikit-learn's warning); ``groups``: None or one group per sample; ``cv``: a splitter, or
    a number of folds that every class must have samples for.

    Examples
    --------
    >>> from skin_estimators.uncertainty._fit_inputs import check_fit_inputs
    >>> classes, y_enc, groups = check_fit_inputs(["a", "b", "a", "b"], None, 2)
    >>> classes.tolist(), y_enc.tolist(), groups
    (['a', 'b'], [0, 1, 0, 1], None)
    """
    if y is None:
        raise ValueError("TrustedClassifier requires y to be passed, but the target y is None.")
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    classes, y_enc = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"TrustedClassifier: y has {len(classes)} class(es) in {len(y)} "
                         "samples; a classifier needs samples of at least 2 classes.")
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != len(y):
            raise ValueError(f"TrustedClassifier: groups has {len(groups)} entries for "
                             f"{len(y)} samples; give one group per sample.")
    smallest = int(np.bincount(y_enc).min())
    if not hasattr(cv, "split") and smallest < cv:
        raise ValueError(f"TrustedClassifier: cv={cv} folds need at least {cv} "
                         f"samples of every class, the smallest class has {smallest}; "
                         "lower cv.")
    return classes, y_enc, groups
