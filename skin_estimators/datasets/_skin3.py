"""``fetch_skin3``: the reference study's 102 photographs of three skin diseases."""

import os
import shutil
import tempfile
import zipfile

import numpy as np

from ._download import download, safe_extract_zip
from ._home import DEFAULT_DATA_HOME, get_data_home
from ._image_folder import _describe, load_image_folder
from ._manifest import read_manifest, verify_folder

__all__ = ["fetch_skin3"]

# Module-level so that tests can point them at a local server and a small fake dataset.
_ARCHIVE_URL = (
    "https://github.com/sgaut023/skin_disease_classification/raw/main/data_3class_skin_diseases.zip"
)
_MANIFEST_PATH = os.path.join(os.path.dirname(__file__), "skin3_manifest.csv")

_FOLDER = "skin3"
_ARCHIVE_FOLDER = "data_3class_skin_diseases"  # the top folder inside the published archive
_ARCHIVE_NAME = _ARCHIVE_FOLDER + ".zip"
_ENV = "SKIN_ESTIMATORS_DATA"

# Atlas pages that hold the same photograph: 4-105-7.jpg (page 4-105) and 4-110.jpg (page
# 4-110) are near-duplicates (found by skin_estimators.audit's duplicate search). Their pages
# share one group, so that grouped CV cannot train on one copy and test on the other. (The
# other known pairs, 4-102-4/4-102-9 and 4-102-6/4-102, already share page 4-102.)
_MERGED_PAGES = {"4-105": "4-105+4-110", "4-110": "4-105+4-110"}

_DESCR = """\
Skin diseases, 3 classes (skin3)
--------------------------------

102 clinical photographs, one folder per class: acne 40, herpes_simplex 16, lichen_planus 46.
JPEG, RGB, 298 to 1500 pixels per side. The images come from the Danish dermatology atlas
(http://www.danderm-pdv.is.kkh.dk/atlas/) and were published, with the atlas' permission,
with the reference study https://github.com/sgaut023/skin_disease_classification.

Groups are atlas pages (36 in all: acne 16, herpes simplex 5, lichen planus 15), except that
pages 4-105 and 4-110 form one group "4-105+4-110", because 4-105-7.jpg and 4-110.jpg show the
same photograph: 35 groups (acne 15, herpes simplex 5, lichen planus 15). Photographs of one
page often show the same patient: split with GroupKFold or StratifiedGroupKFold on
``groups`` so that no page (and no photograph) is in both a training and a test fold.

Every image is checked against the SHA-256 in the manifest shipped with skin-estimators.

"""


def _class_names(manifest):
    return sorted({class_name for class_name, _ in manifest.values()})


def _dataset_in(base, class_names):
    """The class-folder tree under ``base``, in any of the layouts we accept, or None."""
    candidates = [
        os.path.join(base, _FOLDER),
        os.path.join(base, _FOLDER, _ARCHIVE_FOLDER),
        os.path.join(base, _ARCHIVE_FOLDER),
        base,
    ]
    for folder in candidates:
        if any(os.path.isdir(os.path.join(folder, c)) for c in class_names):
            return folder
    return None


def _search_bases(data_home):
    """The folders searched, in order, with a label for messages."""
    bases = []
    if data_home is not None:
        bases.append((os.path.expanduser(os.fspath(data_home)), "data_home"))
    env = os.environ.get(_ENV)
    if env:
        bases.append((os.path.expanduser(env), f"${_ENV}"))
    else:
        bases.append((None, f"${_ENV} (not set)"))
    if data_home is None:
        # Not get_data_home(): looking must not create folders.
        bases.append((os.path.expanduser(DEFAULT_DATA_HOME), "the default data home"))
    return bases


def _where_to_put_it(target):
    archive = os.path.join(os.path.dirname(target), _ARCHIVE_NAME)
    return (
        f"Put the class folders acne/, herpes_simplex/ and lichen_planus/ (102 JPEGs) in "
        f"{target!r} (or the archive from {_ARCHIVE_URL} at {archive!r}), or set the "
        f"environment variable {_ENV} to a folder that contains {_FOLDER}/ (e.g. "
        f"{_ENV}=/path/to/data with /path/to/data/{_FOLDER}/acne/...), or pass data_home= a "
        f"folder that contains {_FOLDER}/."
    )


def _check(folder, manifest, hint):
    problems = verify_folder(folder, manifest)
    if problems:
        raise OSError(
            f"The skin3 images in {folder!r} do not match the manifest "
            f"({len(problems)} problem(s)):\n  " + "\n  ".join(problems) + f"\n{hint}"
        )


