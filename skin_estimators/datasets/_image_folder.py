"""``load_image_folder``: a class-per-folder tree of images as a scikit-learn ``Bunch``."""

import os
import re
import warnings
from collections import Counter

import numpy as np
from sklearn.utils import Bunch

from ..utils._image_files import scan_folder

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder"]

#: File extensions (lower case, no dot) counted as images. Image-ness is decided by name only:
#: decoding every file here would make listing a folder as slow as loading it.
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "gif"})

# The atlas page: the leading "<chapter>-<number>" of a file name ("4-102" in "4-102-11.jpg").
# Photographs of one page often show the same patient, so they must share a CV group.
_ATLAS_PAGE = re.compile(r"^\d+-\d+")

# Junk that archivers and file browsers leave behind; never a class nor an image.
_MACOS_RESOURCE_FOLDER = "__MACOSX"

# How many names a warning lists before it says "and N more".
_MAX_NAMES_IN_WARNING = 50


def _is_ignored(name):
    """Hidden entries (dotfiles, ``.DS_Store``, ``._x.jpg``) and ``__MACOSX`` folders."""
    return name.startswith(".") or name == _MACOS_RESOURCE_FOLDER


def _is_image_name(name):
    return os.path.splitext(name)[1][1:].lower() in IMAGE_EXTENSIONS


def _name_list(names, limit=_MAX_NAMES_IN_WARNING):
    shown = ", ".join(repr(n) for n in names[:limit])
    if len(names) > limit:
        shown += f" and {len(names) - limit} more"
    return shown


def _scan_image_folder(root):
    """List a class-per-folder tree without judging it.

    Returns
    -------
    classes : dict of str to list of str
        Each class folder's image file names, both sorted.
    skipped : list of str
        Paths relative to ``root`` (``/``-separated) of what was left out: hidden entries,
        ``__MACOSX``, files directly in ``root``, non-image files and nested folders.
    """
    root = os.fspath(root)
    if not os.path.exists(root):
        raise FileNotFoundError(
            f"Image folder {root!r} does not exist. Pass the folder that holds one "
            "sub-folder of images per class."
        )
    if not os.path.isdir(root):
        raise NotADirectoryError(
            f"Image folder {root!r} is a file, not a folder. Pass the folder that holds one "
            "sub-folder of images per class."
        )
    classes, skipped = {}, []
    for name, path, kind in scan_folder(root):
        if _is_ignored(name) or kind != "folder":
            skipped.append(name)
            continue
        names = []
        for item, _, item_kind in scan_folder(path):
            # An odd entry (a link that loops, a FIFO) with an image's name is kept: the
            # loader then names it with its reason, as it does for a corrupt file.
            if (not _is_ignored(item) and item_kind in ("file", "odd")
                    and _is_image_name(item)):
                names.append(item)
            else:
                skipped.append(f"{name}/{item}")
        classes[name] = names
    return classes, skipped


def _atlas_pages(names):
    """The atlas page of each file name; the file stem (with one warning) where there is none.

    Files of one stem share a group, also across class folders: the same name filed under
    two classes is most likely the same photograph (or page), and a grouped split must not
    put one copy in training and the other in test.
    """
    pages, unmatched = [], []
    for name in names:
        match = _ATLAS_PAGE.match(name)
        if match is None:
            unmatched.append(name)
            pages.append(os.path.splitext(name)[0])
        else:
            pages.append(match.group(0))
    if unmatched:
        stems = Counter(os.path.splitext(name)[0] for name in unmatched)
        shared = sorted(stem for stem, n in stems.items() if n > 1)
        also = ""
        if shared:
            also = (f" {len(shared)} of these groups hold several files of one name without "
                    f"extension, e.g. in two class folders ({_name_list(shared, limit=10)}): "
                    "they stay together, as probable copies of one photograph.")
        warnings.warn(
            f"{len(unmatched)} file name(s) do not start with an atlas page "
            f"'<chapter>-<number>' ({_name_list(unmatched, limit=10)}); these files are "
            "grouped by their file name without extension, so files of the same name share a "
            f"group.{also} Pass groups=None for no groups, or a callable mapping a file name "
            "to its group.",
            UserWarning,
            stacklevel=3,
        )
    return pages


def _describe(root, target_names, target, groups):
    counts = Counter(target.tolist())
    per_class = ", ".join(f"{name} {counts[name]}" for name in target_names)
    lines = [
        f"Image folder {root}",
        "",
        f"{len(target)} images in {len(target_names)} classes ({per_class}).",
    ]
    if groups is not None:
        lines.append(f"{len(set(groups.tolist()))} distinct groups.")
    return "\n".join(lines) + "\n"


