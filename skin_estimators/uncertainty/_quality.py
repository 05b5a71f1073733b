"""An image-quality gate before the model: blank images are out of scope whatever it says.

A solid black, white or red picture carries no lesion, yet its features can land close
enough to the training photos' for the out-of-scope score to let it through. The gate
looks at the images themselves, as the :class:`TrustedClassifier` receives them (after
:class:`~skin_estimators.ChannelNormalizer`): an image whose pixel values have a standard
deviation below :data:`BLANK_STD` in every colour channel is *blank*. Its out-of-scope
score becomes ``inf`` and its flag ``out_of_scope``, with or without an out-of-scope model.

What it catches: images of one colour (solid or nearly so, e.g. a uniform JPEG's
compression noise): with the usual channel statistics (a standard deviation of 0.2 to 0.5
of the 0-1 range) the threshold is a spread of about 0.5 to 1.3 grey levels out of 255. What
it does not catch: anything with structure (text, a gradient, noise, a photo of something
else, an overexposed photo with some detail left); those are the out-of-scope score's job.
It applies only where the TrustedClassifier's inputs are images ``(n, C, H, W)``.
"""

import numpy as np

__all__ = ["BLANK_STD", "blank_images", "gate_blank"]

#: The per-channel standard deviation (in the normalised units the model sees) under which
#: every channel of a blank image lies.
BLANK_STD = 0.01


def blank_images(X):
    """Boolean ``(n,)``: which images of ``X`` are blank (see the module's docstring).

    All False when ``X`` is not a float array of images ``(n, C, H, W)`` (features, paths).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).randn(3, 3, 8, 8).astype("float32")
    >>> X[1] = 0.7  # one colour
    >>> blank_images(X).tolist()
    [False, True, False]
    >>> blank_images(np.zeros((2, 5))).tolist()
    [False, False]
    """
    if X is None or not hasattr(X, "ndim") and not isinstance(X, list | tuple):
        return np.zeros(0 if X is None else len(X), dtype=bool)
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError):
        return np.zeros(len(X), dtype=bool)
    if arr.ndim != 4 or arr.dtype.kind != "f":
        return np.zeros(len(arr), dtype=bool)
    spread = arr.reshape(len(arr), arr.shape[1], -1).std(axis=2, dtype=np.float64)
    return np.all(spread < BLANK_STD, axis=1)


def gate_blank(X, score, flags=None):
    """Set the out-of-scope score (``inf``) and the flag of the blank images of ``X``.

    ``score`` (float) and ``flags`` (str, optional) are changed in place and returned.
    """
    blank = blank_images(X)
    if blank.any():
        score[blank] = np.inf
        if flags is not None:
            flags[blank] = "out_of_scope"
    return score, flags
