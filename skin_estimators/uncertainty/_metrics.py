"""How well probabilities and prediction sets hold up on labelled data: classwise ECE, the
reliability curve, coverage (overall and per class) and the mean set size."""

import numpy as np

__all__ = ["classwise_ece", "coverage", "mean_set_size", "reliability_curve",
           "reliability_diagram"]


def _encode(y_true, classes):
    lookup = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
    y_true = np.asarray(y_true).tolist()
    unknown = sorted({str(v) for v in y_true if v not in lookup})
    if unknown:
        raise ValueError(f"y_true holds labels that are not among the classes: {unknown}")
    return np.array([lookup[v] for v in y_true], dtype=int)


def reliability_curve(y_true, proba, classes, k, n_bins=10):
    """Equal-width bins of class ``k``'s probability: mean probability, observed frequency
    and count per bin (NaN for an empty bin).

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    >>> mean_p, freq, count = reliability_curve(["a", "b", "b"], proba, ["a", "b"], 0, n_bins=2)
    >>> mean_p.round(2).tolist(), freq.tolist(), count.tolist()
    ([0.3, 0.85], [0.0, 0.5], [1.0, 2.0])
    """
    proba = np.asarray(proba, dtype=float)
    hit = (_encode(y_true, classes) == k).astype(float)
    p = proba[:, k]
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(bins, p, n_bins) / count
        freq = np.bincount(bins, hit, n_bins) / count
    return mean_p, freq, count


def classwise_ece(y_true, proba, classes, n_bins=10):
    """Classwise expected calibration error (Kull et al. 2019), equal-width bins.

    For each class, the count-weighted mean of ``|observed frequency - mean probability|``
    over the bins of that class's probability; the result is the mean over classes.

    Returns
    -------
    ece : float
    per_class : ndarray of shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> ece, per_class = classwise_ece(["a", "b"], np.array([[1.0, 0.0], [0.0, 1.0]]),
    ...                                ["a", "b"])
    >>> float(ece)
    0.0
    """
    proba = np.asarray(proba, dtype=float)
    if not np.isfinite(proba).all():
        raise ValueError("proba holds NaN or infinite values; the ECE needs probabilities")
    per_class = []
    for k in range(proba.shape[1]):
        mean_p, freq, count = reliability_curve(y_true, proba, classes, k, n_bins)
        used = count > 0
        per_class.append(float((count[used] * np.abs(freq[used] - mean_p[used])).sum()
                               / count.sum()))
    per_class = np.array(per_class)
    return float(per_class.mean()), per_class


def coverage(y_true, sets, classes):
    """Share of samples whose prediction set holds the true class, overall and per class.

    Returns
    -------
    overall : float
    per_class : ndarray of shape (n_classes,)
        NaN for a class without samples.

    Examples
    --------
    >>> import numpy as np
    >>> sets = np.array([[True, False], [True, True], [True, False]])
    >>> overall, per_class = coverage(["a", "b", "b"], sets, ["a", "b"])
    >>> round(overall, 3), per_class.tolist()
    (0.667, [1.0, 0.5])
    """
    y = _encode(y_true, classes)
    hit = np.asarray(sets, dtype=bool)[np.arange(len(y)), y]
    per_class = np.array([hit[y == k].mean() if np.any(y == k) else np.nan
                          for k in range(len(classes))])
    return float(hit.mean()), per_class


def mean_set_size(sets):
    """The mean number of classes in a prediction set.

    Examples
    --------
    >>> mean_set_size([[True, False], [True, True]])
    1.5
    """
    return float(np.asarray(sets, dtype=bool).sum(axis=1).mean())


def reliability_diagram(y_true, proba, classes, ax=None, n_bins=10, label=None):
    """Draw each class's reliability curve (mean probability against observed frequency).

    Parameters
    ----------
    ax : matplotlib Axes, default=None
        Where to draw (a new figure's when None).
    label : str, default=None
        Put before each class name in the legend (``"calibrated"``).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> ax = reliability_diagram(["a", "b"], np.array([[0.8, 0.2], [0.3, 0.7]]), ["a", "b"])
    >>> ax.get_xlabel()
    'predicted probability'
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
    for k, name in enumerate(np.asarray(classes).tolist()):
        mean_p, freq, count = reliability_curve(y_true, proba, classes, k, n_bins)
        used = count > 0
        text = f"{label}: {name}" if label else str(name)
        ax.plot(mean_p[used], freq[used], marker="o", ms=3, label=text)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    return ax
