"""``fetch_sd198``: photos of a second source, SD-198 (DermQuest): the three diseases as a
yardstick, and 24 other conditions as out-of-scope negatives."""

import csv
import http.client
import os
import shutil
import urllib.parse

import numpy as np

from ._download import download
from ._home import DEFAULT_DATA_HOME, get_data_home
from ._image_folder import _describe, load_image_folder
from ._manifest import _sha256, verify_folder
from ._skin3 import _search_bases

__all__ = ["fetch_sd198"]

# Module-level so that tests can point them at a local server and a small fake mirror.
_MIRROR_URL = ("https://github.com/codecodecode333/skin-disease-search-SD-198-/raw/"
               "4a301ef38501edb679dff6ad1380664a9f67032d/")
_MANIFEST_PATH = os.path.join(os.path.dirname(__file__), "sd198_manifest.csv")

#: ``subset`` -> the folder it lives in (under a data home or ``SKIN_ESTIMATORS_DATA``).
SUBSETS = {"diseases": "sd198", "other": "sd198_other"}
#: The columns of the committed manifest.
FIELDS = ("subset", "path", "mirror_path", "bytes", "sha256")
_ENV = "SKIN_ESTIMATORS_DATA"

_DESCR = {"diseases": """\
SD-198, the three diseases (sd198)
----------------------------------

85 clinical photographs of the three diseases of skin3, from a second source: acne 31
(SD-198's Acne_Vulgaris), herpes_simplex 24 (Herpes_Simplex_Virus), lichen_planus 30
(Lichen_Planus). SD-198 (Sun et al., ECCV 2016) collected them from DermQuest. A
YARDSTICK: score a model trained on skin3 on them (``skin-estimators evaluate MODEL sd198``);
never train on them, or they measure nothing. Two sub-sources are mixed (about 1640x1130
and 260x448 pixels), in different shares per class: file geometry predicts the class here
too, so score models on controlled inputs. No groups (the patients are not known).

Every image is checked against the SHA-256 in the manifest shipped with skin-estimators.

""", "other": """\
SD-198, 24 other conditions (sd198_other)
-----------------------------------------

715 clinical photographs of 24 conditions that are none of acne, herpes simplex and lichen
planus, one folder each (SD-198's folder name, lower case), from SD-198 (Sun et al., ECCV
2016; collected from DermQuest). Out-of-scope negatives: photos a three-disease model must
not answer with confidence. ``target`` and ``groups`` are both the condition, so that a
grouped split (GroupKFold on ``groups``) holds whole conditions out.

Every image is checked against the SHA-256 in the manifest shipped with skin-estimators.

"""}


