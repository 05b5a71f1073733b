"""Tests of ImageLoader and ChannelNormalizer (skin_estimators.preprocessing)."""

import glob
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_estimator
from sklearn.utils.validation import check_is_fitted

import skin_estimators
from skin_estimators.preprocessing import (
    CONTROLLED_INPUTS,
    MIN_IMAGE_SIZE,
    NORMALIZATION_PRESETS,
    ChannelNormalizer,
    ImageLoader,
    ImageLoadError,
    _decode,
    _normalizer,
    clear_image_cache,
    image_cache_info,
    set_image_cache_max_bytes,
)
from skin_estimators.preprocessing._expected_checks import expected_failed_checks

DATA = os.environ.get("SKIN_ESTIMATORS_DATA")


# ---------------------------------------------------------------------------- helpers
@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_image_cache()
    yield
    clear_image_cache()


def _save(im, path, **kwargs):
    im.save(path, **kwargs)
    return str(path)


def _jpeg(tmp_path, name="a.jpg", size=(32, 24), color=(200, 100, 50)):
    return _save(Image.new("RGB", size, color), tmp_path / name, quality=95)


def _noise_jpeg(tmp_path, name="noise.jpg", size=(64, 48), seed=0):
    arr = np.random.RandomState(seed).randint(0, 256, (size[1], size[0], 3)).astype(np.uint8)
    return _save(Image.fromarray(arr), tmp_path / name, quality=90)


def _load_error(loader, X):
    with pytest.raises(ImageLoadError) as info:
        loader.transform(X)
    return info.value


# ---------------------------------------------------------------------------- ImageLoader: basics
def test_public_names_at_top_level():
    assert skin_estimators.ImageLoader is ImageLoader
    assert skin_estimators.ChannelNormalizer is ChannelNormalizer
    assert skin_estimators.ImageLoadError is ImageLoadError


def test_output_shape_dtype_layout(tmp_path):
    paths = [_jpeg(tmp_path, "a.jpg", (40, 30)), Path(_jpeg(tmp_path, "b.jpg", (20, 50)))]
    X = ImageLoader(size=16).fit_transform(paths)
    assert X.shape == (2, 16, 16, 3) and X.dtype == np.uint8
    assert X.flags.c_contiguous
    assert ImageLoader(size=(10, 20)).transform(paths).shape == (2, 10, 20, 3)
    assert ImageLoader(size=[12, 8]).transform(paths).shape == (2, 12, 8, 3)


def test_stretch_matches_plain_pillow_resize(tmp_path):
    # "stretch" is the study's torchvision Resize((H, W)): Pillow bilinear, nothing else.
    path = _noise_jpeg(tmp_path, size=(64, 48))
    expected = np.asarray(Image.open(path).convert("RGB").resize((20, 16), Image.BILINEAR))
    np.testing.assert_array_equal(ImageLoader(size=(16, 20)).transform([path])[0], expected)
    bicubic = np.asarray(Image.open(path).convert("RGB").resize((20, 16), Image.BICUBIC))
    out = ImageLoader(size=(16, 20), interpolation="bicubic").transform([path])[0]
    np.testing.assert_array_equal(out, bicubic)


def _alpha_over_white(value, alpha):
    return round(value * alpha / 255 + 255 * (1 - alpha / 255))


def _palette_with_transparency():
    im = Image.new("P", (16, 16), 0)
    im.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)  # index 0 black, index 1 green
    im.paste(1, (8, 0, 16, 16))  # right half green
    im.info["transparency"] = 0  # left half transparent
    return im


def _sixteen_bit(value, mode):
    im = Image.fromarray(np.full((16, 16), value, dtype=np.uint16))
    return im if mode == "I;16" else im.convert("I")


COLOUR_CASES = {
    # name: (image factory, file name, save kwargs, expected RGB at the left, at the right)
    "L": (lambda: Image.new("L", (16, 16), 100), "g.png", {}, (100,) * 3, (100,) * 3),
    "1": (lambda: Image.new("1", (16, 16), 1), "b.png", {}, (255,) * 3, (255,) * 3),
    "LA-opaque": (
        lambda: Image.new("LA", (16, 16), (100, 255)),
        "la.png",
        {},
        (100,) * 3,
        (100,) * 3,
    ),
    "LA-transparent": (
        lambda: Image.new("LA", (16, 16), (100, 0)),
        "la0.png",
        {},
        (255,) * 3,
        (255,) * 3,
    ),
    "RGBA-half": (
        lambda: Image.new("RGBA", (16, 16), (10, 20, 30, 128)),
        "rgba.png",
        {},
        tuple(_alpha_over_white(v, 128) for v in (10, 20, 30)),
        tuple(_alpha_over_white(v, 128) for v in (10, 20, 30)),
    ),
    "P-transparency": (_palette_with_transparency, "p.png", {}, (255,) * 3, (0, 200, 0)),
    "L-transparent-colour": (
        lambda: Image.new("L", (16, 16), 50),
        "lt.png",
        {"transparency": 50},
        (255,) * 3,
        (255,) * 3,
    ),
    "CMYK-jpeg": (
        lambda: Image.new("CMYK", (16, 16), (0, 255, 255, 0)),
        "c.jpg",
        {"quality": 100},
        (255, 0, 0),
        (255, 0, 0),
    ),
    "I;16-png": (lambda: _sixteen_bit(32768, "I;16"), "i16.png", {}, (128,) * 3, (128,) * 3),
    "I;16-low": (lambda: _sixteen_bit(1000, "I;16"), "low.png", {}, (4,) * 3, (4,) * 3),
    "I-tiff": (lambda: _sixteen_bit(65535, "I"), "i.tif", {}, (255,) * 3, (255,) * 3),
    "RGB-bmp": (lambda: Image.new("RGB", (16, 16), (1, 2, 3)), "c.bmp", {}, (1, 2, 3), (1, 2, 3)),
}


