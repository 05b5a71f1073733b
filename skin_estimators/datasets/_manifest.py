"""A dataset's manifest (relative path, class, SHA-256 of every image) and checks against it."""

import csv
import hashlib
import os

from ._image_folder import _scan_image_folder

__all__ = ["read_manifest", "verify_folder", "write_manifest"]

_FIELDS = ("path", "class", "sha256")


def _sha256(path, chunk_size=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(root, path):
    """Write the manifest of the class-per-folder tree ``root`` to the CSV file ``path``.

    One row per image, sorted by relative path: ``path`` (``class/file``, ``/``-separated),
    ``class``, ``sha256``. Hidden files, ``__MACOSX`` and non-images are left out, as
    :func:`load_image_folder` leaves them out.
    """
    classes, _ = _scan_image_folder(root)
    rows = [
        (f"{class_name}/{name}", class_name, _sha256(os.path.join(root, class_name, name)))
        for class_name in sorted(classes)
        for name in classes[class_name]
    ]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(_FIELDS)
        writer.writerows(rows)
    return len(rows)


def read_manifest(path):
    """Read a manifest written by :func:`write_manifest`: a dict ``path -> (class, sha256)``."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != _FIELDS:
            raise ValueError(
                f"Manifest {os.fspath(path)!r} must have the columns {', '.join(_FIELDS)}; "
                f"it has {reader.fieldnames}."
            )
        return {row["path"]: (row["class"], row["sha256"]) for row in reader}


def verify_folder(folder, manifest):
    """Compare the images in ``folder`` with ``manifest`` (from :func:`read_manifest`).

    Returns
    -------
    problems : list of str
        One line per bad image, naming it: missing, altered (SHA-256 differs) or unexpected
        (an image not in the manifest). Empty when the folder matches.
    """
    classes, _ = _scan_image_folder(folder)
    present = {f"{c}/{name}" for c, names in classes.items() for name in names}
    problems = []
    for rel_path, (_, expected) in sorted(manifest.items()):
        file_path = os.path.join(folder, *rel_path.split("/"))
        if rel_path not in present:
            problems.append(f"missing:    {file_path}")
        elif _sha256(file_path) != expected:
            problems.append(f"altered:    {file_path} (its SHA-256 differs from the manifest)")
    for rel_path in sorted(present - manifest.keys()):
        problems.append(f"unexpected: {os.path.join(folder, *rel_path.split('/'))}")
    return problems
