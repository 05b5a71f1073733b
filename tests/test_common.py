"""One common-checks test over every estimator of the library.

* scikit-learn's ``parametrize_with_checks`` over the shared base configured with a tabular
  module: the wrapper's contract with scikit-learn. Only failures inherent to skorch are
  expected (listed with their reasons below).
* The same over the image transformers; the checks that feed them 2-D tables are expected
  to fail (listed, with reasons, in ``skin_estimators/preprocessing/_expected_checks.py``).
* The image checks of :mod:`skin_estimators.utils.estimator_checks` over every image estimator.
"""

import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from skin_estimators import (
    BiTClassifier,
    ChannelNormalizer,
    EfficientNetLiteClassifier,
    ImageLoader,
    PretrainedFeatures,
    ResNet50Classifier,
    ScatteringClassifier,
    ScatteringTransformer,
    SkinNetClassifier,
    VanillaCNNClassifier,
)
from skin_estimators.networks import MLP
from skin_estimators.preprocessing._expected_checks import _CHECKS_2D
from skin_estimators.preprocessing._expected_checks import expected_failed_checks as _image_transformer_failures
from skin_estimators.utils.estimator_checks import parametrize_with_image_checks

SKORCH_INIT = (
    "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_ (documented "
    "skorch behaviour; fitted state is still only created by fit)"
)

TABULAR = SkinNetClassifier(MLP, lr=0.1, max_epochs=20, batch_size=16, random_state=0)


SCATTERING_2D = "uses 2-D numeric data; ScatteringTransformer takes 4-D images (n, C, H, W) only"
FEATURES_2D = "uses 2-D numeric data; PretrainedFeatures takes 4-D images (n, 3, H, W) only"


def _expected_failed_checks(estimator):
    if isinstance(estimator, SkinNetClassifier):
        return {"check_no_attributes_set_in_init": SKORCH_INIT}
    if isinstance(estimator, ScatteringTransformer):
        return dict.fromkeys([*_CHECKS_2D, "check_transformer_preserve_dtypes"], SCATTERING_2D)
    if isinstance(estimator, PretrainedFeatures):
        return dict.fromkeys([*_CHECKS_2D, "check_transformer_preserve_dtypes"], FEATURES_2D)
    # The image transformers take image files / image arrays, not the 2-D tables these checks use.
    return _image_transformer_failures(estimator)


@parametrize_with_checks(
    [TABULAR, ImageLoader(), ChannelNormalizer(), ScatteringTransformer(),
     PretrainedFeatures(pretrained=False)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


IMAGE_ESTIMATORS = [
    VanillaCNNClassifier(max_epochs=1, batch_size=4),
    ResNet50Classifier(pretrained=False, max_epochs=1, batch_size=4),
    # BiT-R101 is 42M parameters: training only its head keeps these checks to seconds; full
    # fine-tuning of BiT is exercised in tests/test_pretrained.py.
    BiTClassifier(pretrained=False, freeze_backbone=True, max_epochs=1, batch_size=4),
    EfficientNetLiteClassifier(pretrained=False, max_epochs=1, batch_size=4),
    ScatteringClassifier(max_epochs=1),
    ScatteringClassifier(max_epochs=1, learnable=False),
]


@parametrize_with_image_checks(IMAGE_ESTIMATORS)
def test_image_estimator_contract(estimator, check):
    torch.manual_seed(0)
    check(estimator)