@pytest.mark.parametrize("case", list(COLOUR_CASES))
def test_colour_modes_become_rgb(tmp_path, case):
    factory, name, kwargs, left, right = COLOUR_CASES[case]
    im = factory()
    path = _save(im, tmp_path / name, **kwargs)
    if case.startswith(("I;16", "I-")):
        assert Image.open(path).mode in ("I;16", "I")  # the case really is 16/32-bit
    if case == "CMYK-jpeg":
        assert Image.open(path).mode == "CMYK"
    X = ImageLoader(size=16).transform([path])
    assert X.shape == (1, 16, 16, 3)
    np.testing.assert_allclose(X[0, 8, 2], left, atol=2)
    np.testing.assert_allclose(X[0, 8, 13], right, atol=2)


def test_exif_orientation_is_applied(tmp_path):
    # Stored 40 wide x 20 high, left half red, right half blue; orientation 6 means "rotate
    # 90 degrees clockwise to display": 20 wide x 40 high, red on top.
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(im, tmp_path / "rotated.jpg", exif=exif, quality=95)
    X = ImageLoader(size=(40, 20)).transform([path])[0]
    assert X.shape == (40, 20, 3)
    np.testing.assert_allclose(X[5, 10], (255, 0, 0), atol=8)
    np.testing.assert_allclose(X[35, 10], (0, 0, 255), atol=8)


def test_exif_orientation_with_draft_decoding(tmp_path):
    # A large sideways JPEG and a small target: draft decoding must account for the rotation.
    rng = np.random.RandomState(0)
    arr = np.kron(rng.randint(0, 256, (30, 60, 3)), np.ones((10, 10, 1))).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 8
    path = _save(Image.fromarray(arr), tmp_path / "big.jpg", exif=exif, quality=95)
    fast = ImageLoader(size=(64, 32), cache=False).transform([path])[0]
    full = np.asarray(ImageOps.exif_transpose(Image.open(path)).resize((32, 64), Image.BILINEAR))
    assert fast.shape == full.shape == (64, 32, 3)
    assert np.abs(fast.astype(int) - full).mean() < 2


def test_draft_decoding_changes_little(tmp_path, monkeypatch):
    rng = np.random.RandomState(1)
    arr = np.kron(rng.randint(0, 256, (40, 60, 3)), np.ones((16, 16, 1))).astype(np.uint8)
    path = _save(Image.fromarray(arr), tmp_path / "big.jpg", quality=95)  # 960 x 640
    for resize in ["stretch", "pad", "crop"]:
        fast = ImageLoader(size=64, resize=resize, cache=False).transform([path])
        monkeypatch.setattr(_decode, "_USE_DRAFT", False)
        full = ImageLoader(size=64, resize=resize, cache=False).transform([path])
        monkeypatch.setattr(_decode, "_USE_DRAFT", True)
        assert np.abs(fast.astype(int) - full).mean() < 2, resize


def test_resize_modes(tmp_path):
    wide = _save(Image.new("RGB", (40, 20), (200, 50, 50)), tmp_path / "wide.png")
    pad = ImageLoader(size=16, resize="pad").transform([wide])[0]
    np.testing.assert_array_equal(pad[0, 8], (0, 0, 0))  # black border above
    np.testing.assert_array_equal(pad[15, 8], (0, 0, 0))  # and below
    np.testing.assert_array_equal(pad[8, 0], (200, 50, 50))  # full width kept
    np.testing.assert_array_equal(pad[8, 8], (200, 50, 50))

    bands = Image.new("RGB", (60, 20), (255, 0, 0))
    bands.paste((0, 255, 0), (20, 0, 40, 20))
    bands.paste((0, 0, 255), (40, 0, 60, 20))
    path = _save(bands, tmp_path / "bands.png")
    crop = ImageLoader(size=16, resize="crop").transform([path])[0]
    np.testing.assert_allclose(
        crop[2:14, 2:14], np.broadcast_to((0, 255, 0), (12, 12, 3)), atol=1
    )  # only the centre (green) band is left
    stretch = ImageLoader(size=16, resize="stretch").transform([path])[0]
    np.testing.assert_array_equal(stretch[8, 1], (255, 0, 0))  # everything squeezed in
    np.testing.assert_array_equal(stretch[8, 14], (0, 0, 255))
    for resize in ["stretch", "pad", "crop"]:
        assert ImageLoader(size=(12, 30), resize=resize).transform([path]).shape == (1, 12, 30, 3)


