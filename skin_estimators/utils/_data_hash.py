"""The SHA-256 of a set of images' contents and labels, as a model file records its training data.

Its own module (hashlib only): ``evaluate`` compares it with the model file's record without
importing the experiment machinery.
"""

import hashlib

__all__ = ["data_hash"]


def data_hash(filenames, labels):
    """SHA-256 over the images' contents and labels (independent of where the files are).

    Examples
    --------
    >>> import os, tempfile
    >>> from skin_estimators.utils._data_hash import data_hash
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("a.jpg", "b.jpg"):
    ...     with open(os.path.join(folder, name), "wb") as f:
    ...         _ = f.write(b"same bytes")
    >>> paths = [os.path.join(folder, n) for n in ("a.jpg", "b.jpg")]
    >>> data_hash(paths, ["x", "y"]) == data_hash(paths[::-1], ["y", "x"])
    True
    """
    lines = []
    for path, label in zip(filenames, labels, strict=True):
        with open(path, "rb") as f:
            lines.append(f"{hashlib.sha256(f.read()).hexdigest()}  {label}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()
