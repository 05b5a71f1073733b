"""Reports that clinicians read: sensitivity and specificity per class next to precision and F1."""

from imblearn.metrics import classification_report_imbalanced
from sklearn.metrics import classification_report

__all__ = ["clinical_report"]


def clinical_report(y_true, y_pred, *, labels=None, digits=3):
    """scikit-learn's classification report followed by imbalanced-learn's.

    The first block is ``sklearn.metrics.classification_report`` (precision, recall =
    sensitivity, F1, support); the second is
    ``imblearn.metrics.classification_report_imbalanced``, which adds each class's
    specificity (``spe``), geometric mean (``geo``) and index of balanced accuracy (``iba``).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    labels : array-like, default=None
        Labels to report, in order (default: all labels in ``y_true`` and ``y_pred``).
    digits : int, default=3
        Decimals shown.

    Returns
    -------
    str

    Examples
    --------
    >>> from skin_estimators.metrics import clinical_report
    >>> print(clinical_report(["acne", "acne", "lichen"], ["acne", "lichen", "lichen"]))
    ... # doctest: +NORMALIZE_WHITESPACE
                  precision    recall  f1-score   support
    <BLANKLINE>
            acne      1.000     0.500     0.667         2
          lichen      0.500     1.000     0.667         1
    ...
    Sensitivity and specificity (imbalanced-learn):
    ...
    """
    sk = classification_report(y_true, y_pred, labels=labels, digits=digits, zero_division=0)
    imb = classification_report_imbalanced(y_true, y_pred, labels=labels, digits=digits, zero_division=0)
    return f"{sk}\nSensitivity and specificity (imbalanced-learn):\n{imb}"