# ---------------------------------------------------------------------------- ImageLoader: errors
def _truncated_jpeg(tmp_path):
    data = Path(_noise_jpeg(tmp_path, "full.jpg")).read_bytes()
    path = tmp_path / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def _corrupt_jpeg(tmp_path):
    # libjpeg shrugs off garbage in the compressed data; an impossible Huffman table (its
    # 16 code-length counts set to 255) is a hard error, found only when decoding.
    data = Path(_noise_jpeg(tmp_path, "ok.jpg")).read_bytes()
    at = data.find(b"\xff\xc4") + 5
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(data[:at] + b"\xff" * 16 + data[at + 16 :])
    return str(path)


def _text_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo\n")
    return str(path)


def _empty(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    return str(path)


def _tiny(tmp_path):
    return _save(Image.new("RGB", (1, 1), (9, 9, 9)), tmp_path / "tiny.png")


def _thin(tmp_path):
    return _save(Image.new("RGB", (100, 7), (9, 9, 9)), tmp_path / "thin.png")


BAD_FILES = {
    "missing": (lambda p: str(p / "nope.jpg"), "file not found"),
    "directory": (lambda p: str(p), "directory"),
    "zero bytes": (_empty, "empty file"),
    "text named .jpg": (_text_jpg, "not an image file"),
    "truncated jpeg": (_truncated_jpeg, "truncated"),
    "corrupt jpeg": (_corrupt_jpeg, "corrupt"),
    "1x1 image": (_tiny, "only 1x1 pixels"),
    "100x7 image": (_thin, "at least 8x8"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_an_error_naming_it(tmp_path, case):
    make, reason = BAD_FILES[case]
    good = _jpeg(tmp_path, "good.jpg")
    bad = make(tmp_path)
    err = _load_error(ImageLoader(size=16), [good, bad])
    assert isinstance(err, ValueError)
    assert err.errors == [(bad, err.errors[0][1])]
    assert reason in err.errors[0][1]
    assert bad in str(err) and "1 of 2 images" in str(err)


def test_truncated_jpeg_is_not_grey_filled(tmp_path):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    _load_error(ImageLoader(size=16), [_truncated_jpeg(tmp_path)])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_minimum_size_is_accepted(tmp_path):
    path = _save(Image.new("RGB", (MIN_IMAGE_SIZE, MIN_IMAGE_SIZE), (9, 8, 7)), tmp_path / "m.png")
    assert ImageLoader(size=32).transform([path]).shape == (1, 32, 32, 3)


def test_all_bad_files_are_listed(tmp_path):
    good = _jpeg(tmp_path, "good.jpg")
    bad = [make(tmp_path) for make, _ in BAD_FILES.values()]
    X = [bad[0], good, *bad[1:], good]
    for n_jobs in [1, 2]:
        err = _load_error(ImageLoader(size=16, n_jobs=n_jobs), X)
        assert [name for name, _ in err.errors] == bad  # in input order, the good ones absent
        assert f"{len(bad)} of {len(X)} images" in str(err)
        assert all(name in str(err) for name in bad)


def test_load_error_pickles_with_its_list():
    err = ImageLoadError([("a.jpg", "file not found"), ("b.jpg", "truncated")], n_total=5)
    again = pickle.loads(pickle.dumps(err))
    assert again.errors == err.errors and str(again) == str(err)


def test_long_error_lists_are_shortened_in_the_message_only(tmp_path):
    missing = [str(tmp_path / f"missing{i}.jpg") for i in range(80)]
    err = _load_error(ImageLoader(size=16), missing)
    assert len(err.errors) == 80
    assert "and 30 more" in str(err)


def test_decompression_bomb_limit_is_kept(tmp_path, monkeypatch):
    assert Image.MAX_IMAGE_PIXELS is not None  # importing the library did not disable it
    warned = _save(Image.new("RGB", (40, 40)), tmp_path / "warned.png")  # 1600 px
    refused = _save(Image.new("RGB", (100, 100)), tmp_path / "refused.png")  # 10000 px
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        err = _load_error(ImageLoader(size=16), [warned, refused])
    assert [name for name, _ in err.errors] == [warned, refused]
    assert all("MAX_IMAGE_PIXELS" in reason for _, reason in err.errors)


def test_bad_in_memory_images_are_named_by_index():
    images = [
        np.zeros((16, 16, 3), np.uint8),
        np.full((16, 16, 3), 2.0),
        None,
        np.zeros((16, 16, 5), np.uint8),
        np.full((16, 16), np.nan),
        np.zeros((4, 4)),
    ]
    err = _load_error(ImageLoader(size=8), images)
    assert [name for name, _ in err.errors] == ["X[1]", "X[2]", "X[3]", "X[4]", "X[5]"]
    reasons = " ".join(reason for _, reason in err.errors)
    for part in ["[0, 1]", "NoneType", "(16, 16, 5)", "NaN", "4x4"]:
        assert part in reasons


# ---------------------------------------------------------------------------- ImageLoader: inputs
def test_path_containers(tmp_path):
    pd = pytest.importorskip("pandas")

    paths = [_jpeg(tmp_path, "a.jpg"), _jpeg(tmp_path, "b b.jpg", color=(0, 0, 255))]
    expected = ImageLoader(size=16).transform(paths)
    column = np.array(paths, dtype=object).reshape(-1, 1)
    for X in [
        tuple(paths),
        [Path(p) for p in paths],
        np.array(paths),
        column,
        [[p] for p in paths],
        pd.Series(paths),
        pd.DataFrame({"path": paths}),
        [os.fsencode(p) for p in paths],
    ]:
        np.testing.assert_array_equal(ImageLoader(size=16).transform(X), expected)
    loader = ImageLoader(size=16).fit(column)
    assert loader.n_features_in_ == 1
    assert not hasattr(ImageLoader(size=16).fit(paths), "n_features_in_")


@pytest.mark.parametrize(
    "X, match",
    [
        ("photo.jpg", "single str"),
        (Path("photo.jpg"), "single"),
        ([], "0 images"),
        (np.zeros((5, 2)), "numeric array of shape"),
        (np.zeros(5), "numeric array of shape"),
        (np.array([["a.jpg", "b.jpg"]], dtype=object), "column"),
        (np.zeros((2, 8, 8, 3), dtype=bool), "dtype bool"),
        (42, "list of file paths"),
    ],
)
def test_bad_containers(X, match):
    with pytest.raises(ValueError, match=match):
        ImageLoader(size=16).fit(X)
    with pytest.raises(ValueError, match=match):
        ImageLoader(size=16).transform(X)


def test_dataframe_with_two_columns_is_an_error():
    pd = pytest.importorskip("pandas")

    with pytest.raises(ValueError, match="single column"):
        ImageLoader().fit(pd.DataFrame({"a": ["x.jpg"], "b": ["y.jpg"]}))


def test_oversampling_in_front_of_the_loader(tmp_path):
    from imblearn.over_sampling import RandomOverSampler

    paths = np.array(
        [_jpeg(tmp_path, f"{i}.jpg", color=(i, 0, 0)) for i in range(5)], dtype=object
    ).reshape(-1, 1)
    y = np.array(["a", "a", "a", "a", "b"])
    X_res, y_res = RandomOverSampler(random_state=0).fit_resample(paths, y)
    images = ImageLoader(size=8).transform(X_res)
    assert images.shape == (8, 8, 8, 3)
    assert (images[y_res == "b", 0, 0, 0] == images[4, 0, 0, 0]).all()


def test_image_arrays(tmp_path):
    rng = np.random.RandomState(0)
    batch = rng.randint(0, 256, (3, 16, 16, 3)).astype(np.uint8)
    out = ImageLoader(size=16).transform(batch)
    np.testing.assert_array_equal(out, batch)
    assert not np.shares_memory(out, batch)
    assert ImageLoader(size=8).transform(batch).shape == (3, 8, 8, 3)
    np.testing.assert_array_equal(ImageLoader(size=16).transform(batch / 255.0), batch)
    grey = ImageLoader(size=16).transform(batch[..., 0])
    np.testing.assert_array_equal(grey, np.repeat(batch[..., :1], 3, axis=-1))
    rgba = np.concatenate([batch, np.zeros((3, 16, 16, 1), np.uint8)], axis=-1)
    assert (ImageLoader(size=16).transform(rgba) == 255).all()  # transparent -> white
    np.testing.assert_array_equal(ImageLoader(size=16).transform(batch.astype(np.int64)), batch)


def test_lists_of_images_of_any_size(tmp_path):
    path = _noise_jpeg(tmp_path, size=(30, 20))
    pil = Image.open(path)
    images = [pil, np.asarray(pil), np.zeros((50, 9, 3), np.uint8), path]
    X = ImageLoader(size=(10, 12)).transform(images)
    assert X.shape == (4, 10, 12, 3)
    np.testing.assert_array_equal(X[0], X[1])  # PIL image and its array agree
    np.testing.assert_array_equal(X[0], X[3])  # ... and the file itself


# ---------------------------------------------------------------------------- ImageLoader: cache
@pytest.fixture
def count_decodes(monkeypatch):
    calls = []
    real = _decode.decode_file

    def counting(path, *args, **kwargs):
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(_decode, "decode_file", counting)
    return calls


def test_cache_decodes_each_file_once(tmp_path, count_decodes):
    paths = [_noise_jpeg(tmp_path, f"{i}.jpg", seed=i) for i in range(4)]
    loader = ImageLoader(size=16)
    first = loader.transform(paths)
    assert len(count_decodes) == 4
    second = clone(loader).transform(paths[::-1])  # any ImageLoader, any order
    assert len(count_decodes) == 4
    np.testing.assert_array_equal(second, first[::-1])
    assert image_cache_info().hits == 4
    second[:] = 0  # the caller owns its output; the cache is unaffected
    np.testing.assert_array_equal(loader.transform(paths), first)

    ImageLoader(size=12).transform(paths)  # other parameters: other entries
    ImageLoader(size=16, resize="pad").transform(paths)
    assert len(count_decodes) == 12
    ImageLoader(size=16, cache=False).transform(paths)
    assert len(count_decodes) == 16


def test_duplicates_in_one_call_are_decoded_once(tmp_path, count_decodes):
    path = _noise_jpeg(tmp_path)
    X = ImageLoader(size=16, cache=False).transform([path, path, path])
    assert len(count_decodes) == 1
    np.testing.assert_array_equal(X[0], X[2])


def test_links_to_one_file_are_decoded_once(tmp_path, count_decodes):
    path = _noise_jpeg(tmp_path)
    links = [tmp_path / f"link{i}.jpg" for i in range(3)]
    for link in links:
        os.symlink(path, link)
    X = ImageLoader(size=16, cache=False).transform([path, *links])  # in one call
    assert len(count_decodes) == 1
    ImageLoader(size=16).transform(links[:1])
    again = ImageLoader(size=16).transform(links[1:])  # across calls, through the cache
    assert len(count_decodes) == 2
    for row in (*X[1:], *again):
        np.testing.assert_array_equal(row, X[0])


def test_cache_sees_changed_files(tmp_path, count_decodes):
    path = _jpeg(tmp_path, "x.jpg", color=(255, 0, 0))
    before = ImageLoader(size=16).transform([path])
    _jpeg(tmp_path, "x.jpg", color=(0, 0, 255))  # same size in bytes, new content
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    after = ImageLoader(size=16).transform([path])
    assert len(count_decodes) == 2
    assert before[0, 8, 8, 0] > 200 and after[0, 8, 8, 2] > 200


def test_clear_cache(tmp_path):
    ImageLoader(size=16).transform([_jpeg(tmp_path)])
    assert image_cache_info().n_images == 1
    ImageLoader.clear_cache()
    assert image_cache_info().n_images == 0


def test_cache_is_bounded(tmp_path):
    paths = [_noise_jpeg(tmp_path, f"{i}.jpg", seed=i) for i in range(5)]
    previous = set_image_cache_max_bytes(2 * 16 * 16 * 3)  # room for two 16x16 images
    try:
        ImageLoader(size=16).transform(paths)
        info = image_cache_info()
        assert info.n_images == 2 and info.nbytes <= info.max_bytes
    finally:
        set_image_cache_max_bytes(previous)
    with pytest.raises(ValueError, match="max_bytes"):
        set_image_cache_max_bytes(-1)


def test_errors_are_not_cached(tmp_path):
    path = tmp_path / "later.jpg"
    _load_error(ImageLoader(size=16), [str(path)])
    _jpeg(tmp_path, "later.jpg")
    assert ImageLoader(size=16).transform([str(path)]).shape == (1, 16, 16, 3)


# ------------------------------------------------------------- ImageLoader: controlled inputs
def _banded(width, height):
    """Grey above, a white band in the bottom 10 % (a watermark), a red left half."""
    arr = np.full((height, width, 3), 100, np.uint8)
    arr[:, : width // 2, 0] = 200
    arr[int(height * 0.9):] = 255
    return arr


def test_crop_bottom_removes_the_bottom_band(tmp_path):
    path = _save(Image.fromarray(_banded(80, 60)), tmp_path / "band.png")
    plain = ImageLoader(size=20).transform([path])[0]
    assert plain[-1].min() == 255  # the band reaches the output
    cut = ImageLoader(size=20, crop_bottom=0.15).transform([path])[0]
    assert cut.max() < 255 and (cut[:, :5, 0] == 200).all()
    # in-memory images get the same treatment as files
    np.testing.assert_array_equal(
        ImageLoader(size=20, crop_bottom=0.15).transform(_banded(80, 60)[None]), cut[None]
    )


def test_common_scale_brings_photos_to_one_pixel_scale(tmp_path):
    # Fine detail (1-pixel noise) survives a direct resize of a small image but not of a
    # large one; with a common scale, both go through the same bottleneck.
    rng = np.random.RandomState(0)
    small = rng.randint(0, 256, (40, 60, 3)).astype(np.uint8)
    large = np.asarray(Image.fromarray(small).resize((240, 160), Image.Resampling.NEAREST))
    paths = [_save(Image.fromarray(a), tmp_path / f"{n}.png") for n, a in [("s", small), ("l", large)]]
    direct = ImageLoader(size=40, resize="crop").transform(paths).astype(int)
    common = ImageLoader(size=40, resize="crop", common_scale=20).transform(paths).astype(int)
    assert np.abs(common[0] - common[1]).mean() < 0.5 * np.abs(direct[0] - direct[1]).mean()
    assert common.shape == (2, 40, 40, 3)


def test_controlled_inputs_and_the_cache(tmp_path, count_decodes):
    paths = [_noise_jpeg(tmp_path, f"{i}.jpg", size=(90, 60), seed=i) for i in range(3)]
    plain = ImageLoader(size=16).transform(paths)
    controlled = ImageLoader(size=16, **CONTROLLED_INPUTS)
    first = controlled.transform(paths)
    assert len(count_decodes) == 6  # the options are part of the cache key: decoded anew
    assert not np.array_equal(first, plain)
    np.testing.assert_array_equal(clone(controlled).transform(paths), first)
    assert len(count_decodes) == 6  # ... and cached under it
    ImageLoader(size=16, resize="crop", crop_bottom=0.15, common_scale=30).transform(paths)
    assert len(count_decodes) == 9
    # a uint8 batch of the output size is still reframed, not passed through
    batch = np.zeros((2, 16, 16, 3), np.uint8)
    batch[:, -2:] = 255
    assert ImageLoader(size=16, crop_bottom=0.2).transform(batch).max() < 255


def test_controlled_draft_decoding_matches_a_full_decode(tmp_path, monkeypatch):
    path = _noise_jpeg(tmp_path, "big.jpg", size=(1200, 800))
    loader = ImageLoader(size=32, cache=False, **CONTROLLED_INPUTS)
    fast = loader.transform([path]).astype(int)
    monkeypatch.setattr(_decode, "_USE_DRAFT", False)
    full = loader.transform([path]).astype(int)
    assert np.abs(fast - full).mean() < 2.0


def test_crop_bottom_too_small_image_is_named(tmp_path):
    path = _save(Image.new("RGB", (20, 9)), tmp_path / "thin.png")
    err = _load_error(ImageLoader(size=8, crop_bottom=0.5), [path])
    assert "crop_bottom=0.5" in err.errors[0][1]


# ---------------------------------------------------------------------------- ImageLoader: API
def test_threads_give_the_same_result(tmp_path):
    paths = [_noise_jpeg(tmp_path, f"{i}.jpg", seed=i) for i in range(6)]
    one = ImageLoader(size=16, cache=False).transform(paths)
    for n_jobs in [2, -1]:
        np.testing.assert_array_equal(
            ImageLoader(size=16, n_jobs=n_jobs, cache=False).transform(paths), one
        )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"size": 0}, "size"),
        ({"size": (16, 16, 3)}, "size"),
        ({"size": True}, "size"),
        ({"size": 16.0}, "size"),
        ({"resize": "fit"}, "resize"),
        ({"interpolation": "cubic"}, "interpolation"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"n_jobs": 1.5}, "n_jobs"),
        ({"cache": "yes"}, "cache"),
        ({"crop_bottom": 1.0}, "crop_bottom"),
        ({"crop_bottom": -0.1}, "crop_bottom"),
        ({"crop_bottom": "0.15"}, "crop_bottom"),
        ({"common_scale": 4}, "common_scale"),
        ({"common_scale": 298.0}, "common_scale"),
    ],
)
def test_parameter_validation(tmp_path, params, match):
    path = _jpeg(tmp_path)
    loader = ImageLoader(**params)  # __init__ never validates
    with pytest.raises(ValueError, match=match):
        loader.fit([path])
    with pytest.raises(ValueError, match=match):
        loader.transform([path])


