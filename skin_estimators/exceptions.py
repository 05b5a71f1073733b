"""Every error class the library raises to its users, in one module.

Every one derives from :class:`SkinEstimatorsError`, so ``except SkinEstimatorsError`` catches
whatever the library raised on purpose, and from the builtin error it stands for
(``ValueError``, ``OSError``, ...), so ``except ValueError`` keeps catching a bad value.

Each class is also importable from where it is raised (``skin_estimators.ModelFileError``,
``skin_estimators.preprocessing.ImageLoadError``,
``skin_estimators.networks.WeightsUnavailableError``,
``skin_estimators.experiments.ConfigError``, ...). This module imports only the standard
library, so every other module of the package can import it without an import cycle. The one
error class defined elsewhere is ``ParameterConstraintError`` (a bad estimator parameter), in
``skin_estimators.utils._param_validation``: it extends scikit-learn's private
``InvalidParameterError``, which only that module imports; it too is a
:class:`SkinEstimatorsError`.
"""

import os

__all__ = [
    "AdaptationError",
    "CommandError",
    "ConfigError",
    "DeviceUnavailableError",
    "FolderInUseError",
    "ImageLoadError",
    "InconsistentModelError",
    "ModelFileError",
    "SkinEstimatorsError",
    "UnreadableFile",
    "UnrepresentableError",
    "WeightsUnavailableError",
]

# Enough lines for any realistic mistake (a wrong folder, a bad batch of files) while keeping a
# traceback readable; the full list is always in ``ImageLoadError.errors``.
_MAX_LINES = 50


class SkinEstimatorsError(Exception):
    """The root of every error the library raises on purpose.

    Each error class also derives from the builtin error it stands for (``ValueError`` for a
    bad value or file content, ``OSError`` for a file or a machine that cannot be used), so
    code may catch either.

    Examples
    --------
    >>> from skin_estimators.exceptions import ImageLoadError, SkinEstimatorsError
    >>> try:
    ...     raise ImageLoadError([("a.jpg", "file not found")])
    ... except SkinEstimatorsError as error:
    ...     print(type(error).__name__, isinstance(error, ValueError))
    ImageLoadError True
    """


class ModelFileError(SkinEstimatorsError, ValueError):
    """A model file that cannot be loaded: missing, corrupt, tampered with, or from an
    incompatible version. The message names the file and says what to do.

    Attributes
    ----------
    path : str
        The file.

    Examples
    --------
    >>> import os, tempfile
    >>> from skin_estimators import ModelFileError, load_model
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "notes.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("not a model")
    >>> try:
    ...     load_model(path)
    ... except ModelFileError as error:
    ...     print(os.path.basename(error.path))
    notes.txt
    >>> tmp.cleanup()
    """

    def __init__(self, path, reason):
        self.path = os.fspath(path)
        super().__init__(f"Cannot load the model file {self.path!r}: {reason}.")


class InconsistentModelError(SkinEstimatorsError, ValueError):
    """A model file whose description contradicts itself or the estimator classes it names
    (a NaN weight, a device no model runs on, a structure nested without bound, ...).

    :func:`~skin_estimators.load_model` reports it as a :class:`ModelFileError` naming the
    file; it reaches user code only from the checks themselves.

    Examples
    --------
    >>> from skin_estimators.exceptions import InconsistentModelError
    >>> issubclass(InconsistentModelError, ValueError)
    True
    """


class UnrepresentableError(SkinEstimatorsError, ValueError):
    """A value that the safe format cannot hold; ``where`` names the parameter.

    Raised by :func:`~skin_estimators.save_model` with ``format="safe"`` before anything is
    written.

    Examples
    --------
    >>> from skin_estimators.exceptions import UnrepresentableError
    >>> print(UnrepresentableError("module__act", object(), "which holds no functions"))
    ... # doctest: +ELLIPSIS
    module__act = <object object at ...> cannot be stored in the safe model format, which ...
    """

    def __init__(self, where, value, what=None):
        self.where = where
        what = what or ("which holds numbers, strings, lists, dicts, arrays and the library's "
                        "known classes only")
        super().__init__(
            f"{where} = {value!r:.120} cannot be stored in the safe model format, {what}. "
            "Save with format='joblib' instead (loading it will need trust_pickle=True), or "
            "use a value the safe format supports."
        )


class ImageLoadError(SkinEstimatorsError, ValueError):
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


