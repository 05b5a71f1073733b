"""fetch_sd198: the local copy, and the download from a (fake, local) mirror."""

import csv
import functools
import http.server
import io
import os
import socket
import threading
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skin_estimators.datasets import _sd198, fetch_sd198

_REAL_DATA = os.environ.get("SKIN_ESTIMATORS_DATA")
_REAL_DATA = os.path.abspath(_REAL_DATA) if _REAL_DATA else None
needs_real_data = pytest.mark.skipif(
    _REAL_DATA is None or not Path(_REAL_DATA, "sd198_other").is_dir()
    or not Path(_REAL_DATA, "sd198").is_dir(),
    reason="needs the SD-198 photos: set SKIN_ESTIMATORS_DATA to a folder with sd198/ and "
           "sd198_other/",
)


def _jpeg(seed):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 37 % 256, seed * 11 % 256, 7)).save(buf, "JPEG")
    return buf.getvalue()


# A fake mirror: its raw_images/<Folder>/<file> layout, a name that needs quoting in a URL.
_FAKE = {
    "diseases": {"acne/a1.jpg": "raw_images/Acne_Vulgaris/a1.jpg",
                 "acne/a2.jpg": "raw_images/Acne_Vulgaris/a2.jpg",
                 "lichen_planus/l1.jpg": "raw_images/Lichen_Planus/l1.jpg"},
    "other": {"psoriasis/10257-Palm[1].Ps.jpg": "raw_images/Psoriasis/10257-Palm[1].Ps.jpg",
              "psoriasis/p2.jpg": "raw_images/Psoriasis/p2.jpg",
              "keloid/k1.jpg": "raw_images/Keloid/k1.jpg"},
}
_BYTES = {mirror: _jpeg(i) for i, mirror in
          enumerate(m for subset in _FAKE.values() for m in subset.values())}


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No SKIN_ESTIMATORS_DATA, a fresh home, the fake manifest, no way to reach the internet."""
    monkeypatch.delenv("SKIN_ESTIMATORS_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(_sd198, "_MIRROR_URL", f"http://127.0.0.1:{_closed_port()}/m/")
    manifest = tmp_path / "sd198_manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(_sd198.FIELDS)
        for subset, files in _FAKE.items():
            for path, mirror in files.items():
                data = _BYTES[mirror]
                from hashlib import sha256

                writer.writerow([subset, path, mirror, len(data), sha256(data).hexdigest()])
    monkeypatch.setattr(_sd198, "_MANIFEST_PATH", str(manifest))
    return tmp_path


class _Mirror(http.server.SimpleHTTPRequestHandler):
    """Serves the mirror's folder; ``truncate`` names files sent cut short (the connection
    closed after half the declared bytes)."""

    truncate = set()

    def log_message(self, *args):
        pass

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        if any(name == t for t in self.truncate):
            path = self.translate_path(self.path)
            data = Path(path).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """mirror(files, truncate=()): serve ``{mirror_path: bytes}`` under a local URL."""
    root = tmp_path / "www"
    handler = type("Handler", (_Mirror,), {"truncate": set()})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()

    def _serve(files, truncate=()):
        for rel, data in files.items():
            (root / "m" / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / "m" / rel).write_bytes(data)
        handler.truncate = set(truncate)
        monkeypatch.setattr(_sd198, "_MIRROR_URL",
                            f"http://127.0.0.1:{server.server_address[1]}/m/")

    yield _serve
    server.shutdown()
    server.server_close()
    thread.join()


def _rel(data, folder):
    return sorted(os.path.relpath(f, folder).replace(os.sep, "/") for f in data.filenames)


def test_download_checks_and_installs_both_subsets(isolated, mirror):
    mirror(_BYTES)
    home = isolated / "dh"
    other = fetch_sd198("other", data_home=home)
    assert _rel(other, home / "sd198_other") == sorted(_FAKE["other"])
    np.testing.assert_array_equal(other.groups, other.target)
    assert other.target_names.tolist() == ["keloid", "psoriasis"]
    assert other.DESCR.startswith("SD-198, 24 other conditions")
    diseases = fetch_sd198(data_home=home)
    assert _rel(diseases, home / "sd198") == sorted(_FAKE["diseases"])
    assert diseases.groups is None
    assert sorted(os.listdir(home)) == ["sd198", "sd198_other"]  # no .part folder left

    # Found again without the mirror.
    mirror({})
    again = fetch_sd198("other", data_home=home, download_if_missing=False)
    np.testing.assert_array_equal(again.filenames, other.filenames)


def test_download_to_the_default_data_home(isolated, mirror):
    mirror(_BYTES)
    data = fetch_sd198("diseases")
    home = isolated / "home" / "skin_estimators_data" / "sd198"
    assert all(f.startswith(str(home)) for f in data.filenames)


def test_checksum_mismatch_installs_nothing_and_names_the_file(isolated, mirror):
    files = dict(_BYTES)
    files["raw_images/Keloid/k1.jpg"] = _jpeg(99)
    mirror(files)
    home = isolated / "dh"
    with pytest.raises(OSError, match="1 file\\(s\\) downloaded .* do not match the SHA-256") \
            as excinfo:
        fetch_sd198("other", data_home=home)
    assert "keloid/k1.jpg" in str(excinfo.value)
    assert "SKIN_ESTIMATORS_DATA" in str(excinfo.value)
    assert not (home / "sd198_other").exists()
    assert not (home / ".sd198_other.part" / "keloid" / "k1.jpg").exists()


def test_partial_download_is_an_error_and_the_next_call_resumes(isolated, mirror):
    mirror(_BYTES, truncate={"p2.jpg"})
    home = isolated / "dh"
    with pytest.raises(OSError, match="could not be downloaded") as excinfo:
        fetch_sd198("other", data_home=home)
    message = str(excinfo.value)
    assert "p2.jpg" in message and "next call downloads the rest" in message
    assert not (home / "sd198_other").exists()
    part = home / ".sd198_other.part"
    assert not (part / "psoriasis" / "p2.jpg").exists()  # no truncated file kept
    kept = sorted(str(p.relative_to(part)) for p in part.rglob("*.jpg"))

    # The next call downloads only what is missing (and drops what a killed download left).
    (part / "psoriasis" / ".download-x.part").write_bytes(b"half")
    mirror({m: b for m, b in _BYTES.items() if m.endswith("p2.jpg")})
    for path in kept:  # gone from the mirror: they must come from the .part folder
        (isolated / "www" / "m" / _FAKE["other"][path]).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "skipped hidden files" warning
        data = fetch_sd198("other", data_home=home)
    assert _rel(data, home / "sd198_other") == sorted(_FAKE["other"])
    assert not part.exists()
    assert not list((home / "sd198_other").rglob(".download-*"))


def test_offline_error_says_where_to_put_the_data(isolated):
    home = isolated / "dh"
    with pytest.raises(OSError, match="could not be downloaded") as excinfo:
        fetch_sd198("diseases", data_home=home)
    message = str(excinfo.value)
    assert _sd198._MIRROR_URL in message
    assert repr(str(home / "sd198")) in message
    assert "SKIN_ESTIMATORS_DATA" in message
    assert not (home / "sd198").exists()


def test_not_found_without_download(isolated):
    with pytest.raises(FileNotFoundError, match="download_if_missing is False"):
        fetch_sd198("other", download_if_missing=False)
    assert not (isolated / "home").exists()  # looking creates no folder


def test_unknown_subset(isolated):
    with pytest.raises(ValueError, match="subset must be one of 'diseases', 'other'"):
        fetch_sd198("all")


def test_altered_local_copy_names_every_bad_image(isolated, mirror):
    mirror(_BYTES)
    home = isolated / "dh"
    fetch_sd198("diseases", data_home=home)
    (home / "sd198" / "acne" / "a1.jpg").write_bytes(_jpeg(50))
    (home / "sd198" / "acne" / "a2.jpg").unlink()
    with pytest.raises(OSError, match="2 problem") as excinfo:
        fetch_sd198("diseases", data_home=home)
    assert "altered" in str(excinfo.value) and "missing" in str(excinfo.value)


@needs_real_data
def test_real_copy_matches_the_committed_manifest(monkeypatch):
    monkeypatch.setenv("SKIN_ESTIMATORS_DATA", _REAL_DATA)
    diseases = fetch_sd198("diseases", download_if_missing=False)
    assert Counter(diseases.target.tolist()) == {"acne": 31, "herpes_simplex": 24,
                                                 "lichen_planus": 30}
    other = fetch_sd198("other", download_if_missing=False)
    assert len(other.filenames) == 715 and len(other.target_names) == 24
    assert not set(other.target_names) & set(diseases.target_names)
