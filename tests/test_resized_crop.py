"""The ``resized_crop`` augmentation: a random part of each image, resized back."""

import numpy as np
import torch

from skin_estimators import VanillaCNNClassifier
from skin_estimators.classifiers._augment import make_augmenter, resized_crop


def test_resized_crop_with_the_whole_area_is_the_identity():
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(resized_crop(x, scale=(1.0, 1.0), ratio=(1.0, 1.0)), x,
                               atol=1e-6)


def test_resized_crop_zooms_into_a_part_of_the_image():
    ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).repeat(200, 3, 64, 1)
    torch.manual_seed(0)
    out = resized_crop(ramp, scale=(0.25, 0.25), ratio=(1.0, 1.0))  # half the width
    span = out[:, 0, 0, -1] - out[:, 0, 0, 0]
    np.testing.assert_allclose(span, 0.5, atol=0.03)
    assert out.min() >= 0 and out.max() <= 1  # inside the image: no new border
    left = out[:, 0, 0, 0]
    assert left.min() < 0.1 and left.max() > 0.4  # random positions


def test_resized_crop_is_a_named_augmentation_seeded_by_random_state(tiny_images):
    X, y = tiny_images
    assert make_augmenter(["hflip", "resized_crop"]) is not None
    a = VanillaCNNClassifier(max_epochs=1, batch_size=4, augment="resized_crop",
                             random_state=1).fit(X, y).predict_proba(X)
    b = VanillaCNNClassifier(max_epochs=1, batch_size=4, augment="resized_crop",
                             random_state=1).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
