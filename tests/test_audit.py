"""Tests for skin_estimators.audit and the ``audit`` command: planted shortcuts are found,
a clean data set is not flagged."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from skin_estimators.audit import audit_images, write_audit_report
from skin_estimators.cli import main

_CLASSES = ("acne", "herpes", "lichen")
_FAST = {"n_estimators": 30, "n_splits": 3, "image_size": 48}


def _photo(rng, width, height):
    """A smooth random 'photo': low-frequency colour blobs plus a little noise."""
    coarse = rng.integers(40, 220, (4, 4, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))
    noise = rng.normal(0, 6, smooth.shape)
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


def _dataset(root, plant=(), per_class=14, seed=0):
    """Three classes of smooth random photos in class folders, two photos per 'page'.

    ``plant`` may hold ``"geometry"`` (each class has its own image size), ``"mark"`` (the
    last class has a white square in the bottom-right corner, a watermark) and
    ``"duplicate"`` (one acne photo is also filed, recropped, as herpes). Without them,
    every class is drawn from the same distribution at one size.
    """
    rng = np.random.default_rng(seed)
    sizes = {"acne": (64, 48), "herpes": (48, 64), "lichen": (72, 72)}
    for k, name in enumerate(_CLASSES):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            w, h = sizes[name] if "geometry" in plant else (60, 60)
            img = _photo(rng, w, h)
            if "mark" in plant and name == "lichen":
                img[-h // 8:, -w // 8:] = 255
            Image.fromarray(img).save(folder / f"{k + 1}-{i // 2}-{i}.jpg", quality=90)
    if "duplicate" in plant:
        src = np.asarray(Image.open(root / "acne" / "1-0-0.jpg"))
        copy = Image.fromarray(src[2:-2, 3:]).resize(Image.open(root / "herpes" / "2-0-0.jpg").size)
        copy.save(root / "herpes" / "2-99.jpg", quality=80)
    return root


def _load(root):
    from skin_estimators.datasets import load_image_folder

    return load_image_folder(root)


def _audit(folder, **kwargs):
    data = _load(folder)
    return audit_images(data.filenames, data.target, data.groups, **_FAST, **kwargs)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A watermark in one class, and a copy of a photo in another class."""
    return _audit(_dataset(tmp_path_factory.mktemp("planted"), plant=("mark", "duplicate")),
                  controlled=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return _audit(_dataset(tmp_path_factory.mktemp("clean")))


def _row(rows, prop, protocol="group", **where):
    return next(r for r in rows if r["property"] == prop and r["protocol"] == protocol
                and all(r.get(k) == v for k, v in where.items()))


def test_planted_geometry_is_found(tmp_path):
    result = _audit(_dataset(tmp_path, plant=("geometry",)))
    assert result.protocols == ["stratified", "group"]
    for prop in ("aspect", "geometry (width, height, aspect)"):
        row = _row(result.shortcuts, prop)
        assert row["flagged"] and row["macro_recall"] > 0.9
        assert row["chance"] == pytest.approx(1 / 3, abs=1e-3)
    assert result.findings[0].startswith("SHORTCUT") and "aspect" in result.findings[0]


def test_planted_corner_mark_is_found(planted):
    corner = _row(planted.corner_probe, "bottom_right", inputs="uncontrolled")
    assert corner["flagged"] and corner["class_recall"]["lichen"] > 0.9
    others = [_row(planted.corner_probe, c, inputs="uncontrolled")["macro_recall"]
              for c in ("top_left", "top_right", "bottom_left")]
    assert corner["macro_recall"] > max(others)
    mark = next(line for line in planted.findings if line.startswith("CORNER MARK"))
    assert "bottom-right" in mark and "lichen" in mark


def test_planted_duplicate_across_classes_and_pages(planted):
    top = planted.duplicates[0]
    assert {top["a"], top["b"]} == {"acne/1-0-0.jpg", "herpes/2-99.jpg"}
    assert top["near_duplicate"] and top["cross_class"] and top["cross_page"]
    assert sum(d["near_duplicate"] for d in planted.duplicates) == 1
    assert "NEAR-DUPLICATE: acne/1-0-0.jpg and herpes/2-99.jpg" in "\n".join(planted.findings)


def test_controlled_inputs_remove_the_corner_mark(planted):
    # The mark is in the bottom 15 %, which the controlled pipeline cuts.
    for corners in ("bottom_right", "all corners"):
        assert _row(planted.corner_probe, corners, inputs="uncontrolled")["flagged"]
        assert not _row(planted.corner_probe, corners, inputs="controlled")["flagged"]
    assert any(line.startswith("No corner mark: corner probe on controlled inputs")
               for line in planted.findings)
    assert {r["inputs"] for r in planted.size_probe} <= {"uncontrolled", "controlled"}


def test_clean_data_is_not_flagged(clean):
    headline = [r for r in clean.shortcuts + clean.corner_probe if r["protocol"] == "group"]
    assert headline and not [r["property"] for r in headline if r["flagged"]]
    assert not any(d["near_duplicate"] for d in clean.duplicates)
    assert len(clean.duplicates) == 10
    assert clean.findings[0].startswith("No cheap file property")
    assert not any(line.split(":")[0].isupper() for line in clean.findings)
    # one image size: the size probe has nothing to tell apart
    assert clean.size_probe == [] and any("size probe skipped" in n for n in clean.notes)


def test_report_files(planted, tmp_path):
    paths = write_audit_report(planted, tmp_path / "out")
    names = sorted(os.path.basename(p) for p in paths)
    assert names == ["audit.json", "corners.png", "corners_controlled.png", "duplicates.png",
                     "report.md", "shortcuts.png"]
    doc = json.loads((tmp_path / "out" / "audit.json").read_text())
    row = doc["shortcuts"][0]
    assert {"property", "protocol", "macro_recall", "chance"} <= set(row)
    pair = doc["duplicates"][0]
    assert {"a", "b", "distance", "cross_page", "cross_class"} <= set(pair)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Shortcut baselines" in report and "herpes/2-99.jpg" in report


def test_parameters_are_checked(tmp_path):
    files = [tmp_path / "a.png", tmp_path / "b.png"]
    for f in files:
        Image.new("RGB", (16, 16)).save(f)
    with pytest.raises(ValueError, match="one label per image"):
        audit_images(files, ["a"])
    with pytest.raises(ValueError, match="at least 2 classes"):
        audit_images(files, ["a", "a"])
    with pytest.raises(ValueError, match="n_splits"):
        audit_images(files, ["a", "b"], n_splits=1)
    with pytest.raises(ValueError, match="margin"):
        audit_images(files, ["a", "b"], margin=2)


def test_too_few_images_for_cv_still_reports_duplicates(tmp_path):
    rng = np.random.default_rng(1)
    files = []
    for i in range(4):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(_photo(rng, 40, 40)).save(files[-1])
    result = audit_images(files, ["a", "b", "a", "b"], **_FAST)
    assert result.protocols == [] and result.shortcuts == []
    assert len(result.duplicates) == 6  # every pair of 4
    assert result.findings[0].startswith("No shortcut baseline or probe could be scored")


def test_audit_command(tmp_path, capsys):
    root = _dataset(tmp_path / "data", plant=("geometry", "duplicate"), per_class=8)
    code = main(["audit", str(root), "--out", str(tmp_path / "out"), "--no-pictures",
                 "--n-jobs", "1", "--image-size", "48", "--n-estimators", "30"])
    assert code == 0
    out = capsys.readouterr().out
    assert "SHORTCUT" in out and "NEAR-DUPLICATE" in out
    assert sorted(os.listdir(tmp_path / "out")) == ["audit.json", "report.md"]


def test_audit_command_bad_folder(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 1
    assert "does not exist" in capsys.readouterr().err