def _download_and_extract(data_home, manifest):
    """Download the archive into ``data_home``, extract and verify it, and move it in place."""
    target = os.path.join(data_home, _FOLDER)
    archive = os.path.join(data_home, _ARCHIVE_NAME)
    # A copy of the archive put there by hand (on a machine without internet) is used as is,
    # and kept; one we download is removed once extracted.
    downloaded = not os.path.isfile(archive)
    if downloaded:
        try:
            download(_ARCHIVE_URL, archive, desc="skin3")
        except (OSError, ValueError) as exc:
            raise OSError(
                f"The skin3 dataset was not found and could not be downloaded from "
                f"{_ARCHIVE_URL} ({exc}). {_where_to_put_it(target)}"
            ) from exc

    # Extract next to the target and rename when verified: no half-extracted skin3/ remains.
    staging = tempfile.mkdtemp(prefix=".skin3-", dir=data_home)
    try:
        try:
            safe_extract_zip(archive, staging, class_names=_class_names(manifest))
        except zipfile.BadZipFile as exc:
            raise OSError(f"{archive!r} (from {_ARCHIVE_URL}) is not a zip: {exc}") from exc
        _check(
            staging,
            manifest,
            f"The archive {archive!r} (from {_ARCHIVE_URL}) is not the expected one. "
            + _where_to_put_it(target),
        )
        if os.path.isdir(target) and not os.listdir(target):
            os.rmdir(target)
        try:
            os.rename(staging, target)
        except OSError as exc:
            if _dataset_in(data_home, _class_names(manifest)) != target:
                raise OSError(
                    f"Could not move the extracted skin3 images to {target!r} ({exc}); "
                    "remove or rename what is there and call fetch_skin3 again."
                ) from exc
            # Another process put a copy in place meanwhile: use it once it checks out.
            _check(target, manifest, f"Delete {target!r} and call fetch_skin3() again.")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if downloaded and os.path.exists(archive):
            os.remove(archive)
    return target


def fetch_skin3(data_home=None, download_if_missing=True):
    """Load the reference study's dataset: 102 photographs of acne, herpes simplex, lichen planus.

    The images are looked for, in this order, in

    1. ``data_home``, when given;
    2. the folder named by the environment variable ``SKIN_ESTIMATORS_DATA``;
    3. the default data home ``~/skin_estimators_data`` (see :func:`get_data_home`), when
       ``data_home`` is not given.

    In each of these folders, the first of these that holds a class folder is used:
    ``skin3/`` (the layout this function writes), ``skin3/data_3class_skin_diseases/`` or
    ``data_3class_skin_diseases/`` (the published archive extracted there), or the folder
    itself (it *is* the class-folder tree). Where none is found the published archive is
    downloaded (with a progress bar), extracted safely and verified into
    ``<data_home>/skin3/``, ``data_home`` being the given folder or the default data home;
    ``SKIN_ESTIMATORS_DATA`` is only read, never written. A copy of the archive already at
    ``<data_home>/data_3class_skin_diseases.zip`` (e.g. carried to a machine without internet)
    is extracted instead of downloading, and kept.

    Every image, found or downloaded, is checked against the SHA-256 of the manifest shipped
    with skin-estimators (``skin3_manifest.csv``); about 13 MB are hashed per call.

    Parameters
    ----------
    data_home : str or path-like, default=None
        A folder that holds ``skin3/`` (or the extracted archive, or is the class-folder
        tree), and where the dataset is downloaded if it is nowhere.
    download_if_missing : bool, default=True
        If False, raise an ``OSError`` instead of downloading when the data is not found.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        :func:`load_image_folder` of the verified folder: ``filenames`` (absolute paths),
        ``target`` (``"acne"``, ``"herpes_simplex"``, ``"lichen_planus"``),
        ``target_names``, ``groups`` and ``DESCR``. ``groups`` is the atlas page, except
        that the acne pages 4-105 and 4-110 form one group ``"4-105+4-110"``: their
        photographs ``4-105-7.jpg`` and ``4-110.jpg`` are near-duplicates (the same photo),
        and a grouped split must not put one in training and the other in test. 35 groups
        (acne 15, herpes simplex 5, lichen planus 15) instead of 36 pages.

    Raises
    ------
    FileNotFoundError
        If the data is not found and ``download_if_missing`` is False; the message says where
        to put it.
    OSError
        If the download fails (the message says where to put the data instead), if the
        archive holds members with absolute paths or ``..``, or if an image is missing,
        altered or unexpected (all of them are named).

    See Also
    --------
    load_image_folder : the same, for any class-per-folder tree.

    Examples
    --------
    >>> from skin_estimators.datasets import fetch_skin3
    >>> skin3 = fetch_skin3()
    >>> skin3.filenames.shape
    (102,)
    >>> skin3.target_names.tolist()
    ['acne', 'herpes_simplex', 'lichen_planus']
    >>> len(set(skin3.groups))
    35
    """
    manifest = read_manifest(_MANIFEST_PATH)
    class_names = _class_names(manifest)
    bases = _search_bases(data_home)

    for base, _ in bases:
        folder = None if base is None else _dataset_in(base, class_names)
        if folder is not None:
            _check(
                folder,
                manifest,
                f"Restore these files, or delete {folder!r} and call fetch_skin3() to "
                "download a fresh copy.",
            )
            break
    else:
        home = os.path.expanduser(os.fspath(DEFAULT_DATA_HOME if data_home is None else data_home))
        target = os.path.join(home, _FOLDER)
        if not download_if_missing:
            searched = ", ".join(
                label if base is None else f"{base!r} ({label})" for base, label in bases
            )
            raise FileNotFoundError(
                f"The skin3 dataset was not found (searched {searched}) and "
                f"download_if_missing is False. {_where_to_put_it(target)}"
            )
        folder = _download_and_extract(get_data_home(home), manifest)

    data = load_image_folder(folder)
    data.groups = _merge_duplicate_pages(data.groups)
    data.DESCR = _DESCR + _describe(
        folder, data.target_names.tolist(), data.target, data.groups
    )
    return data


def _merge_duplicate_pages(groups):
    """Put the pages that share a photograph (``_MERGED_PAGES``) into one group."""
    return np.asarray([_MERGED_PAGES.get(g, g) for g in groups.tolist()], dtype=str)
