"""The declared parameter constraints of :class:`SkinNetClassifier`, skorch's included.

The estimators built on it extend this dict (``{**SkinNetClassifier._parameter_constraints,
...}``); :func:`~skin_estimators.utils._param_validation.validate_constraints` checks them at
the start of ``fit``. skorch's routed keyword arguments (``optimizer__momentum``, ...) have no
declared constraint: they are checked for NaN and infinity separately.
"""

import inspect
import numbers

import numpy as np
import torch

from ..utils._param_validation import (
    BOOLEAN,
    DEVICE,
    HasMethods,
    Interval,
    Options,
    Satisfies,
    StrOptions,
    positive_int,
    positive_number,
)
from ._augment import AUGMENTATIONS, make_augmenter

__all__ = ["NET_CONSTRAINTS"]


def _optimizer_hint(value):
    """`` (optimizer=torch.optim.SGD?)`` when ``value`` names a torch.optim class, else ''."""
    if not isinstance(value, str):
        return ""
    for name, cls in vars(torch.optim).items():
        if (name.lower() == value.lower() and inspect.isclass(cls)
                and issubclass(cls, torch.optim.Optimizer)):
            return f" (optimizer=torch.optim.{name}?)"
    return ""


def _is_augment(value):
    make_augmenter(value)  # raises on unknown names and bad parameters
    return True


def _augment_hint(value):
    try:
        make_augmenter(value)
    except (ValueError, TypeError) as exc:
        return f": {str(exc).removeprefix('augment: ')}" if str(exc).startswith("augment: ") \
            else ""
    return ""


def _is_callback_list(value):
    return isinstance(value, list | tuple)


#: Every parameter of SkinNetClassifier, skorch's own included.
NET_CONSTRAINTS = {
    "module": [Satisfies(callable, "a torch.nn.Module class or instance")],
    "criterion": [Satisfies(callable, "a torch loss class or instance, such as "
                                      "torch.nn.CrossEntropyLoss")],
    "optimizer": [Satisfies(callable, "a torch.optim optimizer class, such as torch.optim.SGD",
                            hint=_optimizer_hint)],
    "lr": [positive_number()],
    "max_epochs": [positive_int()],
    "batch_size": [positive_int(), Options(numbers.Integral, [-1], text="-1 (the whole set)")],
    "train_split": [None, callable],
    "class_weight": [StrOptions(["balanced"], text="'balanced'"),
                     Satisfies(lambda v: isinstance(v, dict), "a dict {label: weight}"), None],
    "augment": [Satisfies(_is_augment, f"None, one of {sorted(AUGMENTATIONS)}, a list of them, "
                                       "a dict {name: {parameter: value}}, or a callable "
                                       "taking and returning a batch tensor (n, C, H, W)",
                          hint=_augment_hint)],
    "tta": [None, StrOptions(["hflip"], text="'hflip'")],
    "random_state": [None, Interval(numbers.Integral, 0, 2**32 - 1, closed="both",
                                    text="an int in [0, 2**32 - 1]"),
                     Satisfies(lambda v: isinstance(v, np.random.RandomState),
                               "a numpy RandomState")],
    "device": [DEVICE],
    "channels_last": [BOOLEAN],
    "verbose": [Interval(numbers.Integral, 0, None, closed="left", text="an int >= 0"), BOOLEAN],
    # skorch's own parameters.
    "callbacks": [None, StrOptions(["disable"], text="'disable'"),
                  Satisfies(_is_callback_list, "a list of skorch callbacks or (name, callback) "
                                               "pairs")],
    "classes": [None, "array-like"],
    "compile": [BOOLEAN],
    "dataset": [callable, HasMethods(["__len__", "__getitem__"])],
    "iterator_train": [callable],
    "iterator_valid": [callable],
    "predict_nonlinearity": [None, StrOptions(["auto"], text="'auto'"), callable],
    "torch_load_kwargs": [None, dict],
    "use_caching": [BOOLEAN, StrOptions(["auto"], text="'auto'")],
    "warm_start": [BOOLEAN],
}
