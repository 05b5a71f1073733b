"""ImageLoader(tiles=, color_constancy=) and PretrainedFeatures(tiles=, tile_reduce=)."""

import numpy as np
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    PretrainedFeatures,
    VanillaCNNClassifier,
    load_model,
    save_model,
)
from skin_estimators.preprocessing._color_constancy import apply_color_constancy

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _marked(width, height):
    """Grey photo with a red band at its start and a blue band at its end (long side)."""
    a = np.full((height, width, 3), 128, np.uint8)
    if width >= height:
        a[:, :3], a[:, -3:] = RED, BLUE
    else:
        a[:3], a[-3:] = RED, BLUE
    return a


def _has(tile, colour):
    return bool(np.any(np.all(tile == colour, axis=-1)))


def _tiles(strip, k):
    return strip.reshape(k, strip.shape[0] // k, *strip.shape[1:])


@pytest.mark.parametrize("wh", [(90, 30), (30, 90), (45, 30), (30, 30), (200, 20)])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_tile_count_and_shape_do_not_depend_on_the_photo(wh, k):
    X = ImageLoader(size=(8, 12), resize="crop", tiles=k).transform([_marked(*wh)])
    assert X.shape == (1, 8 * k, 12, 3) and X.dtype == np.uint8 and X.flags.c_contiguous


@pytest.mark.parametrize("wh", [(90, 30), (30, 90), (50, 30)])
@pytest.mark.parametrize("k", [2, 3])
def test_tiles_cover_the_photo_from_end_to_end(wh, k):
    loader = ImageLoader(size=16, resize="crop", tiles=k, interpolation="nearest")
    tiles = _tiles(loader.transform([_marked(*wh)])[0], k)
    assert _has(tiles[0], RED) and not _has(tiles[0], BLUE)  # the first tile starts the photo
    assert _has(tiles[-1], BLUE) and not _has(tiles[-1], RED)  # the last one ends it
    centre = ImageLoader(size=16, resize="crop", interpolation="nearest").transform(
        [_marked(*wh)])[0]
    assert not _has(centre, RED) and not _has(centre, BLUE)  # the centre square misses both


def test_one_tile_is_the_centre_crop_and_a_square_photo_gives_equal_tiles():
    rng = np.random.RandomState(0)
    photo = rng.randint(0, 256, (30, 50, 3)).astype(np.uint8)
    crop = ImageLoader(size=16, resize="crop").transform([photo])
    np.testing.assert_array_equal(ImageLoader(size=16, resize="crop", tiles=1).transform([photo]),
                                  crop)
    three = _tiles(ImageLoader(size=16, resize="crop", tiles=3).transform([photo])[0], 3)
    np.testing.assert_array_equal(three[1], crop[0])  # the middle tile is the centre crop
    square = _tiles(ImageLoader(size=16, resize="crop", tiles=3).transform([photo[:, :30]])[0], 3)
    np.testing.assert_array_equal(square[0], square[2])


def test_tiles_with_the_controlled_recipe_from_files(tmp_path):
    paths = []
    for i, wh in enumerate([(120, 80), (80, 120), (100, 100)]):
        paths.append(str(tmp_path / f"p{i}.png"))
        Image.fromarray(_marked(*wh)).save(paths[-1])
    loader = ImageLoader(size=16, resize="crop", crop_bottom=0.15, common_scale=40, tiles=2)
    X = loader.fit_transform(paths)
    assert X.shape == (3, 32, 16, 3)
    # the cache keeps tiled and plain images apart
    assert ImageLoader(size=16, resize="crop", crop_bottom=0.15, common_scale=40).transform(
        paths).shape == (3, 16, 16, 3)
    np.testing.assert_array_equal(loader.transform(paths), X)


@pytest.mark.parametrize("method", ["shades_of_gray", "grey_world"])
def test_color_constancy_maps_a_colour_cast_grey_photo_to_neutral(method):
    rng = np.random.RandomState(0)
    grey = rng.uniform(0.2, 0.9, (24, 32, 1))
    cast = np.array([1.0, 0.75, 0.5])  # warm light on a grey scene
    photo = np.rint(grey * cast * 255).astype(np.uint8)
    out = ImageLoader(size=16, color_constancy=method).transform([photo])
    assert out.dtype == np.uint8
    spread = out.astype(int).max(axis=-1) - out.astype(int).min(axis=-1)
    assert spread.max() <= 2  # neutral up to rounding
    before = ImageLoader(size=16).transform([photo]).astype(int)
    assert (before.max(axis=-1) - before.min(axis=-1)).mean() > 40


def test_color_constancy_leaves_neutral_photos_and_takes_floats():
    photo = np.tile(np.linspace(0.1, 0.9, 32)[None, :, None], (20, 1, 3))  # grey ramp, floats
    out = ImageLoader(size=(20, 32), color_constancy="shades_of_gray").transform([photo])
    ref = ImageLoader(size=(20, 32)).transform([photo])
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - ref).max() <= 1
    black = Image.new("RGB", (10, 10))
    assert np.asarray(apply_color_constancy(black, "grey_world")).max() == 0


