"""Regression tests for hostile or careless inputs (issue 16): each case reproduces a failure
found by hand and checks the one-line error (or the safe behaviour) that replaced it."""

import io
import zipfile

import pytest

from skin_estimators.datasets._download import safe_extract_zip


def _zip(members, compression=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --- archives ---------------------------------------------------------------------------

def test_zip_bomb_member_is_refused_before_anything_is_written(tmp_path):
    # 200 MB of zeros compress to ~200 KB: the case from the issue.
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_zip({"acne/1-1.jpg": b"\0" * (200 << 20)}))
    assert archive.stat().st_size < 300_000
    with pytest.raises(OSError, match=r"bomb\.zip.*compressed .* times"):
        safe_extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_zip_over_the_total_size_limit_is_refused(tmp_path):
    archive = tmp_path / "big.zip"
    archive.write_bytes(_zip({"acne/a.jpg": b"x" * 4000, "herpes/b.jpg": b"y" * 4000},
                             compression=zipfile.ZIP_STORED))
    with pytest.raises(OSError, match=r"8,000 bytes, more than the limit of 5,000"):
        safe_extract_zip(archive, tmp_path / "out", max_bytes=5000)
    assert safe_extract_zip(archive, tmp_path / "ok", max_bytes=8000) == 2