def load_image_folder(root, groups="atlas_page"):
    """Load the file names and labels of a class-per-folder tree of images.

    Each sub-folder of ``root`` is a class and holds that class's images directly (nested
    folders are not searched). Images are recognised by their extension, case-insensitively:
    ``jpg, jpeg, png, bmp, tif, tiff, webp, gif``; nothing is decoded here (use
    ``ImageLoader`` for that). Hidden entries (names starting with ``.``), ``__MACOSX``
    folders, files directly in ``root``, non-image files and nested folders are left out and
    named in one ``UserWarning``.

    Links are followed: a link to a folder in ``root`` is a class folder, a link to an image
    file is an image (the ``predict`` command follows links the same way). A broken link is
    left out, with the warning. An entry with an image's name that is not a regular file (a
    link that loops, a FIFO) is kept, so that ``ImageLoader`` names it with its reason
    (``"not a regular file (a FIFO)"``), as it names a corrupt file.

    Parameters
    ----------
    root : str or path-like
        The folder holding one sub-folder per class.
    groups : "atlas_page", callable or None, default="atlas_page"
        How to assign each image a group, for grouped cross-validation
        (``GroupKFold``, ``StratifiedGroupKFold``) so that photographs of one patient do not
        land in both training and test folds.

        - ``"atlas_page"``: the leading ``<chapter>-<number>`` of the file name, the page of
          the dermatology atlas the photograph comes from (``"4-102"`` for
          ``"4-102-11.jpg"``, ``"4-101"`` for ``"4-101_S.jpg"``). A file name that does not
          start that way is grouped by its file name without extension, and all such files
          are named in one ``UserWarning``. Files of the same name (in two class folders, or
          ``x.jpg`` and ``x.png``) thus share a group, as files of one atlas page do: they
          are most likely copies of one photograph, and a grouped split keeps them on one
          side.
        - a callable: called with each file name (no folder, e.g. ``"4-102-11.jpg"``) and
          returns its group.
        - ``None``: no groups; ``groups`` in the result is ``None``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Ordered by class name, then by file name, with attributes:

        filenames : ndarray of str, shape (n_samples,)
            Absolute paths of the images.
        target : ndarray of str, shape (n_samples,)
            The class (folder name) of each image.
        target_names : ndarray of str, shape (n_classes,)
            The sorted class names.
        groups : ndarray of shape (n_samples,) or None
            The group of each image (see ``groups``).
        DESCR : str
            A short description: folder, counts per class, number of groups.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is a file.
    ValueError
        If ``root`` has no class folder, if a class folder holds no image, or if ``groups``
        is not one of the accepted values.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from skin_estimators.datasets import load_image_folder
    >>> root = Path(tempfile.mkdtemp())
    >>> for path in ["acne/4-102-11.jpg", "acne/4-101_S.jpg", "lichen_planus/3-119-9 .jpg"]:
    ...     (root / path).parent.mkdir(exist_ok=True)
    ...     Image.new("RGB", (8, 8)).save(root / path)
    >>> data = load_image_folder(root)
    >>> [Path(f).name for f in data.filenames]
    ['4-101_S.jpg', '4-102-11.jpg', '3-119-9 .jpg']
    >>> data.target.tolist()
    ['acne', 'acne', 'lichen_planus']
    >>> data.target_names.tolist()
    ['acne', 'lichen_planus']
    >>> data.groups.tolist()
    ['4-101', '4-102', '3-119']
    """
    if not (groups is None or callable(groups) or groups == "atlas_page"):
        raise ValueError(f"groups must be 'atlas_page', a callable or None; got {groups!r}.")
    root = os.path.abspath(os.fspath(root))
    classes, skipped = _scan_image_folder(root)
    if skipped:
        warnings.warn(
            f"load_image_folder skipped {len(skipped)} item(s) in {root!r} that are hidden, "
            "__MACOSX, outside a class folder, nested folders or not images "
            f"({', '.join(sorted(IMAGE_EXTENSIONS))}): {_name_list(skipped)}",
            UserWarning,
            stacklevel=2,
        )
    if not classes:
        raise ValueError(
            f"Image folder {root!r} holds no class folder. Put the images of each class in "
            "their own sub-folder, e.g. root/acne/1.jpg, root/lichen_planus/2.jpg."
        )
    empty = [name for name, names in classes.items() if not names]
    if empty:
        paths = ", ".join(repr(os.path.join(root, name)) for name in empty)
        raise ValueError(
            f"Class folder(s) {paths} hold no image (extensions "
            f"{', '.join(sorted(IMAGE_EXTENSIONS))}). Add images or remove the folder(s)."
        )

    target_names = sorted(classes)
    filenames, target, names = [], [], []
    for class_name in target_names:
        for name in classes[class_name]:
            filenames.append(os.path.join(root, class_name, name))
            target.append(class_name)
            names.append(name)

    if groups is None:
        group_array = None
    elif callable(groups):
        group_array = np.asarray([groups(name) for name in names])
    else:
        group_array = np.asarray(_atlas_pages(names), dtype=str)

    target = np.asarray(target, dtype=str)
    target_names = np.asarray(target_names, dtype=str)
    return Bunch(
        filenames=np.asarray(filenames, dtype=str),
        target=target,
        target_names=target_names,
        groups=group_array,
        DESCR=_describe(root, target_names.tolist(), target, group_array),
    )