def test_stateless_clone_and_pickle(tmp_path):
    path = _jpeg(tmp_path)
    loader = ImageLoader(size=(8, 16), resize="crop", n_jobs=2, cache=False)
    assert clone(loader).get_params() == loader.get_params()
    check_is_fitted(loader)  # stateless: usable without fit
    assert loader.__sklearn_tags__().requires_fit is False
    again = pickle.loads(pickle.dumps(loader))
    np.testing.assert_array_equal(again.transform([path]), loader.transform([path]))
    assert loader.fit([path]) is loader


def test_pipeline_cross_validation(tmp_path):
    paths, y = [], []
    for i in range(12):
        colour = (200, 40 + i, 40) if i % 2 else (40, 60 + i, 200)
        paths.append(_jpeg(tmp_path, f"{i}.jpg", size=(20 + i, 24), color=colour))
        y.append("red" if i % 2 else "blue")
    pipe = make_pipeline(
        ImageLoader(size=8),
        ChannelNormalizer(),
        FunctionTransformer(lambda X: X.reshape(len(X), -1)),
        LogisticRegression(),
    )
    scores = cross_val_score(pipe, np.array(paths, dtype=object).reshape(-1, 1), y, cv=3)
    assert scores.mean() == 1.0


# ---------------------------------------------------------------------------- ChannelNormalizer
def _images(seed=0, n=5, h=6, w=7, low=0, high=256):
    return np.random.RandomState(seed).randint(low, high, (n, h, w, 3)).astype(np.uint8)


