"""Fuzzing ImageLoader with random and mangled files (hypothesis).

Whatever the bytes in a file, ImageLoader returns a valid uint8 array of the requested shape
or raises its own ImageLoadError naming that file: never another exception, a crash or a
hang.
"""

import io
import itertools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from skin_estimators.preprocessing import ImageLoader, ImageLoadError

SIZE = (12, 10)
FUZZ = settings(
    max_examples=100,
    deadline=2000,  # ms per example; a decode that takes seconds means something is wrong
    database=None,  # leave no .hypothesis folder behind
    suppress_health_check=[HealthCheck.too_slow],
)


def _encode(fmt, **kwargs):
    arr = np.random.RandomState(0).randint(0, 256, (24, 32, 3)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kwargs)
    return buf.getvalue()


VALID_JPEG = _encode("JPEG", quality=80)
VALID_PROGRESSIVE_JPEG = _encode("JPEG", quality=80, progressive=True)
VALID_PNG = _encode("PNG")

# Real file signatures, so that random tails reach the decoders and not just the format sniffing.
MAGIC = [
    b"\xff\xd8\xff\xe0",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"P6\n",
    b"\x00\x00\x00\x0cjP  \r\n\x87\n",
]

_counter = itertools.count()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _check(fuzz_dir, data, suffix=".jpg"):
    # A new name per example; the cache is bypassed since decoding is what is under test.
    path = str(fuzz_dir / f"case{next(_counter)}{suffix}")
    with open(path, "wb") as f:
        f.write(data)
    loader = ImageLoader(size=SIZE, cache=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd EXIF, bombs, ...
            X = loader.transform([path])
    except ImageLoadError as err:
        assert len(err.errors) == 1 and err.errors[0][0] == path
        assert path in str(err) and err.errors[0][1]
        return None
    assert X.shape == (1, *SIZE, 3) and X.dtype == np.uint8 and X.flags.c_contiguous
    return X


def _mangle(base, edits):
    """Apply (kind, position, payload) edits: flip a byte, insert bytes, delete, truncate."""
    data = bytearray(base)
    for kind, pos, payload in edits:
        pos %= max(len(data), 1)
        if kind == "flip" and data:
            data[pos] ^= payload[0] if payload else 0xFF
        elif kind == "insert":
            data[pos:pos] = payload
        elif kind == "delete":
            del data[pos : pos + 1 + len(payload)]
        elif kind == "truncate":
            del data[pos:]
    return bytes(data)


EDITS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "flip", "insert", "delete", "truncate"]),
        st.integers(0, 10**6),
        st.binary(min_size=1, max_size=8),
    ),
    min_size=1,
    max_size=6,
)


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(fuzz_dir, data):
    _check(fuzz_dir, data)


@pytest.mark.timeout(120)
@FUZZ
@given(magic=st.sampled_from(MAGIC), tail=st.binary(max_size=1024))
def test_format_signature_with_random_tail(fuzz_dir, magic, tail):
    _check(fuzz_dir, magic + tail, suffix=".img")


@pytest.mark.timeout(120)
@FUZZ
@given(base=st.sampled_from([VALID_JPEG, VALID_PROGRESSIVE_JPEG, VALID_PNG]), edits=EDITS)
def test_mangled_valid_images(fuzz_dir, base, edits):
    _check(fuzz_dir, _mangle(base, edits))


def test_unmangled_images_load(fuzz_dir):
    for base in [VALID_JPEG, VALID_PROGRESSIVE_JPEG, VALID_PNG]:
        assert _check(fuzz_dir, base) is not None
    assert _check(fuzz_dir, VALID_JPEG[: len(VALID_JPEG) // 2]) is None  # truncated
