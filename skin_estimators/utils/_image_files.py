"""Listing folders and opening image files: one place for links, odd files and Pillow's guards.

Every command lists its inputs with :func:`scan_folder` (through
:func:`~skin_estimators.datasets.load_image_folder` or the command line's file collection)
and opens image files with :func:`open_image`, so that they all treat the same entries alike:

- a link is followed; a link to a folder is a folder, a link to a file is a file;
- a link whose target is missing is a *broken link*;
- a link that loops, a FIFO, a socket or a device is an *odd* entry: it is listed like a file
  (it keeps its row, or is named in the error), and opening it fails with one reason
  (``"not a regular file (a FIFO)"``) instead of blocking on a FIFO's read or stopping a
  whole run on a ``[Errno 40]``;
- Pillow's decompression-bomb *warning* (an image between ``PIL.Image.MAX_IMAGE_PIXELS`` and
  twice that) becomes the same error as the bomb itself: one line naming the file, never a
  raw warning with source lines.
"""

import contextlib
import errno
import os
import stat
import warnings

from ..exceptions import UnreadableFile

__all__ = ["UnreadableFile", "entry_kind", "file_problem", "open_image", "scan_folder"]

_ODD_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
              (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def file_problem(path):
    """Why ``path`` is not a readable regular file (a short reason), or None.

    Examples
    --------
    >>> import os, tempfile
    >>> from skin_estimators.utils._image_files import file_problem
    >>> tmp = tempfile.mkdtemp()
    >>> os.symlink("loop.jpg", os.path.join(tmp, "loop.jpg"))
    >>> file_problem(os.path.join(tmp, "loop.jpg"))
    'a link that loops (too many levels of symbolic links)'
    >>> os.mkfifo(os.path.join(tmp, "fifo.jpg"))
    >>> file_problem(os.path.join(tmp, "fifo.jpg"))
    'not a regular file (a FIFO)'
    >>> file_problem(tmp)
    'is a directory, not an image file'
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "broken link (its target does not exist)" if os.path.islink(path) \
            else "file not found"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a link that loops (too many levels of symbolic links)"
        if exc.errno == errno.EACCES:
            return "permission denied"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "is a directory, not an image file"
    for test, kind in _ODD_KINDS:
        if test(mode):
            return f"not a regular file ({kind})"
    return None


def entry_kind(path):
    """``"folder"``, ``"file"``, ``"broken_link"`` or ``"odd"`` (a loop, FIFO, socket, device).

    Links are followed. Never raises for what lies at ``path``.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "broken_link" if os.path.islink(path) else "odd"
    except OSError:
        return "odd"
    if stat.S_ISDIR(mode):
        return "folder"
    return "file" if stat.S_ISREG(mode) else "odd"


def scan_folder(folder):
    """The entries of ``folder``, sorted by name: ``(name, path, kind)`` with
    :func:`entry_kind`'s kinds. Hidden entries are included (the callers decide)."""
    folder = os.fspath(folder)
    with os.scandir(folder) as entries:
        names = sorted(entry.name for entry in entries)
    return [(name, os.path.join(folder, name), entry_kind(os.path.join(folder, name)))
            for name in names]


@contextlib.contextmanager
def open_image(path, formats=None):
    """``PIL.Image.open(path)`` as a context manager, after :func:`file_problem` says yes.

    Raises :class:`UnreadableFile` for what is not a regular file (a FIFO would block the
    read forever), and ``PIL.Image.DecompressionBombError`` where Pillow would only warn.
    """
    from PIL import Image

    problem = file_problem(path)
    if problem is not None:
        raise UnreadableFile(problem)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path, formats=formats)
        except Image.DecompressionBombWarning as exc:
            raise Image.DecompressionBombError(str(exc)) from None
    with im:
        yield im
