"""The error raised for images that cannot be loaded."""

__all__ = ["ImageLoadError"]

# Enough lines for any realistic mistake (a wrong folder, a bad batch of files) while keeping a
# traceback readable; the full list is always in ``ImageLoadError.errors``.
_MAX_LINES = 50


class ImageLoadError(ValueError):
    """One or more images could not be loaded.

    Raised by :class:`ImageLoader` after it has tried every image, so one error lists every
    bad file: missing, unreadable, corrupt or truncated, not an image, smaller than the
    minimum size, or larger than Pillow's decompression-bomb limit.

    A subclass of ``ValueError``, so code that catches scikit-learn's input errors catches it
    too.

    Parameters
    ----------
    errors : list of (str, str)
        ``(name, reason)`` per failed image; ``name`` is the path as given, or ``"X[i]"`` for
        an in-memory image.
    n_total : int, optional
        How many images were asked for (only used in the message).

    Attributes
    ----------
    errors : list of (str, str)
        Every failed image with the reason, in input order.

    Examples
    --------
    >>> from skin_estimators.preprocessing import ImageLoadError
    >>> err = ImageLoadError([("a.jpg", "file not found")], n_total=3)
    >>> print(err)
    ImageLoader could not load 1 of 3 images:
      a.jpg: file not found
    >>> err.errors
    [('a.jpg', 'file not found')]
    """

    # Shown in tracebacks; the public home of the class (pickle finds it there too).
    __module__ = "skin_estimators.preprocessing"

    def __init__(self, errors, n_total=None):
        self.errors = [(str(name), str(reason)) for name, reason in errors]
        self.n_total = n_total
        super().__init__(self._message())

    def _message(self):
        n = len(self.errors)
        of = f" of {self.n_total}" if self.n_total is not None else ""
        noun = "image" if (self.n_total or n) == 1 else "images"
        lines = [f"ImageLoader could not load {n}{of} {noun}:"]
        lines += [f"  {name}: {reason}" for name, reason in self.errors[:_MAX_LINES]]
        if n > _MAX_LINES:
            lines.append(f"  ... and {n - _MAX_LINES} more (all are listed in the error's .errors)")
        return "\n".join(lines)

    def __reduce__(self):
        # Exceptions pickle as cls(*args); ours needs the list back, e.g. when joblib ships
        # the error from a worker process of cross_val_score(n_jobs=...).
        return type(self), (self.errors, self.n_total)