def test_normalizer_learns_statistics():
    X = _images()
    norm = ChannelNormalizer().fit(X)
    scaled = X / 255.0
    np.testing.assert_allclose(norm.mean_, scaled.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(norm.std_, scaled.std(axis=(0, 1, 2)), rtol=1e-12)
    assert norm.n_features_in_ == 3
    Z = norm.transform(X)
    assert Z.shape == (5, 3, 6, 7) and Z.dtype == np.float32 and Z.flags.c_contiguous
    expected = (scaled - norm.mean_) / norm.std_
    np.testing.assert_allclose(Z, expected.transpose(0, 3, 1, 2), atol=1e-6)
    np.testing.assert_allclose(Z.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    np.testing.assert_allclose(Z.std(axis=(0, 2, 3)), 1, atol=1e-5)


def test_each_fit_learns_from_its_own_training_set():
    dark, bright = _images(0, high=100), _images(1, low=150)
    norm = ChannelNormalizer()
    mean_dark = norm.fit(dark).mean_.copy()
    mean_bright = norm.fit(bright).mean_
    assert (mean_dark < 0.4).all() and (mean_bright > 0.6).all()
    assert clone(norm).get_params() == {"mean": None, "std": None}


def test_float_and_integer_inputs_agree_with_uint8():
    X = _images()
    ref = ChannelNormalizer().fit(X)
    for other in [X / 255.0, (X / 255.0).astype(np.float32), X.astype(np.int64)]:
        norm = ChannelNormalizer().fit(other)
        np.testing.assert_allclose(norm.mean_, ref.mean_, rtol=1e-6)
        np.testing.assert_allclose(norm.std_, ref.std_, rtol=1e-6)
        np.testing.assert_allclose(norm.transform(other), ref.transform(X), atol=1e-5)


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_statistics_are_the_same_in_chunks(monkeypatch, dtype):
    X = _images(n=9).astype(dtype)
    if dtype == np.float64:
        X /= 255.0
    whole = ChannelNormalizer().fit(X)
    monkeypatch.setattr(_normalizer, "_CHUNK_PIXELS", 50)  # one image per chunk
    chunked = ChannelNormalizer().fit(X)
    np.testing.assert_allclose(chunked.mean_, whole.mean_, rtol=1e-12)
    np.testing.assert_allclose(chunked.std_, whole.std_, rtol=1e-12)


@pytest.mark.parametrize("preset", list(NORMALIZATION_PRESETS))
def test_presets(preset):
    X = _images()
    norm = ChannelNormalizer(mean=preset).fit(X)
    np.testing.assert_array_equal(norm.mean_, NORMALIZATION_PRESETS[preset]["mean"])
    np.testing.assert_array_equal(norm.std_, NORMALIZATION_PRESETS[preset]["std"])
    same = ChannelNormalizer(mean=preset, std=preset).fit(_images(seed=3))
    np.testing.assert_array_equal(same.transform(X), norm.transform(X))


def test_preset_values():
    assert NORMALIZATION_PRESETS["imagenet"]["mean"] == (0.485, 0.456, 0.406)
    assert NORMALIZATION_PRESETS["imagenet"]["std"] == (0.229, 0.224, 0.225)
    assert NORMALIZATION_PRESETS["bit"] == {"mean": (0.5,) * 3, "std": (0.5,) * 3}
    assert NORMALIZATION_PRESETS["study"]["mean"] == (0.6475, 0.4907, 0.4165)
    assert NORMALIZATION_PRESETS["study"]["std"] == (0.1875, 0.1598, 0.1460)


def test_fixed_and_mixed_statistics():
    X = _images()
    learned = ChannelNormalizer().fit(X)
    norm = ChannelNormalizer(mean=[0.1, 0.2, 0.3], std=0.5).fit(X)
    np.testing.assert_array_equal(norm.mean_, [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(norm.std_, [0.5] * 3)
    mixed = ChannelNormalizer(mean=None, std="imagenet").fit(X)
    np.testing.assert_allclose(mixed.mean_, learned.mean_)
    np.testing.assert_array_equal(mixed.std_, NORMALIZATION_PRESETS["imagenet"]["std"])
    own_std = ChannelNormalizer(mean=0.5).fit(X)  # numbers, not a preset: std is learned
    np.testing.assert_allclose(own_std.std_, learned.std_)
    other = ChannelNormalizer(mean="imagenet", std="bit").fit(X)
    np.testing.assert_array_equal(other.std_, [0.5] * 3)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"mean": "cifar"}, r"^ChannelNormalizer: mean must be None, a preset name \['study', "),
        ({"std": "cifar"}, r"^ChannelNormalizer: std must be None, a preset name .*got 'cifar'\.$"),
        ({"mean": [0.5, 0.5]}, "3 finite numbers"),
        ({"mean": [0.5, np.nan, 0.5]}, "3 finite numbers"),
        ({"std": [0.5, 0.0, 0.5]}, "> 0"),
        ({"std": -1}, "> 0"),
        ({"mean": object()}, "mean must be"),
    ],
)
def test_normalizer_parameter_validation(params, match):
    with pytest.raises(ValueError, match=match):
        ChannelNormalizer(**params).fit(_images())


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((2, 3, 8, 8), np.uint8), "channels-first"),
        (np.zeros((2, 8, 8, 2), np.uint8), "RGB images"),
        (np.zeros((2, 8, 8, 4), np.uint8), "RGBA to RGB"),
        (np.zeros((2, 8, 8), np.uint8), "4-D"),
        (np.zeros((8, 3)), "2-D table"),
        (np.full((2, 8, 8, 3), np.nan), "NaN"),
        (np.full((2, 8, 8, 3), 200.0), r"\[0, 1\]"),
        (np.full((2, 8, 8, 3), 300), "0..255"),
        (np.zeros((2, 8, 8, 3), bool), "dtype bool"),
        (np.zeros((0, 8, 8, 3), np.uint8), "empty"),
        (np.array(["a.jpg", "b.jpg"], dtype=object), "4-D"),
    ],
)
def test_normalizer_input_validation(X, match):
    with pytest.raises(ValueError, match=match):
        ChannelNormalizer().fit(X)
    fitted = ChannelNormalizer().fit(_images())
    with pytest.raises(ValueError, match=match):
        fitted.transform(X)


