"""What a skorch classifier of the library keeps in a safe model file, and its check.

Besides its networks' weights (stored as tensors, ``_model_file_networks``) and its classes
(stored with them: ``classes_`` is a property of the label encoder), a classifier keeps the
fitted attributes declared in :data:`NET_FIELDS`; loading checks them against each other and
the parameters before the network is built from them.
"""

import numpy as np

from ..exceptions import InconsistentModelError
from ..utils._fields import Checked, check_classes, float_array, positive_int

__all__ = ["NET_FIELDS", "TIMM_FIELDS", "StoredNetState"]

#: The fitted attributes every skorch classifier of the library stores, checked by
#: :meth:`StoredNetState._check_model_file_state`.
NET_FIELDS = {"n_features_in_": Checked(), "input_shape_": Checked(),
              "class_weight_": Checked(), "classes_inferred_": Checked()}

#: The pretrained (timm) classifiers also keep their mixed-precision scaler (None once saved).
TIMM_FIELDS = {**NET_FIELDS, "grad_scaler_": Checked()}


class StoredNetState:
    """The model-file declaration of :class:`~skin_estimators.SkinNetClassifier` (a mixin)."""

    _model_file_fields = NET_FIELDS
    _model_file_required = ("input_shape_",)
    _model_file_networks = ("module",)

    def _initialize_for_loading(self):
        """Build the networks that a model file's weights are about to be copied into.

        The persistence hook: :func:`~skin_estimators.load_model` restores the fitted
        attributes (``classes_``, ``input_shape_``, ...), checks them
        (:meth:`_check_model_file_state`), calls this, then loads every module's state dict
        with ``strict=True``. The default is ``initialize()``; a subclass overrides it to
        skip work the stored weights make useless (the pretrained estimators do not fetch
        their checkpoint). Returns self.
        """
        return self.initialize()

    def _check_model_file_state(self, where):
        """The classes and fitted shapes, checked before the network is built."""
        n_classes = check_classes(self.classes_, f"{where}.classes_")
        shape = self.input_shape_
        if not (isinstance(shape, tuple) and 1 <= len(shape) <= 3):
            raise InconsistentModelError(f"{where}.input_shape_ = {shape!r:.40} is not the "
                                         "shape of one input")
        for size in shape:
            positive_int(size, f"{where}.input_shape_")
        n_in = getattr(self, "n_features_in_", None)
        if n_in is not None and positive_int(n_in, f"{where}.n_features_in_") != shape[0]:
            raise InconsistentModelError(f"{where}.n_features_in_ = {n_in} does not match "
                                         f"input_shape_ {shape}")
        weight = getattr(self, "class_weight_", None)
        if weight is not None:
            float_array(weight, f"{where}.class_weight_", (n_classes,))
            if (weight < 0).any():
                raise InconsistentModelError(f"{where}.class_weight_ holds a negative weight")
        inferred = getattr(self, "classes_inferred_", None)
        if inferred is not None and not (isinstance(inferred, np.ndarray) and inferred.ndim == 1
                                         and len(inferred) <= n_classes):
            raise InconsistentModelError(f"{where}.classes_inferred_ does not match classes_")
        if getattr(self, "grad_scaler_", None) is not None:
            raise InconsistentModelError(f"{where}.grad_scaler_ is not stored in model files")
        n_out = self.get_params(deep=False).get("module__n_classes")
        if n_out is not None and n_out != n_classes:
            raise InconsistentModelError(
                f"{where} parameter module__n_classes = {n_out!r:.20} does not match the "
                f"{n_classes} classes in classes_")
