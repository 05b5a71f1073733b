"""Tests for skin_estimators.datasets: load_image_folder, fetch_skin3 and its download path."""

import functools
import http.server
import io
import os
import shutil
import socket
import stat
import threading
import warnings
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skin_estimators.datasets import _skin3, fetch_skin3, get_data_home, load_image_folder
from skin_estimators.datasets._download import safe_extract_zip
from skin_estimators.datasets._manifest import read_manifest, verify_folder, write_manifest

# Read once, before any test's monkeypatch removes it.
_REAL_DATA = os.environ.get("SKIN_ESTIMATORS_DATA")
# CI gives a relative path (../shared/data); the loader returns absolute paths.
_REAL_DATA = os.path.abspath(_REAL_DATA) if _REAL_DATA else None
_REAL_SKIN3 = Path(_REAL_DATA, "skin3") if _REAL_DATA else None
_CLASSES = ("acne", "herpes_simplex", "lichen_planus")

needs_real_data = pytest.mark.skipif(
    _REAL_SKIN3 is None or not _REAL_SKIN3.is_dir(),
    reason="needs the study's images: set SKIN_ESTIMATORS_DATA to a folder containing skin3/",
)


# ----------------------------------------------------------------------------- helpers


def _jpeg_bytes(seed=0, size=8):
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (seed * 37 % 256, seed * 11 % 256, 0)).save(buf, "JPEG")
    return buf.getvalue()


def _make_tree(root, rel_paths):
    """Write a tiny image (or a text file, for non-image names) at each relative path."""
    root = Path(root)
    for i, rel in enumerate(rel_paths):
        path = root / rel
        if rel.endswith("/"):  # an empty folder
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_jpeg_bytes(i))
    return root