def _manifest_rows(subset):
    """The committed manifest's rows of one subset: dicts of :data:`FIELDS`."""
    with open(_MANIFEST_PATH, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise ValueError(f"Manifest {_MANIFEST_PATH!r} must have the columns "
                             f"{', '.join(FIELDS)}; it has {reader.fieldnames}.")
        return [row for row in reader if row["subset"] == subset]


def _as_manifest(rows):
    """``{path: (class, sha256)}``, as :func:`~._manifest.verify_folder` takes it."""
    return {row["path"]: (row["path"].split("/")[0], row["sha256"]) for row in rows}


def _where_to_put_it(folder, target):
    return (f"Put the class folders of {folder}/ (the files named in "
            f"skin_estimators/datasets/sd198_manifest.csv) in {target!r}, or set the "
            f"environment variable {_ENV} to a folder that contains {folder}/, or pass "
            f"data_home= a folder that contains {folder}/.")


def _check(folder, rows, hint):
    problems = verify_folder(folder, _as_manifest(rows))
    if problems:
        raise OSError(f"The SD-198 images in {folder!r} do not match the manifest "
                      f"({len(problems)} problem(s)):\n  " + "\n  ".join(problems) + f"\n{hint}")


def _file_url(mirror_path):
    return _MIRROR_URL + urllib.parse.quote(mirror_path)


def _download_subset(data_home, folder, rows):
    """Download every file of ``rows`` from the mirror, check it and move the folder in place.

    Files go to ``<data_home>/.<folder>.part/`` first; each one is kept there once its
    SHA-256 matches, so that an interrupted download resumes where it stopped. The folder is
    renamed to ``<data_home>/<folder>/`` only when every file is there and checked.
    """
    from tqdm.auto import tqdm

    target = os.path.join(data_home, folder)
    part = os.path.join(data_home, f".{folder}.part")
    todo = []
    for row in rows:
        path = os.path.join(part, *row["path"].split("/"))
        if not (os.path.isfile(path) and _sha256(path) == row["sha256"]):
            todo.append((row, path))
    bad, kept = [], len(rows) - len(todo)
    with tqdm(total=sum(int(r["bytes"]) for r, _ in todo), unit="B", unit_scale=True,
              unit_divisor=1024, desc=folder, disable=not todo) as bar:
        for row, path in todo:
            url = _file_url(row["mirror_path"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                download(url, path, progress=False)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                raise OSError(
                    f"The SD-198 {folder} images were not found and could not be downloaded "
                    f"from the mirror {_MIRROR_URL} ({type(exc).__name__}: {exc} for {url}); "
                    f"{kept} of {len(rows)} checked files are kept in {part!r}, and the next "
                    f"call downloads the rest. {_where_to_put_it(folder, target)}"
                ) from exc
            if _sha256(path) != row["sha256"]:
                os.remove(path)
                bad.append(f"{url} -> {row['path']}")
            else:
                kept += 1
            bar.update(int(row["bytes"]))
    if bad:
        raise OSError(
            f"{len(bad)} file(s) downloaded from {_MIRROR_URL} do not match the SHA-256 of the "
            f"manifest shipped with skin-estimators, and were removed: {'; '.join(bad[:10])}"
            + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
            + f". The mirror no longer serves the expected files. {_where_to_put_it(folder, target)}"
        )
    # Temporary files of a download killed outright (hidden, so never images) stay behind.
    for folder_path, _, names in os.walk(part):
        for name in names:
            if name.startswith(".download-") and name.endswith(".part"):
                os.remove(os.path.join(folder_path, name))
    _check(part, rows, f"Remove what does not belong in {part!r} and call fetch_sd198() again.")
    if os.path.isdir(target) and not os.listdir(target):
        os.rmdir(target)
    try:
        os.rename(part, target)
    except OSError as exc:
        if not os.path.isdir(target):
            raise OSError(f"Could not move the downloaded SD-198 images to {target!r} ({exc}); "
                          "remove or rename what is there and call fetch_sd198 again.") from exc
        # Another process put a copy in place meanwhile: use it once it checks out.
        _check(target, rows, f"Delete {target!r} and call fetch_sd198() again.")
        shutil.rmtree(part, ignore_errors=True)
    return target


def fetch_sd198(subset="diseases", data_home=None, download_if_missing=True):
    """Load photos of a second source, SD-198: the three diseases, or 24 other conditions.

    SD-198 (Sun et al., ECCV 2016) holds clinical photos collected from DermQuest. Two
    subsets, in folders of their own:

    - ``"diseases"`` (``sd198/``): 85 photos of acne, herpes simplex and lichen planus, the
      classes of :func:`fetch_skin3`. A yardstick for a model trained on skin3: score the
      model on them; never train on them (an experiment config refuses them as data).
    - ``"other"`` (``sd198_other/``): 715 photos of 24 other conditions. Out-of-scope
      negatives: what a three-disease model meets in a clinic and must not answer with
      confidence.

    The folder is looked for, in this order, in ``data_home`` (when given), in the folder
    named by the environment variable ``SKIN_ESTIMATORS_DATA``, and in the default data home
    ``~/skin_estimators_data`` (when ``data_home`` is not given). Where it is nowhere, the
    original files are downloaded, one by one, from a public mirror of SD-198 at a pinned
    commit into ``<data_home>/<folder>/``, ``data_home`` being the given folder or the default
    data home (``SKIN_ESTIMATORS_DATA`` is only read, never written). An interrupted download
    resumes at the next call. Every image, found or downloaded, is checked against the
    SHA-256 of the manifest shipped with skin-estimators (``sd198_manifest.csv``).

    Parameters
    ----------
    subset : {"diseases", "other"}, default="diseases"
        Which photos.
    data_home : str or path-like, default=None
        A folder that holds ``sd198/`` or ``sd198_other/``, and where they are downloaded
        if they are nowhere.
    download_if_missing : bool, default=True
        If False, raise a ``FileNotFoundError`` instead of downloading.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`load_image_folder` gives it: ``filenames`` (absolute paths), ``target``
        (the folder: the disease, or the other condition), ``target_names``, ``groups`` and
        ``DESCR``. ``groups`` is the condition for ``"other"`` (a grouped split then holds
        whole conditions out), and None for ``"diseases"`` (the patients are not known).

    Raises
    ------
    ValueError
        If ``subset`` is not one of the two.
    FileNotFoundError
        If the data is not found and ``download_if_missing`` is False; the message says where
        to put it.
    OSError
        If the download fails (the files already checked are kept, and the message says where
        to put the data instead), if a downloaded file does not match the manifest, or if an
        image found is missing, altered or unexpected (all of them are named).

    See Also
    --------
    fetch_skin3 : the training photos of the three diseases.

    Examples
    --------
    >>> from skin_estimators.datasets import fetch_sd198
    >>> yardstick = fetch_sd198("diseases")
    >>> yardstick.target_names.tolist(), yardstick.filenames.shape
    (['acne', 'herpes_simplex', 'lichen_planus'], (85,))
    >>> other = fetch_sd198("other")
    >>> len(other.target_names), other.filenames.shape, bool((other.groups == other.target).all())
    (24, (715,), True)
    """
    if subset not in SUBSETS:
        raise ValueError(f"fetch_sd198: subset must be one of {', '.join(map(repr, SUBSETS))}; "
                         f"got {subset!r}.")
    folder_name = SUBSETS[subset]
    rows = _manifest_rows(subset)
    bases = _search_bases(data_home)
    for base, _ in bases:
        folder = None if base is None else os.path.join(base, folder_name)
        if folder is not None and os.path.isdir(folder):
            _check(folder, rows, f"Restore these files, or delete {folder!r} and call "
                                 "fetch_sd198() to download a fresh copy.")
            break
    else:
        home = os.path.expanduser(os.fspath(DEFAULT_DATA_HOME if data_home is None else data_home))
        target = os.path.join(home, folder_name)
        if not download_if_missing:
            searched = ", ".join(
                label if base is None else f"{base!r} ({label})" for base, label in bases)
            raise FileNotFoundError(
                f"The SD-198 {folder_name} images were not found (searched {searched}) and "
                f"download_if_missing is False. {_where_to_put_it(folder_name, target)}")
        folder = _download_subset(get_data_home(home), folder_name, rows)

    data = load_image_folder(folder, groups=None)
    if subset == "other":
        data.groups = np.asarray(data.target, dtype=str).copy()
    data.DESCR = _DESCR[subset] + _describe(folder, data.target_names.tolist(), data.target,
                                            data.groups)
    return data