def test_bad_options_are_refused_with_their_name():
    img = [np.zeros((20, 20, 3), np.uint8)]
    for kwargs, word in [({"tiles": 0}, "tiles"), ({"tiles": 2.0}, "tiles"),
                         ({"tiles": True}, "tiles"), ({"tiles": 99}, "tiles"),
                         ({"color_constancy": "white"}, "color_constancy"),
                         ({"color_constancy": 6}, "color_constancy")]:
        with pytest.raises(ValueError, match=word):
            ImageLoader(size=8, resize="crop", **kwargs).fit(img)
    with pytest.raises(ValueError, match="resize='crop'"):
        ImageLoader(size=8, tiles=2).transform(img)
    X = np.zeros((2, 3, 48, 32), np.float32)
    with pytest.raises(ValueError, match="tile_reduce"):
        PretrainedFeatures(pretrained=False, tiles=2, tile_reduce="median").fit(X)
    with pytest.raises(ValueError, match="multiple of 5"):
        PretrainedFeatures(pretrained=False, tiles=5).fit(X)


@pytest.mark.parametrize("reduce", ["mean", "max"])
def test_tiled_features_are_the_tiles_features_combined(reduce):
    rng = np.random.RandomState(0)
    strips = rng.randn(3, 3, 2 * 32, 32).astype(np.float32)
    tiled = PretrainedFeatures(pretrained=False, tiles=2, tile_reduce=reduce,
                               backend="torch").fit(strips)
    F = tiled.transform(strips)
    plain = PretrainedFeatures(pretrained=False, backend="torch").fit(strips[:, :, :32])
    top, bottom = plain.transform(strips[:, :, :32]), plain.transform(strips[:, :, 32:])
    expected = np.maximum(top, bottom) if reduce == "max" else (top + bottom) / 2
    assert F.shape == (3, tiled.n_features_out_) == top.shape
    np.testing.assert_allclose(F, expected, rtol=1e-5, atol=1e-5)


def _files(tmp_path, n=6):
    rng = np.random.RandomState(1)
    paths = []
    for i in range(n):
        w, h = [(48, 32), (32, 48), (40, 40)][i % 3]
        a = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
        a[..., i % 3] //= 2
        paths.append(str(tmp_path / f"x{i}.png"))
        Image.fromarray(a).save(paths[-1])
    return paths, np.array(["a", "b", "c"] * (n // 3))


def test_tiled_feature_pipeline_round_trips_through_a_safe_file(tmp_path):
    paths, y = _files(tmp_path)
    loader = ImageLoader(size=32, resize="crop", tiles=3, color_constancy="shades_of_gray")
    model = make_pipeline(loader, ChannelNormalizer(mean="efficientnet_lite"),
                          PretrainedFeatures(pretrained=False, tiles=3, tile_reduce="max",
                                             backend="torch"),
                          LogisticRegression(max_iter=200)).fit(paths, y)
    save_model(model, tmp_path / "m.safetensors")
    back = load_model(tmp_path / "m.safetensors")
    params = back.get_params()
    assert params["imageloader__tiles"] == 3
    assert params["imageloader__color_constancy"] == "shades_of_gray"
    assert params["pretrainedfeatures__tiles"] == 3
    assert params["pretrainedfeatures__tile_reduce"] == "max"
    np.testing.assert_allclose(back.predict_proba(paths), model.predict_proba(paths), atol=1e-6)


def test_skorch_classifier_takes_the_strips_and_round_trips(tmp_path):
    paths, y = _files(tmp_path)
    loader = ImageLoader(size=16, resize="crop", tiles=2, color_constancy="grey_world")
    model = make_pipeline(loader,
                          ChannelNormalizer(),
                          VanillaCNNClassifier(max_epochs=1, batch_size=4, random_state=0))
    model.fit(paths, y)
    assert model.predict(paths).shape == (6,)
    save_model(model, tmp_path / "cnn.safetensors")
    back = load_model(tmp_path / "cnn.safetensors")
    assert back[0].get_params() == model[0].get_params()
    np.testing.assert_allclose(back.predict_proba(paths), model.predict_proba(paths), atol=1e-6)


def test_clone_and_get_params_keep_the_new_options():
    loader = ImageLoader(tiles=3, color_constancy="grey_world", resize="crop")
    copy = clone(loader)
    assert copy.get_params()["tiles"] == 3 and copy.get_params()["color_constancy"] == "grey_world"
    feats = clone(PretrainedFeatures(tiles=2, tile_reduce="max"))
    assert (feats.tiles, feats.tile_reduce) == (2, "max")
    assert ImageLoader().get_params()["tiles"] is None
    assert PretrainedFeatures().get_params()["tile_reduce"] == "mean"
