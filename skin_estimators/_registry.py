"""The architectures of the library, in one table.

Each entry names an architecture once: its config name (``models: [{name: cnn}]``), the
estimator class (or factory) that trains it, the network module that estimator builds, and
the normalisation its inputs need. Everything that lists architectures reads this table: the
experiment configs (:data:`skin_estimators.experiments.MODELS`), the classes a safe model
file may hold, the model names the command line shows, and the common estimator checks.

Objects are named by import path (``"package.module:attribute"``) and imported when first
needed, so reading the table imports nothing. Adding an architecture takes its network
module, its estimator module and one entry in :data:`ARCHITECTURES` (the contributor guide
says how). A pretrained backbone of ``skin_estimators.networks.BACKBONES`` without an
estimator of its own is an architecture of its own without any of these: the generic
``BackboneClassifier`` fine-tunes it, under the backbone's name.
"""

import importlib
from dataclasses import dataclass

from .networks._backbones import BACKBONES

__all__ = ["ARCHITECTURES", "Architecture", "estimator_of", "estimator_params", "network_of",
           "resolve"]


@dataclass(frozen=True)
class Architecture:
    """One architecture of the library.

    Parameters
    ----------
    name : str
        The config name (``models: [{name: ...}]``) and the command line's model name.
    estimator : str
        ``"module:attribute"`` of the estimator class, or of a factory returning an unfitted
        estimator (a pipeline).
    network : str or None
        ``"module:attribute"`` of the network class or builder the estimator trains (its
        ``module`` parameter); a safe model file may name it. None for a factory whose steps
        are estimators of their own.
    normalization : str
        What ``normalization: auto`` means for it: ``"fold"`` (statistics learned on each
        training fold: networks trained from scratch) or a normalisation preset (a pretrained
        network must see the statistics of its pretraining).
    params : tuple of (str, object) pairs, default=()
        Parameters the estimator is made with under this name, before the config's own
        (the generic ``BackboneClassifier`` gets its ``backbone``).
    """

    name: str
    estimator: str
    network: str | None
    normalization: str
    params: tuple = ()


ARCHITECTURES = {
    a.name: a
    for a in (
        Architecture("cnn", "skin_estimators.classifiers._cnn:VanillaCNNClassifier",
                     "skin_estimators.networks._cnn:VanillaCNN", "fold"),
        Architecture("scattering", "skin_estimators.classifiers._scattering:ScatteringClassifier",
                     "skin_estimators.networks._scattering_net:ScatteringNet", "fold"),
        Architecture("resnet50", "skin_estimators.classifiers._pretrained:ResNet50Classifier",
                     "skin_estimators.networks._timm_backbones:create_backbone", "imagenet"),
        Architecture("bit", "skin_estimators.classifiers._pretrained:BiTClassifier",
                     "skin_estimators.networks._timm_backbones:create_backbone", "bit"),
        Architecture("efficientnet_lite",
                     "skin_estimators.classifiers._efficientnet_lite:EfficientNetLiteClassifier",
                     "skin_estimators.networks._efficientnet_lite:create_efficientnet_lite",
                     "efficientnet_lite"),
        # Frozen EfficientNet-Lite0 features + a linear model: a pipeline of estimators.
        Architecture("recommended",
                     "skin_estimators.classifiers._recommended:make_recommended_classifier",
                     None, "efficientnet_lite"),
    )
}
# Each backbone without an estimator of its own: the generic one, under the backbone's name.
ARCHITECTURES.update(
    (b.name, Architecture(b.name, "skin_estimators.classifiers._backbone:BackboneClassifier",
                          "skin_estimators.networks._backbones:create_pretrained",
                          b.normalization, params=(("backbone", b.name),)))
    for b in BACKBONES.values() if b.estimator is None
)


def resolve(path):
    """The object at ``"package.module:attribute"``, or None when it cannot be imported."""
    module_name, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        return None


def estimator_of(name):
    """The estimator class (or factory) of architecture ``name``; None if not installed."""
    return resolve(ARCHITECTURES[name].estimator)


def estimator_params(name):
    """The parameters architecture ``name``'s estimator is made with (``{}`` for most)."""
    arch = ARCHITECTURES.get(name)
    return {} if arch is None else dict(arch.params)


def network_of(name):
    """The network class or builder of architecture ``name``; None if it has none."""
    network = ARCHITECTURES[name].network
    return None if network is None else resolve(network)