def _zip_bytes(members, symlinks=()):
    """A zip of ``{name: bytes}``, plus symbolic-link members ``{name: target}``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in dict(symlinks).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


# A fake skin3: two tiny images per class, one name with a space, as in the real data.
_FAKE_FILES = {
    "acne/4-98.jpg": _jpeg_bytes(1),
    "acne/4-101_S.jpg": _jpeg_bytes(2),
    "herpes_simplex/8-67-1.jpg": _jpeg_bytes(3),
    "herpes_simplex/8-79.jpg": _jpeg_bytes(4),
    "lichen_planus/3-119-9 .jpg": _jpeg_bytes(5),
    "lichen_planus/3-116.jpg": _jpeg_bytes(6),
}


def _archive(files=_FAKE_FILES, top="data_3class_skin_diseases/"):
    """The published archive's layout: a top folder, plus the junk macOS zips carry."""
    members = {top + name: data for name, data in files.items()}
    members["__MACOSX/" + top + "acne/._4-98.jpg"] = b"\x00\x05\x16\x07resource fork"
    members[top + ".DS_Store"] = b"\x00\x00\x00\x01Bud1"
    return members


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No SKIN_ESTIMATORS_DATA, a fresh home folder, and no way to reach the internet."""
    monkeypatch.delenv("SKIN_ESTIMATORS_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(_skin3, "_ARCHIVE_URL", f"http://127.0.0.1:{_closed_port()}/x.zip")
    return tmp_path


@pytest.fixture
def fake_manifest(tmp_path, monkeypatch):
    """Make fetch_skin3 expect the fake dataset instead of the real one."""
    tree = tmp_path / "fake_source"
    for name, data in _FAKE_FILES.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
    manifest = tmp_path / "fake_manifest.csv"
    write_manifest(tree, manifest)
    monkeypatch.setattr(_skin3, "_MANIFEST_PATH", str(manifest))
    return manifest


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve(tmp_path, monkeypatch):
    """serve(zip_bytes): put the archive on a local HTTP server and point fetch_skin3 at it."""
    folder = tmp_path / "www"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    requests = []

    def _serve(data):
        (folder / "skin3.zip").write_bytes(data)
        url = f"http://127.0.0.1:{server.server_address[1]}/skin3.zip"
        monkeypatch.setattr(_skin3, "_ARCHIVE_URL", url)
        requests.append(url)
        return url

    yield _serve
    server.shutdown()
    server.server_close()
    thread.join()


# ----------------------------------------------------------------------------- load_image_folder


def test_order_is_class_then_file_name(tmp_path):
    root = _make_tree(tmp_path, ["b/2.png", "b/1.jpg", "a/z.jpg", "a/10-1.jpg", "a/1-1.jpg"])
    data = load_image_folder(root, groups=None)
    rel = [os.path.relpath(f, root) for f in data.filenames]
    assert rel == ["a/1-1.jpg", "a/10-1.jpg", "a/z.jpg", "b/1.jpg", "b/2.png"]
    assert data.target.tolist() == ["a", "a", "a", "b", "b"]
    assert data.target_names.tolist() == ["a", "b"]
    assert data.groups is None
    assert all(os.path.isabs(f) and os.path.isfile(f) for f in data.filenames)
    assert isinstance(data.filenames, np.ndarray) and data.filenames.dtype.kind == "U"
    assert data.target.dtype.kind == "U"
    assert "5 images in 2 classes (a 3, b 2)" in data.DESCR


def test_relative_root_gives_absolute_paths(tmp_path, monkeypatch):
    _make_tree(tmp_path / "data", ["a/1-1.jpg"])
    monkeypatch.chdir(tmp_path)
    data = load_image_folder("data")
    assert data.filenames.tolist() == [str(tmp_path / "data" / "a" / "1-1.jpg")]


def test_atlas_page_groups_and_spaces(tmp_path):
    names = ["acne/4-102-11.jpg", "acne/4-101_S.jpg", "acne/4-102.jpg", "lp/3-119-9 .jpg"]
    root = _make_tree(tmp_path, names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_image_folder(root)
    assert [Path(f).name for f in data.filenames] == [
        "4-101_S.jpg",
        "4-102-11.jpg",
        "4-102.jpg",
        "3-119-9 .jpg",
    ]
    assert data.groups.tolist() == ["4-101", "4-102", "4-102", "3-119"]
    assert os.path.isfile(data.filenames[-1])


def test_groups_callable_and_invalid(tmp_path):
    root = _make_tree(tmp_path, ["a/x_1.jpg", "a/x_2.jpg", "b/y_1.jpg"])
    data = load_image_folder(root, groups=lambda name: name.split("_")[0])
    assert data.groups.tolist() == ["x", "x", "y"]
    with pytest.raises(ValueError, match="groups must be 'atlas_page', a callable or None"):
        load_image_folder(root, groups="patient")


def test_groups_fall_back_to_file_stem_with_a_warning(tmp_path):
    root = _make_tree(tmp_path, ["a/4-1-2.jpg", "a/IMG_0001.JPG", "b/photo 2.png"])
    with pytest.warns(UserWarning, match="do not start with an atlas page") as record:
        data = load_image_folder(root)
    assert len(record) == 1
    message = str(record[0].message)
    assert "'IMG_0001.JPG'" in message and "'photo 2.png'" in message
    assert "4-1-2.jpg" not in message
    assert data.groups.tolist() == ["4-1", "IMG_0001", "photo 2"]


def test_hidden_macosx_and_non_images_are_skipped_in_one_warning(tmp_path):
    root = _make_tree(
        tmp_path,
        [
            "acne/4-1.jpg",
            "acne/4-2.JPEG",
            "acne/4-3 copy.Png",
            "acne/.DS_Store",
            "acne/._4-1.jpg",
            "acne/notes.txt",
            "acne/nested/4-9.jpg",
            "herpes/8-1.tif",
            "herpes/8-2.webp",
            "herpes/8-3.bmp",
            "herpes/8-4.gif",
            "herpes/8-5.tiff",
            "__MACOSX/acne/._4-1.jpg",
            ".hidden_class/4-7.jpg",
            "README.md",
            "loose-1.jpg",
        ],
    )
    with pytest.warns(UserWarning, match="skipped 8 item") as record:
        data = load_image_folder(root)
    assert len(record) == 1
    message = str(record[0].message)
    for skipped in [
        "acne/.DS_Store",
        "acne/._4-1.jpg",
        "acne/notes.txt",
        "acne/nested",
        "__MACOSX",
        ".hidden_class",
        "README.md",
        "loose-1.jpg",
    ]:
        assert repr(skipped) in message
    assert str(root) in message
    assert [Path(f).name for f in data.filenames] == [
        "4-1.jpg",
        "4-2.JPEG",
        "4-3 copy.Png",
        "8-1.tif",
        "8-2.webp",
        "8-3.bmp",
        "8-4.gif",
        "8-5.tiff",
    ]
    assert data.target_names.tolist() == ["acne", "herpes"]


def test_empty_class_folder_is_an_error_naming_it(tmp_path):
    root = _make_tree(tmp_path, ["acne/4-1.jpg", "empty/", "only_text/readme.txt"])
    with pytest.warns(UserWarning, match="only_text/readme.txt"):
        with pytest.raises(ValueError, match="hold no image") as excinfo:
            load_image_folder(root)
    assert str(root / "empty") in str(excinfo.value)
    assert str(root / "only_text") in str(excinfo.value)


def test_missing_root_file_root_and_root_without_classes(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        load_image_folder(missing)
    file_root = tmp_path / "file.jpg"
    file_root.write_bytes(b"x")
    with pytest.raises(NotADirectoryError, match=str(file_root)):
        load_image_folder(file_root)
    flat = _make_tree(tmp_path / "flat", ["1-1.jpg", "1-2.jpg"])
    with pytest.warns(UserWarning, match="skipped 2"):
        with pytest.raises(ValueError, match=f"{flat}.* holds no class folder"):
            load_image_folder(flat)
    (tmp_path / "bare").mkdir()
    with pytest.raises(ValueError, match="holds no class folder"):
        load_image_folder(tmp_path / "bare")


@needs_real_data
def test_real_data_counts_groups_and_spaces():
    data = load_image_folder(_REAL_SKIN3)
    assert data.target_names.tolist() == list(_CLASSES)
    assert Counter(data.target.tolist()) == {"acne": 40, "herpes_simplex": 16, "lichen_planus": 46}
    assert len(set(data.groups.tolist())) == 36
    pages = {c: len(set(data.groups[data.target == c])) for c in _CLASSES}
    assert pages == {"acne": 16, "herpes_simplex": 5, "lichen_planus": 15}
    spaced = sorted(Path(f).name for f in data.filenames if " " in Path(f).name)
    assert spaced == ["3-119-14 .jpg", "3-119-6 .jpg", "3-119-9 .jpg"]
    assert list(data.filenames) == sorted(
        data.filenames, key=lambda f: (Path(f).parent.name, Path(f).name)
    )


# ----------------------------------------------------------------------------- manifest


@needs_real_data
def test_committed_manifest_matches_the_real_data():
    manifest = read_manifest(_skin3._MANIFEST_PATH)
    assert len(manifest) == 102
    assert Counter(c for c, _ in manifest.values()) == {
        "acne": 40,
        "herpes_simplex": 16,
        "lichen_planus": 46,
    }
    assert verify_folder(str(_REAL_SKIN3), manifest) == []


def test_manifest_with_wrong_columns_is_refused(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("file,sha\nacne/1.jpg,abc\n")
    with pytest.raises(ValueError, match="path, class, sha256"):
        read_manifest(bad)


def test_get_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == str(tmp_path / "skin_estimators_data")
    assert (tmp_path / "skin_estimators_data").is_dir()
    assert get_data_home(tmp_path / "x") == str(tmp_path / "x")


# ----------------------------------------------------------------------------- fetch_skin3, local


@needs_real_data
def test_fetch_via_environment_variable(isolated, monkeypatch):
    monkeypatch.setenv("SKIN_ESTIMATORS_DATA", _REAL_DATA)
    data = fetch_skin3()
    expected = load_image_folder(_REAL_SKIN3)
    for key in ("filenames", "target", "target_names"):
        np.testing.assert_array_equal(data[key], expected[key])
    np.testing.assert_array_equal(data.groups, _skin3._merge_duplicate_pages(expected.groups))
    assert data.DESCR.startswith("Skin diseases, 3 classes (skin3)")
    assert not (isolated / "home").exists()  # looking creates no folder


@needs_real_data
@pytest.mark.parametrize("layout", ["holds_skin3", "is_the_tree", "extracted_archive"])
def test_fetch_via_data_home(isolated, layout):
    if layout == "holds_skin3":
        data_home = _REAL_DATA
    elif layout == "is_the_tree":
        data_home = str(_REAL_SKIN3)
    else:
        data_home = isolated / "dh"
        data_home.mkdir()
        (data_home / "data_3class_skin_diseases").symlink_to(_REAL_SKIN3)
    data = fetch_skin3(data_home=data_home, download_if_missing=False)
    assert len(data.filenames) == 102
    assert all(str(f).startswith(str(data_home)) for f in data.filenames)


@needs_real_data
def test_fetch_merges_the_pages_that_share_a_photograph(isolated, monkeypatch):
    # 4-105-7.jpg and 4-110.jpg are the same photograph on two atlas pages: grouped CV must
    # keep them (and their page mates) on one side of every split.
    monkeypatch.setenv("SKIN_ESTIMATORS_DATA", _REAL_DATA)
    data = fetch_skin3()
    names = [Path(f).name for f in data.filenames]
    group_of = dict(zip(names, data.groups.tolist(), strict=True))
    assert group_of["4-105-7.jpg"] == group_of["4-110.jpg"] == group_of["4-105.jpg"]
    assert group_of["4-102-4.jpg"] == group_of["4-102-9.jpg"] == group_of["4-102.jpg"]
    assert len(set(data.groups.tolist())) == 35
    pages = {c: len(set(data.groups[data.target == c].tolist())) for c in _CLASSES}
    assert pages == {"acne": 15, "herpes_simplex": 5, "lichen_planus": 15}
    assert "35 distinct groups" in data.DESCR
    # Pages that hold no shared photograph keep their own group.
    assert group_of["4-102-4.jpg"] == "4-102"


@needs_real_data
def test_data_home_without_data_falls_back_to_the_environment_variable(isolated, monkeypatch):
    monkeypatch.setenv("SKIN_ESTIMATORS_DATA", _REAL_DATA)
    data_home = isolated / "empty_home"
    data = fetch_skin3(data_home=data_home)
    assert data.filenames[0].startswith(str(_REAL_SKIN3))
    assert not data_home.exists()


@needs_real_data
def test_tampered_copy_names_every_bad_image(isolated):
    data_home = isolated / "dh"
    shutil.copytree(_REAL_SKIN3, data_home / "skin3")
    altered = data_home / "skin3" / "acne" / "4-100.jpg"
    raw = bytearray(altered.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    altered.write_bytes(bytes(raw))
    deleted = data_home / "skin3" / "lichen_planus" / "3-119-9 .jpg"
    deleted.unlink()
    extra = data_home / "skin3" / "herpes_simplex" / "8-99.jpg"
    extra.write_bytes(_jpeg_bytes())
    with pytest.raises(OSError, match="3 problem") as excinfo:
        fetch_skin3(data_home=data_home)
    message = str(excinfo.value)
    assert f"altered:    {altered}" in message
    assert f"missing:    {deleted}" in message
    assert f"unexpected: {extra}" in message
    assert "call fetch_skin3() to download a fresh copy" in message


def test_not_found_without_download(isolated, fake_manifest):
    with pytest.raises(FileNotFoundError, match="download_if_missing is False") as excinfo:
        fetch_skin3(download_if_missing=False)
    message = str(excinfo.value)
    assert "SKIN_ESTIMATORS_DATA" in message
    assert repr(str(isolated / "home" / "skin_estimators_data" / "skin3")) in message
    assert not (isolated / "home").exists()


# ----------------------------------------------------------------------------- fetch_skin3, download


def _leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name != "skin3")


def test_download_extract_verify(isolated, fake_manifest, serve):
    serve(_zip_bytes(_archive()))
    data_home = isolated / "dh"
    data = fetch_skin3(data_home=data_home)
    assert [os.path.relpath(f, data_home / "skin3") for f in data.filenames] == sorted(_FAKE_FILES)
    assert data.groups.tolist() == ["4-101", "4-98", "8-67", "8-79", "3-116", "3-119"]
    assert sorted(os.listdir(data_home / "skin3")) == list(_CLASSES)  # no __MACOSX, .DS_Store
    assert _leftovers(data_home) == []  # no archive, .part or staging folder

    # The second call finds the copy and does not download.
    serve(b"not a zip")
    again = fetch_skin3(data_home=data_home)
    np.testing.assert_array_equal(again.filenames, data.filenames)


def test_download_to_default_data_home(isolated, fake_manifest, serve):
    serve(_zip_bytes(_archive()))
    data = fetch_skin3()
    home = isolated / "home" / "skin_estimators_data" / "skin3"
    assert all(f.startswith(str(home)) for f in data.filenames)


@pytest.mark.parametrize(
    "evil",
    ["../evil.jpg", "data_3class_skin_diseases/acne/../../../evil.jpg", "ABSOLUTE", "..\\evil.jpg"],
)
def test_path_traversal_archive_is_refused(isolated, fake_manifest, serve, evil):
    if evil == "ABSOLUTE":
        evil = str(isolated / "evil.jpg")
    serve(_zip_bytes({**_archive(), evil: b"pwned"}))
    data_home = isolated / "dh" / "inner"
    with pytest.raises(OSError, match="Refusing to extract") as excinfo:
        fetch_skin3(data_home=data_home)
    assert repr(evil) in str(excinfo.value)
    assert not (isolated / "evil.jpg").exists()
    assert not (isolated / "dh" / "evil.jpg").exists()
    assert _leftovers(data_home) == [] and not (data_home / "skin3").exists()


def test_symlinks_in_archive_are_skipped(isolated, fake_manifest, serve):
    serve(
        _zip_bytes(_archive(), symlinks={"data_3class_skin_diseases/acne/4-1.jpg": "/etc/passwd"})
    )
    with pytest.warns(UserWarning, match="Skipped 1 symbolic link.*acne/4-1.jpg"):
        data = fetch_skin3(data_home=isolated / "dh")
    assert len(data.filenames) == len(_FAKE_FILES)
    assert not (isolated / "dh" / "skin3" / "acne" / "4-1.jpg").exists()


def test_wrong_archive_is_not_installed(isolated, fake_manifest, serve):
    files = dict(_FAKE_FILES)
    del files["herpes_simplex/8-79.jpg"]
    files["acne/4-98.jpg"] = _jpeg_bytes(99)
    serve(_zip_bytes(_archive(files)))
    data_home = isolated / "dh"
    with pytest.raises(OSError, match="2 problem") as excinfo:
        fetch_skin3(data_home=data_home)
    message = str(excinfo.value)
    assert "herpes_simplex/8-79.jpg" in message and "acne/4-98.jpg" in message
    assert "is not the expected one" in message
    assert _leftovers(data_home) == [] and not (data_home / "skin3").exists()


def test_not_a_zip_is_a_clear_error(isolated, fake_manifest, serve):
    url = serve(b"<html>rate limited</html>")
    with pytest.raises(OSError, match=f"\\(from {url}\\) is not a zip"):
        fetch_skin3(data_home=isolated / "dh")
    assert _leftovers(isolated / "dh") == []


def test_archive_put_there_by_hand_is_used_and_kept(isolated, fake_manifest):
    # isolated points the URL at a closed port: this works offline.
    data_home = isolated / "dh"
    data_home.mkdir()
    archive = data_home / "data_3class_skin_diseases.zip"
    archive.write_bytes(_zip_bytes(_archive()))
    data = fetch_skin3(data_home=data_home)
    assert len(data.filenames) == len(_FAKE_FILES)
    assert _leftovers(data_home) == [archive.name]


def test_offline_error_says_where_to_put_the_data(isolated, fake_manifest):
    data_home = isolated / "dh"
    with pytest.raises(OSError, match="could not be downloaded") as excinfo:
        fetch_skin3(data_home=data_home)
    message = str(excinfo.value)
    assert _skin3._ARCHIVE_URL in message
    assert repr(str(data_home / "skin3")) in message
    assert "SKIN_ESTIMATORS_DATA" in message
    assert _leftovers(data_home) == []


def test_class_folder_names_are_mapped_and_top_folder_dropped(tmp_path):
    members = {
        "dataset/Acne/1-1.jpg": b"a",
        "dataset/Herpes Simplex/2-1.jpg": b"b",
        "dataset/lichen-planus/3-1.jpg": b"c",
    }
    zip_path = tmp_path / "a.zip"
    zip_path.write_bytes(_zip_bytes(members))
    assert safe_extract_zip(zip_path, tmp_path / "out", class_names=_CLASSES) == 3
    assert sorted(os.listdir(tmp_path / "out")) == list(_CLASSES)


@needs_real_data
def test_download_of_the_real_images(isolated, serve):
    # The published archive's layout built from the real images: checks the committed manifest
    # end to end (about 13 MB, stored uncompressed, well under a second).
    members = {
        f"data_3class_skin_diseases/{p.parent.name}/{p.name}": p.read_bytes()
        for p in sorted(_REAL_SKIN3.glob("*/*.jpg"))
    }
    serve(_zip_bytes(members))
    data = fetch_skin3(data_home=isolated / "dh")
    expected = load_image_folder(_REAL_SKIN3)
    np.testing.assert_array_equal(data.target, expected.target)
    np.testing.assert_array_equal(data.groups, _skin3._merge_duplicate_pages(expected.groups))
