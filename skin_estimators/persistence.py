"""Saving and loading fitted models: a safe format for sharing, and joblib.

Two formats, one loader:

- ``"safe"`` (the default): a single safetensors file with the network weights and a JSON
  description of the estimator (class, parameters, fitted attributes such as ``classes_``
  and the normaliser's statistics, library versions) protected by a SHA-256 digest. Loading
  it never unpickles anything and builds only the library's own classes, so a model file
  from a colleague cannot run code on your machine.
- ``"joblib"``: scikit-learn's convention (``joblib.dump`` of the estimator). It holds any
  estimator, but loading a pickle runs code chosen by whoever wrote the file, so
  :func:`load_model` asks for ``trust_pickle=True``. A model trained on a GPU loads on a
  CPU-only machine (``device="auto"`` picks the CPU there; ``device="cuda"`` falls back
  with a warning).

:func:`load_model` tells the formats apart by the file's first bytes, not its name.
"""

import os

from ._persistence import _files, _safe
from ._persistence._codec import decode  # noqa: F401 (re-exported)
from .exceptions import InconsistentModelError, ModelFileError, UnrepresentableError  # noqa: F401

__all__ = ["ModelFileError", "load_model", "load_model_metadata", "model_file_format",
           "save_model"]

FORMATS = ("safe", "joblib")

# First bytes of the files joblib writes: a pickle (protocol 2+) or one of its compressors.
_JOBLIB_MAGIC = (
    b"\x80",          # pickle protocol 2 to 5
    b"\x78",          # zlib
    b"\x1f\x8b",      # gzip
    b"BZh",           # bz2
    b"\xfd7zXZ",      # xz / lzma
    b"\x5d\x00\x00",  # legacy lzma
    b"\x04\x22\x4d\x18",  # lz4
)
# Attribute that carries save_model's metadata inside a joblib file (removed on load).
_JOBLIB_META_ATTR = "_skin_estimators_file_metadata"