def test_normalizer_needs_fit_and_accepts_new_sizes():
    with pytest.raises(NotFittedError):
        ChannelNormalizer().transform(_images())
    norm = ChannelNormalizer().fit(_images(h=6, w=7))
    assert norm.transform(_images(h=10, w=4)).shape == (5, 3, 10, 4)


def test_constant_channel_gets_unit_std():
    X = _images()
    X[..., 1] = 77
    with pytest.warns(UserWarning, match=r"channel\(s\) \[1\] are constant"):
        norm = ChannelNormalizer().fit(X)
    assert norm.std_[1] == 1.0


def test_inverse_transform_round_trip():
    X = _images(n=3, h=9, w=5)
    for norm in [ChannelNormalizer(), ChannelNormalizer(mean="imagenet")]:
        Z = norm.fit(X).transform(X)
        back = norm.inverse_transform(Z)
        assert back.dtype == np.uint8 and back.flags.c_contiguous
        np.testing.assert_array_equal(back, X)
    with pytest.raises(ValueError, match="inverse_transform"):
        norm.inverse_transform(X)  # channels last: not the output of transform


def test_normalizer_pickles():
    X = _images()
    norm = ChannelNormalizer().fit(X)
    again = pickle.loads(pickle.dumps(norm))
    np.testing.assert_array_equal(again.transform(X), norm.transform(X))


