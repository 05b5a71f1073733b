"""Named photo sources of a config besides ``data:``: out-of-scope negatives, and the
yardstick that no config may train on.

``data: fetch_skin3`` names the training photos. SD-198's photos come in two subsets
(:func:`~skin_estimators.datasets.fetch_sd198`): its 24 other conditions may enter training
as out-of-scope negatives (named ``fetch_sd198_other``), while its photos of the three
diseases are a yardstick, scored with ``skin-estimators evaluate MODEL sd198`` and never
trained on: a config that names them as training photos or as negatives is refused.
"""

__all__ = ["NEGATIVE_SOURCES", "YARDSTICK_NAMES", "check_negatives", "load_negatives",
           "refuse_yardstick", "refuse_yardstick_files"]

#: Names of negatives a config may give, and the ``fetch_sd198`` subset each stands for.
NEGATIVE_SOURCES = {"fetch_sd198_other": "other"}

#: Names of the photos no config may train on (SD-198's three diseases).
YARDSTICK_NAMES = ("fetch_sd198", "fetch_sd198_diseases", "sd198")


def refuse_yardstick(value, key=None):
    """Raise ``ValueError`` (one line, naming ``key`` when given) when ``value`` names the
    yardstick.

    Examples
    --------
    >>> from skin_estimators.experiments._negatives import refuse_yardstick
    >>> refuse_yardstick("fetch_skin3", "data")
    >>> refuse_yardstick("fetch_sd198", "data")
    Traceback (most recent call last):
    ...
    ValueError: data: 'fetch_sd198' names SD-198's photos of the three diseases, a yardstick ...
    """
    if isinstance(value, str) and value in YARDSTICK_NAMES:
        raise ValueError(
            f"{key + ': ' if key else ''}{value!r} names SD-198's photos of the three diseases, a yardstick that "
            "no model may be trained on (they would then measure nothing): score a trained "
            "model on them with 'skin-estimators evaluate MODEL sd198 --out DIR'. SD-198's "
            "other conditions are 'fetch_sd198_other', for out-of-scope negatives.")


def refuse_yardstick_files(filenames, key="data.path", path=None):
    """Raise ``ConfigError`` (naming ``key``) when any file is one of SD-198's photos of the
    three diseases, found by content (SHA-256 of the manifest shipped with the package), so
    that a copy of the yardstick in any folder is refused too.

    ``path``: the config file, for the message. Only files of the size of one of those
    photos are hashed: the check costs a ``stat`` per
    file. Unreadable files are left to the loader, which names them.
    """
    import os

    from ..datasets._manifest import _sha256
    from ..datasets._sd198 import _manifest_rows
    from ..exceptions import ConfigError

    rows = _manifest_rows("diseases")
    sizes = {int(r["bytes"]) for r in rows}
    hashes = {r["sha256"] for r in rows}
    found = []
    for f in filenames:
        try:
            if os.path.getsize(f) in sizes and _sha256(f) in hashes:
                found.append(os.fspath(f))
        except OSError:
            continue
    if found:
        shown = ", ".join(repr(f) for f in found[:3]) + (" ..." if len(found) > 3 else "")
        raise ConfigError(path, [(key, (
            f"{len(found)} of the photos ({shown}) are SD-198's photos of the three diseases, "
            "a yardstick that no model may be trained on: take them out, and score a trained "
            "model on them with 'skin-estimators evaluate MODEL sd198 --out DIR'"))])


def check_negatives(value, key="negatives"):
    """``value`` if it names negatives (:data:`NEGATIVE_SOURCES`, or ``{path: folder}``), else
    ``ValueError`` in one line naming ``key``.

    Examples
    --------
    >>> from skin_estimators.experiments._negatives import check_negatives
    >>> check_negatives("fetch_sd198_other")
    'fetch_sd198_other'
    >>> check_negatives("fetch_skin3")
    Traceback (most recent call last):
    ...
    ValueError: negatives: must be 'fetch_sd198_other' or {path: folder with one sub-folder per condition} (got 'fetch_skin3')
    """
    refuse_yardstick(value, key)
    if isinstance(value, str) and value in NEGATIVE_SOURCES:
        return value
    if isinstance(value, dict) and set(value) == {"path"} and isinstance(value["path"], str):
        return value
    raise ValueError(f"{key}: must be {' or '.join(map(repr, NEGATIVE_SOURCES))} or "
                     f"{{path: folder with one sub-folder per condition}} (got {value!r})")


def load_negatives(value, base=None):
    """The negatives ``value`` names, as a Bunch with ``groups`` = the condition.

    ``value``: ``"fetch_sd198_other"`` (:func:`~skin_estimators.datasets.fetch_sd198`,
    ``subset="other"``) or ``{"path": folder}``, a class-per-folder tree of other
    conditions (relative to ``base``, the config file's folder, when relative).
    """
    import os

    import numpy as np

    from skin_estimators.datasets import fetch_sd198, load_image_folder

    value = check_negatives(value)
    if isinstance(value, str):
        return fetch_sd198(NEGATIVE_SOURCES[value])
    path = os.path.expanduser(value["path"])
    if not os.path.isabs(path):
        if base is None:
            raise ValueError(f"negatives: {value['path']!r} is relative, but the config was "
                             "not read from a file; give an absolute path")
        path = os.path.join(os.fspath(base), path)
    data = load_image_folder(path, groups=None)
    refuse_yardstick_files(data.filenames, key="negatives.path")
    data.groups = np.asarray(data.target, dtype=str).copy()
    return data
