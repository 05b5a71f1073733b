"""Downloading an archive and extracting it without trusting its member names."""

import os
import re
import stat
import tempfile
import warnings
import zipfile

__all__ = ["download", "safe_extract_zip"]

_CHUNK = 1 << 16
#: Extraction refuses archives that would write more than this (skin3's images take 40 MB).
MAX_EXTRACTED_BYTES = 2 << 30
#: ... or that hold a member compressed more than this many times: photographs barely compress
#: (JPEG ~1:1), a "zip bomb" member is compressed thousands of times.
MAX_COMPRESSION_RATIO = 100


def download(url, path, timeout=60, desc=None, progress=True):
    """Download ``url`` to ``path``, with a progress bar unless ``progress`` is False.

    The bytes go to a temporary file beside ``path`` that is renamed onto ``path`` only once
    complete, so an interrupted download never leaves a truncated ``path`` behind.
    Network errors propagate (``urllib.error.URLError``, ``OSError``, ``TimeoutError``), and
    so does an ``OSError`` when fewer bytes arrive than the server announced.
    """
    # Imported here: only a download needs them, and importing the package stays fast.
    import urllib.request

    from tqdm.auto import tqdm

    folder = os.path.dirname(os.path.abspath(path))
    fd, part = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            with tqdm(
                total=int(total) if total else None,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=desc or os.path.basename(path),
                disable=not progress,
            ) as bar:
                written = 0
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            # A connection closed early can end the read quietly: never keep a cut file.
            if total and written != int(total):
                raise OSError(f"incomplete download of {url}: {written:,} of {int(total):,} "
                              "bytes arrived before the connection closed")
        os.replace(part, path)
    except BaseException:
        if os.path.exists(part):
            os.remove(part)
        raise
    return path


def _is_junk(part):
    """macOS resource forks (``__MACOSX/``) and hidden files (``.DS_Store``) are no data."""
    return part == "__MACOSX" or part.startswith(".")


def _member_parts(name):
    """Split a member name into path parts, or raise if it could escape the target folder."""
    unix_name = name.replace("\\", "/")
    if unix_name.startswith("/") or re.match(r"^[A-Za-z]:", unix_name):
        raise OSError(f"absolute path {name!r}")
    parts = [p for p in unix_name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OSError(f"parent-folder reference '..' in {name!r}")
    return parts


def _normalise(name):
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _check_sizes(zip_path, members, max_bytes):
    """Refuse, before writing anything, an archive that would unpack to too much data."""
    total = sum(info.file_size for info, _ in members)
    if total > max_bytes:
        raise OSError(
            f"Refusing to extract {os.fspath(zip_path)!r}: it would unpack to {total:,} bytes, "
            f"more than the limit of {max_bytes:,}. Extract it yourself if you trust it."
        )
    for info, _ in members:
        # Tiny members are exempt: a few bytes of padding compress at any ratio.
        if info.file_size > (1 << 20) and info.file_size > MAX_COMPRESSION_RATIO * max(
                info.compress_size, 1):
            raise OSError(
                f"Refusing to extract {os.fspath(zip_path)!r}: member {info.filename!r} is "
                f"compressed {info.file_size / max(info.compress_size, 1):,.0f} times "
                f"(limit {MAX_COMPRESSION_RATIO}); images do not compress like that."
            )


def _copy_capped(src, out, budget, zip_path, name):
    """Copy at most ``budget`` bytes; the declared sizes in a zip header can lie."""
    written = 0
    while chunk := src.read(_CHUNK):
        written += len(chunk)
        if written > budget:
            raise OSError(f"Refusing to extract {os.fspath(zip_path)!r}: member {name!r} "
                          "unpacks to more than the archive declares or the limit allows.")
        out.write(chunk)
    return written


def safe_extract_zip(zip_path, dest, class_names=(), max_bytes=MAX_EXTRACTED_BYTES):
    """Extract the files of a class-per-folder archive into ``dest``, safely.

    - The whole archive is refused (``OSError`` naming the members, before anything is
      written) if a member has an absolute path or a ``..`` component.
    - Symbolic links are skipped with a warning; folders are created as files need them.
    - ``__MACOSX/`` and hidden files are skipped.
    - The whole archive is refused if it would unpack to more than ``max_bytes`` bytes or
      holds a member (over 1 MiB) compressed more than 100 times: a zip bomb fills the disk.
    - A single top folder shared by every file (``data_3class_skin_diseases/``) is dropped,
      unless it is itself a class folder.
    - A class folder whose name equals one of ``class_names`` up to case, spaces and
      hyphens (``Herpes Simplex`` for ``herpes_simplex``) is written under that name.

    Returns the number of files written.
    """
    canonical = {_normalise(c): c for c in class_names}
    with zipfile.ZipFile(zip_path) as archive:
        members, unsafe, links = [], [], []
        for info in archive.infolist():
            try:
                parts = _member_parts(info.filename)
            except OSError as exc:
                unsafe.append(str(exc))
                continue
            if info.is_dir() or not parts or any(_is_junk(p) for p in parts):
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                links.append(info.filename)
                continue
            members.append((info, parts))
        if unsafe:
            raise OSError(
                f"Refusing to extract {os.fspath(zip_path)!r}: its members could write outside "
                f"the target folder: {'; '.join(unsafe)}."
            )
        if links:
            warnings.warn(
                f"Skipped {len(links)} symbolic link(s) in {os.fspath(zip_path)!r}: "
                f"{', '.join(links)}",
                UserWarning,
                stacklevel=2,
            )

        tops = {parts[0] for _, parts in members}
        if (
            len(tops) == 1
            and all(len(parts) > 1 for _, parts in members)
            and _normalise(next(iter(tops))) not in canonical
        ):
            members = [(info, parts[1:]) for info, parts in members]

        _check_sizes(zip_path, members, max_bytes)
        budget = max_bytes
        dest = os.path.abspath(dest)
        for info, parts in members:
            parts = [canonical.get(_normalise(parts[0]), parts[0]), *parts[1:]]
            target = os.path.join(dest, *parts)
            # Belt and braces: _member_parts already refused anything that could escape.
            if os.path.commonpath([dest, os.path.abspath(target)]) != dest:
                raise OSError(f"Refusing to extract {info.filename!r} outside {dest!r}.")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as out:
                budget -= _copy_capped(src, out, min(budget, info.file_size), zip_path,
                                       info.filename)
    return len(members)