# ---------------------------------------------------------------------------- scikit-learn checks
@pytest.mark.parametrize(
    "estimator", [ImageLoader(), ChannelNormalizer()], ids=lambda e: type(e).__name__
)
def test_sklearn_expected_failed_checks_are_exact(estimator):
    # Every check outside the expected-failure list passes; every check in it really fails
    # (so the list given to parametrize_with_checks stays honest).
    expected = expected_failed_checks(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    assert failed == set(expected)


# ---------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def study_paths():
    if not DATA:
        pytest.skip("set SKIN_ESTIMATORS_DATA to the folder that holds skin3/")
    paths = sorted(glob.glob(os.path.join(DATA, "skin3", "*", "*.jpg")))
    assert len(paths) == 102
    return paths


def test_loads_the_study_photos(study_paths):
    X = ImageLoader(size=64, n_jobs=2, cache=False).transform(study_paths)
    assert X.shape == (102, 64, 64, 3) and X.dtype == np.uint8
    assert any(" " in p for p in study_paths)  # names with spaces work
    assert 60 < X.mean() < 200  # photographs, not black or white frames
    norm = ChannelNormalizer().fit(X)
    assert norm.transform(X).shape == (102, 3, 64, 64)


def test_study_photos_match_plain_pillow_at_full_size(study_paths):
    paths = study_paths[::25]
    expected = np.stack(
        [np.asarray(Image.open(p).convert("RGB").resize((128, 96), Image.BILINEAR)) for p in paths]
    )
    X = ImageLoader(size=(96, 128), cache=False).transform(paths)
    # Draft decoding may kick in at this size; it must stay within a grey level on average.
    assert np.abs(X.astype(int) - expected).mean() < 1.0
