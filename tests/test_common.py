"""One common-checks test over every estimator of the library.

* scikit-learn's ``parametrize_with_checks`` over the shared base configured with a tabular
  module: the wrapper's contract with scikit-learn. Only failures inherent to skorch are
  expected (listed with their reasons below).
* The same over :class:`TrustedClassifier`, wrapping a linear model of numeric features.
* The same over the image transformers; the checks that feed them 2-D tables are expected
  to fail (listed, with reasons, in ``skin_estimators/preprocessing/_expected_checks.py``).
* The image checks of :mod:`skin_estimators.utils.estimator_checks` over every image estimator.
* Its float32-tolerant order and subset invariance checks over every estimator and
  transformer, including those whose scikit-learn counterparts are expected to fail.
"""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    PretrainedFeatures,
    ScatteringClassifier,
    ScatteringTransformer,
    SkinNetClassifier,
    TrustedClassifier,
    _registry,
)
from skin_estimators.networks import MLP
from skin_estimators.preprocessing._expected_checks import _CHECKS_2D
from skin_estimators.preprocessing._expected_checks import (
    expected_failed_checks as _image_transformer_failures,
)
from skin_estimators.utils.estimator_checks import (
    check_methods_sample_order_invariance,
    check_methods_subset_invariance,
    make_tiny_images,
    parametrize_with_image_checks,
)

SKORCH_INIT = (
    "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_ (documented "
    "skorch behaviour; fitted state is still only created by fit)"
)

TABULAR = SkinNetClassifier(MLP, lr=0.1, max_epochs=20, batch_size=16, random_state=0)


SCATTERING_2D = "uses 2-D numeric data; ScatteringTransformer takes 4-D images (n, C, H, W) only"
FEATURES_2D = "uses 2-D numeric data; PretrainedFeatures takes 4-D images (n, 3, H, W) only"


TRUSTED_SPARSE = (
    "TrustedClassifier hands X to its estimator as it is (file paths, images, features), and "
    "its out-of-scope score needs dense features: sparse X fails there, not up front"
)
#: The wrapper over a model of numeric features (cv=2: the checks' smallest data sets have
#: three samples of a class).
TRUSTED = TrustedClassifier(LogisticRegression(), cv=2)


FLOAT32_INVARIANCE = (
    "the network computes in float32, and vectorised float32 kernels (AVX-512, AMX) round a "
    "row differently with its position in the batch: outputs agree to about 1e-7 relative, "
    "not scikit-learn's rtol 1e-7 on every machine. Checked at float32 tolerance by "
    "skin_estimators.utils.estimator_checks.check_methods_*_invariance instead"
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, SkinNetClassifier):
        return {"check_no_attributes_set_in_init": SKORCH_INIT,
                "check_methods_sample_order_invariance": FLOAT32_INVARIANCE,
                "check_methods_subset_invariance": FLOAT32_INVARIANCE}
    if isinstance(estimator, TrustedClassifier):
        return dict.fromkeys(["check_estimator_sparse_tag", "check_estimator_sparse_array",
                              "check_estimator_sparse_matrix"], TRUSTED_SPARSE)
    if isinstance(estimator, ScatteringTransformer):
        return dict.fromkeys([*_CHECKS_2D, "check_transformer_preserve_dtypes"], SCATTERING_2D)
    if isinstance(estimator, PretrainedFeatures):
        return dict.fromkeys([*_CHECKS_2D, "check_transformer_preserve_dtypes"], FEATURES_2D)
    # The image transformers take image files / image arrays, not the 2-D tables these checks use.
    return _image_transformer_failures(estimator)


@parametrize_with_checks(
    [TABULAR, ImageLoader(), ChannelNormalizer(), ScatteringTransformer(),
     PretrainedFeatures(pretrained=False), TRUSTED],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


#: Small settings for the checks, per estimator class of the architecture registry (every
#: class gets max_epochs=1, and pretrained=False where it has that parameter).
QUICK = {
    "VanillaCNNClassifier": {"batch_size": 4},
    "ResNet50Classifier": {"batch_size": 4},
    # BiT-R101 is 42M parameters: training only its head keeps these checks to seconds; full
    # fine-tuning of BiT is exercised in tests/test_pretrained.py.
    "BiTClassifier": {"freeze_backbone": True, "batch_size": 4},
    "EfficientNetLiteClassifier": {"batch_size": 4},
    "BackboneClassifier": {"batch_size": 4},
}


def _registry_estimators():
    """One quick instance of every estimator class in the architecture registry."""
    import inspect

    out = []
    for name in _registry.ARCHITECTURES:
        cls = _registry.estimator_of(name)
        if not isinstance(cls, type):  # a factory: its steps are checked on their own
            continue
        params = {"max_epochs": 1, **_registry.estimator_params(name),
                  **QUICK.get(cls.__name__, {})}
        if "pretrained" in inspect.signature(cls).parameters:
            params["pretrained"] = False
        out.append(cls(**params))
    return out


IMAGE_ESTIMATORS = [*_registry_estimators(), ScatteringClassifier(max_epochs=1, learnable=False)]


#: BiT-R101 is 101 float32 layers of random weights here: a row's rounding, different in a
#: batch of one, grows to about 6e-6 in a probability by the last layer.
TOLERANCES = {"BiTClassifier": {"atol": 5e-5}}
_INVARIANCE = (check_methods_sample_order_invariance, check_methods_subset_invariance)


@parametrize_with_image_checks(IMAGE_ESTIMATORS)
def test_image_estimator_contract(estimator, check):
    torch.manual_seed(0)
    if check.func in _INVARIANCE:
        check(estimator, **TOLERANCES.get(type(estimator).__name__, {}))
    else:
        check(estimator)


def _tabular_data():
    rng = np.random.RandomState(0)
    X = rng.randn(30, 4).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)


def _uint8_images():
    return np.random.RandomState(0).randint(0, 256, (10, 12, 12, 3), dtype=np.uint8)


#: The tabular estimator and the transformers, with data each takes (the image estimators run
#: the same checks among their image checks, above).
INVARIANCE_CASES = [
    (TABULAR, _tabular_data),
    (ImageLoader(size=8), lambda: (_uint8_images(), None)),
    (ChannelNormalizer(), lambda: (_uint8_images(), None)),
    (ScatteringTransformer(J=2), lambda: (make_tiny_images(n=8)[0], None)),
    (PretrainedFeatures(pretrained=False), lambda: (make_tiny_images(n=8, size=32)[0], None)),
]


@pytest.mark.parametrize("check", _INVARIANCE, ids=lambda c: c.__name__)
@pytest.mark.parametrize("estimator, data", INVARIANCE_CASES,
                         ids=[type(e).__name__ for e, _ in INVARIANCE_CASES])
def test_float32_invariance(estimator, data, check):
    torch.manual_seed(0)
    X, y = data()
    check(estimator, X, y)
