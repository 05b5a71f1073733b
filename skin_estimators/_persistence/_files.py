"""Writing a model file: a temporary name beside it, the user's permissions, one-line errors.

Both formats write to a hidden temporary file in the target's folder and rename it onto the
target, so an interrupted or failed save leaves any previous file of that name unchanged.
"""

import errno
import os
import re

from ..utils._atomic import user_mode

__all__ = ["finish_temp", "remove_quietly", "temp_name", "write_error"]


def temp_name(path):
    """The hidden temporary file ``path`` is written to before the rename."""
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}.{os.getpid()}.tmp")


def finish_temp(tmp, path):
    """Give ``tmp`` the permissions a plain ``open()`` would, then rename it to ``path``."""
    os.chmod(tmp, user_mode())
    os.replace(tmp, path)


def remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


#: What to do about the commonest reasons a model file cannot be written.
_WRITE_ADVICE = {
    errno.ENOSPC: "free some space, or save it elsewhere",
    errno.EDQUOT: "free some space, or save it elsewhere",
    errno.EACCES: "save it in a folder you can write to",
    errno.EPERM: "save it in a folder you can write to",
    errno.EROFS: "save it in a folder you can write to",
}


def write_error(path, exc):
    """The one-line OSError for a model file that could not be written, or None.

    ``exc`` is what writing raised: an OSError, or safetensors' own error wrapping one
    (``SafetensorError: Error while serializing: I/O error: No space left on device (os
    error 28)``). Anything else (a bug, Ctrl-C) gives None and propagates unchanged.
    """
    code = None
    if isinstance(exc, OSError):
        code = exc.errno
        reason = exc.strerror or str(exc)
    elif type(exc).__name__ == "SafetensorError" and "I/O error" in str(exc):
        match = re.search(r"\(os error (\d+)\)", str(exc))
        code = int(match.group(1)) if match else None
        reason = os.strerror(code) if code else str(exc).split("I/O error:", 1)[1].strip()
    else:
        return None
    advice = _WRITE_ADVICE.get(code)
    error = OSError(
        f"Cannot save the model file {os.fspath(path)!r}: {reason[:1].lower()}{reason[1:]}. "
        "Nothing was written (a previous file of that name is unchanged)"
        + (f"; {advice}." if advice else ".")
    )
    error.errno = code
    return error