class WeightsUnavailableError(SkinEstimatorsError, OSError):
    """The pretrained weights are neither in the cache nor downloadable (offline machine).

    The message names the model, the cache folder searched and the ways out: fill a cache
    with :func:`download_weights` on a machine with internet access, pass a weights file as
    ``pretrained=<path>``, or train from scratch with ``pretrained=False``.

    Examples
    --------
    With the hub switched off and an empty cache:

    >>> import os, tempfile
    >>> from unittest import mock
    >>> from skin_estimators import download_weights
    >>> from skin_estimators.exceptions import WeightsUnavailableError
    >>> with mock.patch.dict(os.environ, {"HF_HUB_OFFLINE": "1"}):
    ...     try:
    ...         download_weights("bit", cache_dir=tempfile.mkdtemp())
    ...     except WeightsUnavailableError as error:
    ...         print(str(error)[:58])
    Cannot load the pretrained weights of download_weights: ti
    """


class ConfigError(SkinEstimatorsError, ValueError):
    """An experiment config that cannot be used; the message names the file and the key.

    Attributes
    ----------
    path : str or None
        The config file.
    problems : list of (str, str)
        ``(dotted key, what is wrong)`` for every problem found.

    Examples
    --------
    >>> from skin_estimators.experiments import ConfigError, validate_config
    >>> raw = {"data": "fetch_skin3", "image_size": "big", "models": [{"name": "cnn"}]}
    >>> try:
    ...     validate_config(raw, path="experiment.yaml")
    ... except ConfigError as error:
    ...     print(error)
    experiment.yaml: image_size: must be a positive integer or [height, width] (got 'big')
    """

    def __init__(self, path, problems):
        self.path = None if path is None else str(path)
        self.problems = list(problems)
        where = self.path or "<config>"
        if len(self.problems) == 1:
            key, what = self.problems[0]
            message = f"{where}: {key}: {what}" if key else f"{where}: {what}"
        else:
            lines = [f"  {key}: {what}" if key else f"  {what}" for key, what in self.problems]
            message = f"{where}: {len(self.problems)} problems:\n" + "\n".join(lines)
        super().__init__(message)


class FolderInUseError(SkinEstimatorsError, OSError):
    """Another running process holds the output folder of an experiment.

    Examples
    --------
    >>> from skin_estimators.exceptions import FolderInUseError
    >>> issubclass(FolderInUseError, OSError)
    True
    """


class DeviceUnavailableError(SkinEstimatorsError, ValueError, RuntimeError):
    """A ``device`` this machine cannot use (a bad name, or an accelerator it lacks).

    A ``ValueError`` (a wrong parameter value, reported in one line by the command line) and,
    for code written against earlier versions, a ``RuntimeError``.

    Examples
    --------
    >>> from skin_estimators.exceptions import DeviceUnavailableError
    >>> issubclass(DeviceUnavailableError, ValueError)
    True
    """


class AdaptationError(SkinEstimatorsError, ValueError):
    """A model that cannot be adapted to a new clinic's photos: too few photos, or a model
    without an adaptation step (:class:`~skin_estimators.adaptation.DomainAdapter`). The
    message says what is needed.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators.adaptation import AdaptationError, DomainAdapter
    >>> adapter = DomainAdapter().fit(np.zeros((10, 2)))
    >>> try:
    ...     adapter.adapt(np.ones((3, 2)))
    ... except AdaptationError as error:
    ...     print(str(error)[:39])
    adapting needs at least 40 photos of th
    """


class UnreadableFile(SkinEstimatorsError, OSError):
    """A path that is not a regular file an image can be read from (a FIFO, a socket, a
    device, a link that loops); ``str`` is the reason. An ``OSError``, as a missing file is.

    Examples
    --------
    >>> import os, tempfile
    >>> from skin_estimators.exceptions import UnreadableFile
    >>> from skin_estimators.utils._image_files import open_image
    >>> fifo = os.path.join(tempfile.mkdtemp(), "photo.jpg")
    >>> os.mkfifo(fifo)
    >>> try:
    ...     with open_image(fifo):
    ...         pass
    ... except UnreadableFile as error:
    ...     print(error)
    not a regular file (a FIFO)
    """


class CommandError(SkinEstimatorsError):
    """A failure of a ``skin-estimators`` command, reported in one line (no traceback) with
    its exit code ``code`` (1 by default).

    Examples
    --------
    >>> from skin_estimators.exceptions import CommandError
    >>> error = CommandError("no images in 'photos/'", code=2)
    >>> print(error, error.code)
    no images in 'photos/' 2
    """

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code