def save_model(model, path, format="safe", metadata=None):
    """Save a fitted estimator or pipeline of the library to ``path``.

    The file is written to a temporary name in the same folder and then renamed, so an
    interrupted save never leaves a half-written model behind.

    Parameters
    ----------
    model : estimator
        A fitted estimator of this library, or a ``Pipeline`` of them (typically
        ``ImageLoader`` -> ``ChannelNormalizer`` -> a classifier).
    path : str or path-like
        Where to write; conventionally ``.safetensors`` for the safe format and ``.joblib``
        for joblib.
    format : {"safe", "joblib"}, default="safe"
        ``"safe"`` refuses estimators or parameter values it cannot describe without pickle
        (a callable, a callback instance, a ``RandomState``); the error names the parameter.
    metadata : dict, optional
        JSON-like information kept with the model (e.g. what it was trained on), returned by
        :func:`load_model_metadata`.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skin_estimators import VanillaCNNClassifier, load_model, save_model
    >>> X = np.random.RandomState(0).randn(8, 3, 16, 16).astype("float32")
    >>> clf = VanillaCNNClassifier(max_epochs=1, random_state=0).fit(X, ["a", "b"] * 4)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "model.safetensors")
    >>> save_model(clf, path)
    >>> loaded = load_model(path)
    >>> np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    True
    >>> loaded.classes_
    array(['a', 'b'], dtype='<U1')
    >>> tmp.cleanup()
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {format!r}.")
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    path = os.fspath(path)
    if format == "safe":
        _safe.write(path, model, metadata)
        return
    _write_joblib(path, model, metadata)


def _write_joblib(path, model, metadata):
    import joblib

    meta = {"format": "joblib", "versions": _safe.versions(), "metadata": metadata or {}}
    tmp = _files.temp_name(path)
    # The metadata rides along as a private attribute for the duration of the dump.
    model.__dict__[_JOBLIB_META_ATTR] = meta
    try:
        joblib.dump(model, tmp)
        _files.finish_temp(tmp, path)
    except BaseException as exc:
        _files.remove_quietly(tmp)
        error = _files.write_error(path, exc)
        if error is not None:
            raise error from None
        raise
    finally:
        model.__dict__.pop(_JOBLIB_META_ATTR, None)


def model_file_format(path):
    """``"safe"`` or ``"joblib"``, from the file's first bytes; ModelFileError otherwise.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skin_estimators import VanillaCNNClassifier, save_model
    >>> from skin_estimators.persistence import model_file_format
    >>> X = np.random.RandomState(0).randn(8, 3, 16, 16).astype("float32")
    >>> clf = VanillaCNNClassifier(max_epochs=1, random_state=0).fit(X, ["a", "b"] * 4)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> save_model(clf, os.path.join(tmp.name, "model.bin"))  # the name does not matter
    >>> model_file_format(os.path.join(tmp.name, "model.bin"))
    'safe'
    >>> save_model(clf, os.path.join(tmp.name, "model.joblib"), format="joblib")
    >>> model_file_format(os.path.join(tmp.name, "model.joblib"))
    'joblib'
    >>> tmp.cleanup()
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(path, "it is a folder, not a model file") from None
    except OSError as exc:
        raise ModelFileError(path, f"it cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise ModelFileError(path, "the file is empty")
    # safetensors: 8-byte little-endian header length, then the JSON header.
    if len(head) >= 9 and head[8:9] == b"{":
        n = int.from_bytes(head[:8], "little")
        if n + 8 > size:
            raise ModelFileError(path, "the file is truncated (incomplete download or copy?)")
        return "safe"
    if any(head.startswith(m) for m in _JOBLIB_MAGIC):
        return "joblib"
    raise ModelFileError(
        path, "it is neither a safe (safetensors) model file nor a joblib file of this library"
    )


def load_model(path, trust_pickle=False):
    """Load a model saved with :func:`save_model` (either format).

    Parameters
    ----------
    path : str or path-like
    trust_pickle : bool, default=False
        Needed for joblib files: unpickling executes code chosen by whoever wrote the file,
        so only load joblib files you made yourself or trust. Safe files never need it.

    Returns
    -------
    estimator
        The fitted estimator or pipeline, on ``device="auto"``'s choice for this machine.

    Raises
    ------
    ModelFileError
        The file is missing, not a model file, truncated, corrupted or modified after it
        was saved, inconsistent (a NaN weight, duplicated classes, arrays of the wrong
        shape, an unknown device, a pipeline that does not end with a classifier), written
        by an incompatible version, or a joblib file without ``trust_pickle=True``. The
        message names the file and the field; nothing else escapes from a safe file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skin_estimators import VanillaCNNClassifier, load_model, save_model
    >>> X = np.random.RandomState(0).randn(8, 3, 16, 16).astype("float32")
    >>> clf = VanillaCNNClassifier(max_epochs=1, random_state=0).fit(X, ["a", "b"] * 4)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> save_model(clf, os.path.join(tmp.name, "model.safetensors"))
    >>> load_model(os.path.join(tmp.name, "model.safetensors")).predict(X[:2]).shape
    (2,)

    A joblib file is a pickle, and unpickling runs code: it needs ``trust_pickle=True``.

    >>> save_model(clf, os.path.join(tmp.name, "model.joblib"), format="joblib")
    >>> load_model(os.path.join(tmp.name, "model.joblib"))
    Traceback (most recent call last):
    ...
    skin_estimators.exceptions.ModelFileError: Cannot load the model file ...
    >>> load_model(os.path.join(tmp.name, "model.joblib"), trust_pickle=True).classes_
    array(['a', 'b'], dtype='<U1')
    >>> tmp.cleanup()
    """
    return _load(path, trust_pickle)[0]


def load_model_metadata(path, trust_pickle=False):
    """Metadata of a model file: format, versions that wrote it, and the saved metadata.

    Parameters
    ----------
    path : str or path-like
    trust_pickle : bool, default=False
        As for :func:`load_model` (a joblib file's metadata is inside the pickle).

    Returns
    -------
    dict
        ``format`` ("safe" or "joblib"), ``versions`` (dict), ``metadata`` (what was given
        to :func:`save_model`; empty when nothing was).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skin_estimators import VanillaCNNClassifier, save_model
    >>> from skin_estimators.persistence import load_model_metadata
    >>> X = np.random.RandomState(0).randn(8, 3, 16, 16).astype("float32")
    >>> clf = VanillaCNNClassifier(max_epochs=1, random_state=0).fit(X, ["a", "b"] * 4)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "model.safetensors")
    >>> save_model(clf, path, metadata={"trained_on": "tiny random images"})
    >>> meta = load_model_metadata(path)
    >>> meta["format"], meta["metadata"]
    ('safe', {'trained_on': 'tiny random images'})
    >>> "torch" in meta["versions"]
    True
    >>> tmp.cleanup()
    """
    return _load(path, trust_pickle)[1]


def _load(path, trust_pickle):
    path = os.fspath(path)
    kind = model_file_format(path)
    if kind == "safe":
        return _load_safe(path)
    if not trust_pickle:
        raise ModelFileError(
            path,
            "it is a joblib (pickle) file, and unpickling runs code chosen by whoever wrote it. "
            "If you trust its source, load it with trust_pickle=True (on the command line: "
            "--trust-pickle); to share models, save them with format='safe'",
        )
    return _load_joblib(path)


def _load_safe(path):
    try:
        doc, tensors = _safe.read(path)
    except ValueError as exc:
        raise ModelFileError(path, str(exc)) from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors' own errors on damaged files
        raise ModelFileError(path, f"the file is damaged or truncated ({exc})") from None
    versions = doc.get("versions") if isinstance(doc.get("versions"), dict) else {}
    written = versions.get("skin_estimators", "an unknown version")
    if doc.get("format_version") != _safe.FORMAT_VERSION:
        from ._version import __version__

        raise ModelFileError(
            path,
            f"it uses model-file format version {doc.get('format_version')} (written by "
            f"skin-estimators {written}); skin-estimators {__version__} reads version "
            f"{_safe.FORMAT_VERSION}. Load it with the version that wrote it, or re-save it",
        )
    try:
        model = _safe.build(doc.get("estimator"), tensors)
        metadata = decode(doc.get("metadata", {}), "metadata")
    except MemoryError:
        raise
    except InconsistentModelError as exc:
        raise ModelFileError(path, f"{exc}; it was modified, or not written by "
                                   "skin-estimators' save_model") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(
            path, f"it does not fit this version of skin-estimators (written by {written}): {exc}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - the one boundary: a file never gives a traceback
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ModelFileError(
            path, f"its metadata cannot be read ({type(exc).__name__}: {first:.200})"
        ) from None
    return model, {"format": "safe", "versions": versions, "metadata": metadata}


def _load_joblib(path):
    import joblib

    try:
        model = joblib.load(path)
    except (EOFError, ValueError) as exc:
        raise ModelFileError(path, f"the file is truncated or corrupt ({exc})") from None
    except (ModuleNotFoundError, AttributeError, ImportError) as exc:
        raise ModelFileError(
            path,
            f"it was pickled by an incompatible version of a library ({exc}); load it with "
            "the versions that wrote it and re-save it (preferably with format='safe')",
        ) from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "bad file"
        raise ModelFileError(path, f"it could not be unpickled ({type(exc).__name__}: {exc})") \
            from None
    meta = model.__dict__.pop(_JOBLIB_META_ATTR, None) if hasattr(model, "__dict__") else None
    meta = meta or {"format": "joblib", "versions": {}, "metadata": {}}
    return model, meta

