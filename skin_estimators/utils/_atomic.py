"""Atomic file writes: a temporary file beside the target, renamed onto it in one step.

A reader (or the next run) sees either the old file or the whole new one, never a partial
or empty file: after a crash, a full disk or Ctrl-C the temporary file is removed and the
target is left as it was (after a hard kill a hidden ``.<name>.*.tmp`` may remain, never a
partial target). The new file gets the permissions a plain ``open()`` would give it (the
user's umask), not ``mkstemp``'s private 0600. A failure to write raises an ``OSError``
whose message names the target file (``[Errno 28] No space left on device: 'out/a.json'``),
with the original ``errno``.
"""

import contextlib
import os
import tempfile

__all__ = ["atomic_open", "atomic_savefig", "atomic_write"]


def _naming(exc, path):
    """``exc`` as an OSError with the same errno whose message names ``path``."""
    if exc.errno is None:
        return OSError(f"could not write {path!r}: {exc}")
    # OSError(errno, ...) is the matching subclass (PermissionError for EACCES...).
    return OSError(exc.errno, exc.strerror or str(exc), path)


def _umask():
    # Read where the system shows it: setting the umask to learn it (os.umask) would, for a
    # moment, change it for every thread of the process (Dask workers write fold files).
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o077)  # briefly a strict umask, never a permissive one
    os.umask(umask)
    return umask


def user_mode():
    """The mode a plain ``open()`` gives a new file: 0o666 less the user's umask."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """Open a temporary file next to ``path``; on success it replaces ``path`` in one step.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder must exist.
    mode : {"w", "wb"}, default="w"
        Text or binary.
    **kwargs
        Passed to ``open`` (``encoding``, ``newline``, ``errors``).

    Yields
    ------
    file : file object
        The temporary file, flushed and synced to disk before the rename.

    Raises
    ------
    OSError
        If the file cannot be written (full disk, no permission); the message names ``path``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=folder)
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        try:
            os.chmod(tmp, user_mode())
            with os.fdopen(fd, mode, **kwargs) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            if exc.filename not in (None, tmp):  # about another file: already named
                raise
            raise _naming(exc, path) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def atomic_write(path, write, mode="wb", **kwargs):
    """Call ``write(file)`` on a temporary file that then replaces ``path`` (see module)."""
    with atomic_open(path, mode, **kwargs) as f:
        write(f)
    return path


def atomic_savefig(fig, path, **kwargs):
    """``fig.savefig`` to ``path`` atomically; the format is taken from ``path``'s suffix."""
    fmt = kwargs.pop("format", None) or os.path.splitext(os.fspath(path))[1][1:].lower() or "png"
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt, **kwargs))
