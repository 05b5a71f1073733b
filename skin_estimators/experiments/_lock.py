"""One run at a time per output folder: a lock file that names the process holding it.

Two runs writing the same folder would fit every fold twice and race on the MLflow store
beside the results (SQLite migrations collide). :class:`FolderLock` holds an exclusive
``fcntl.flock`` on ``<folder>/.skin-estimators.lock``, which the operating system releases
when the process ends in any way, ``kill -9`` included, and writes the holder's PID, host
and start time into the file, so that a refused run can say who holds the folder.

A lock file left behind by a process that no longer runs is stale: its flock is gone, so the
next run takes the folder over and says so. Where ``flock`` is not available (some network
file systems, Windows), a lock file naming a running process on this host holds the folder;
one naming a dead process, or another host, is taken over.
"""

import contextlib
import datetime
import errno
import json
import os
import socket
import sys

from ..exceptions import FolderInUseError

__all__ = ["LOCK_NAME", "FolderInUseError", "FolderLock"]

#: The lock file's name inside the output folder.
LOCK_NAME = ".skin-estimators.lock"

try:
    import fcntl
except ImportError:  # Windows: the PID in the file decides
    fcntl = None


def _say(message):
    print(message, file=sys.stderr, flush=True)


def _holder_text(holder):
    if not holder:
        return "another process"
    text = f"PID {holder.get('pid', '?')} on host {holder.get('host', '?')}"
    if holder.get("started"):
        text += f", started {holder['started']}"
    return text


def _pid_running(pid):
    """Whether process ``pid`` of this host runs (True where that cannot be told)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    if os.name == "nt":  # os.kill would end the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return False
    return True


class FolderLock:
    """Hold ``folder`` for this process; a context manager.

    Parameters
    ----------
    folder : path-like
        The output folder (it must exist).
    what : str, default="run"
        What holds it, for the messages (``"cv run"``).
    note : callable, default=print to stderr
        Called with a one-line note when a stale lock is taken over.

    Raises
    ------
    FolderInUseError
        On entry, when a running process holds the folder: one line that names the folder,
        the holder's PID and host, and what to do.

    Examples
    --------
    >>> import tempfile
    >>> from skin_estimators.experiments._lock import FolderLock
    >>> folder = tempfile.mkdtemp()
    >>> with FolderLock(folder):
    ...     try:
    ...         FolderLock(folder).acquire()
    ...     except OSError as error:
    ...         print(str(error).split(" is in use")[0] == folder)
    True
    """

    def __init__(self, folder, what="run", note=_say):
        self.folder = os.fspath(folder)
        self.path = os.path.join(self.folder, LOCK_NAME)
        self.what = what
        self.note = note
        self._fd = None

    # ------------------------------------------------------------------ acquire
    def acquire(self):
        """Take the folder (see the class); returns self."""
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise type(exc)(f"cannot write the lock file in {self.folder} "
                                f"({exc.strerror or exc}): give a writable output folder "
                                "(--out)") from None
            try:
                held = self._flock(fd)
                old = self._read(fd)
                if held is None:  # no flock here: the PID in the file decides
                    if old and self._holder_alive(old):
                        self._refuse(old)
                elif not held:
                    self._refuse(old)
                elif not self._same_file(fd):
                    os.close(fd)  # its holder removed the file meanwhile: lock the new one
                    continue
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                raise
            self._fd = fd
            if old:
                self.note(f"note: took over the stale lock of {self.folder} ({_holder_text(old)}"
                          ", no longer running)")
            self._write(fd)
            return self

    @staticmethod
    def _flock(fd):
        """True: locked; False: another process holds it; None: flock is not available."""
        if fcntl is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            return None  # ENOLCK, EOPNOTSUPP, ...: a file system without flock
        return True

    def _same_file(self, fd):
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    @staticmethod
    def _read(fd):
        """The holder recorded in the file ({} when empty or unreadable)."""
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            data = os.read(fd, 4096)
            holder = json.loads(data.decode("utf-8")) if data.strip() else {}
        except (OSError, ValueError):
            return {"pid": "?", "host": "?"}
        return holder if isinstance(holder, dict) else {"pid": "?", "host": "?"}

    @staticmethod
    def _holder_alive(holder):
        if holder.get("host") != socket.gethostname():
            return False  # a lock from another host: stale once that host's flock is gone
        return _pid_running(holder.get("pid"))

    def _refuse(self, holder):
        raise FolderInUseError(
            f"{self.folder} is in use by another {self.what} ({_holder_text(holder)}; lock file "
            f"{self.path}): wait until it ends, or use another output folder (--out)")

    def _write(self, fd):
        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": started, "what": self.what}).encode()
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)
        with contextlib.suppress(OSError):
            os.fsync(fd)

    # ------------------------------------------------------------------ release
    def release(self):
        """Give the folder back (remove the lock file); safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self._same_file(fd):
                os.unlink(self.path)  # while still locked: the next run creates a fresh file
        except OSError:
            pass
        finally:
            os.close(fd)  # releases the flock

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()
        return False
