"""What SkinNetClassifier checks about its parameters, inputs and labels (a mixin).

Apart from the base class so that ``_base.py`` reads as the training loop; the checks shared
with other estimators are in :mod:`skin_estimators.utils._validation`.
"""

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ..utils._device import check_device_available
from ..utils._param_validation import validate_constraints
from ..utils._validation import check_channels_first_images, check_finite_params

__all__ = ["InputChecks"]

#: skorch's prefixes of the keyword arguments it hands on to the objects it builds.
_ROUTED_PREFIXES = ("module", "criterion", "optimizer")


class InputChecks:
    """Parameter, input and label checks of :class:`SkinNetClassifier` (see there)."""

    def _validate_X(self, X, y=None, reset=True):
        """Check X (and y) the scikit-learn way; images get the image-specific checks."""
        if self._image_input:
            return self._validate_images(X, y, reset=reset)
        kwargs = dict(dtype=np.float32, reset=reset, ensure_min_samples=2 if reset else 1)
        if y is None:
            X = validate_data(self, X, **kwargs)
        else:
            X, y = validate_data(self, X, y, **kwargs)
        if reset:
            self.input_shape_ = tuple(X.shape[1:])
        return self._writeable(X), y

    def _validate_images(self, X, y=None, reset=True):
        name = type(self).__name__
        arr = check_channels_first_images(X, name)
        if arr.shape[1] != self._n_channels:
            hint = ""
            if arr.shape[-1] == self._n_channels:
                hint = (
                    " The array looks channels-last (n, H, W, C): ChannelNormalizer() converts "
                    "the output of ImageLoader() to (n, C, H, W)."
                )
            raise ValueError(
                f"{name} expects images with {self._n_channels} channels in (n, C, H, W) "
                f"layout, got shape {arr.shape}.{hint}"
            )
        if min(arr.shape[2:]) < self._min_image_size:
            raise ValueError(
                f"{name} needs images of at least {self._min_image_size}x"
                f"{self._min_image_size} pixels, got {arr.shape[2]}x{arr.shape[3]}. "
                "Use ImageLoader(size=...) with a larger size."
            )
        kwargs = dict(
            dtype=np.float32, allow_nd=True, reset=reset, ensure_min_samples=2 if reset else 1
        )
        if y is None:
            arr = validate_data(self, arr, **kwargs)
        else:
            arr, y = validate_data(self, arr, y, **kwargs)
        if reset:
            self.input_shape_ = tuple(arr.shape[1:])
        elif self._fixed_input_size and tuple(arr.shape[1:]) != tuple(self.input_shape_):
            fh, fw = self.input_shape_[1:]
            raise ValueError(
                f"{name} was fitted on {fh}x{fw} images and its final layer is sized for them, "
                f"but got {arr.shape[2]}x{arr.shape[3]} images. Load them with "
                f"ImageLoader(size=({fh}, {fw})) (a Pipeline does this for you)."
            )
        return self._writeable(arr), y

    @staticmethod
    def _writeable(X):
        # torch warns on (and may mis-handle) read-only buffers such as joblib memmaps.
        if isinstance(X, np.ndarray) and not X.flags.writeable:
            X = X.copy()
        return np.ascontiguousarray(X)

    def _encode_labels(self, y):
        """Fit the label encoder on y (or on ``classes``) and return y as integer codes."""
        y = np.asarray(y)
        if y.dtype == object:
            kinds = sorted({type(v).__name__ for v in y.ravel()})
            if len(kinds) > 1:  # numpy would fail sorting them with a bare TypeError
                raise ValueError(
                    f"y mixes label types ({', '.join(kinds)}); give every label the same "
                    "type, e.g. all strings: y = [str(label) for label in y]."
                )
        check_classification_targets(y)
        encoder = LabelEncoder()
        encoder.fit(self.classes if self.classes is not None else y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes to train, but y "
                f"holds only one class: {encoder.classes_.tolist()}."
            )
        unseen = np.setdiff1d(y, encoder.classes_)
        if unseen.size:
            raise ValueError(f"y contains labels {unseen.tolist()} that are not in classes.")
        self.label_encoder_ = encoder
        return encoder.transform(y).astype(np.int64)

    def _compute_class_weight(self, y):
        if self.class_weight is None:
            return None
        return compute_class_weight(self.class_weight, classes=self.classes_, y=y).astype(
            np.float32)

    def _check_params(self):
        """The one place where the parameters are checked, before anything is built.

        The declared ``_parameter_constraints`` first (skorch's ``_validate_params``, which
        checks the names of its keyword arguments, keeps its own name and runs in
        ``initialize``), then what no single constraint can say.
        """
        validate_constraints(self)
        self._check_routed_params()
        name = type(self).__name__
        if self.tta is not None and not self._image_input:
            raise ValueError(
                f"tta={self.tta!r} mirrors images; {name} takes 2-D tables. Use tta=None."
            )
        check_device_available(self.__dict__.get("device"), owner=name)

    def _check_routed_params(self):
        """The numbers skorch hands on unchecked to the objects it builds.

        A NaN ``optimizer__momentum`` or ``module__drop_rate`` trains silently.
        """
        prefixes = {*_ROUTED_PREFIXES, *self._modules, *self._criteria, *self._optimizers}
        routed = {key: value for key, value in self.get_params(deep=False).items()
                  if key.partition("__")[0] in prefixes and "__" in key}
        check_finite_params(routed, owner=type(self).__name__)

    def _check_params_for_partial_fit(self):
        """:meth:`_check_params`, and the fitted optimizers' settings that training goes on with.

        ``set_params(lr=...)`` or ``optimizer__momentum=...`` on a fitted estimator changes
        its optimizers in place; ``fit`` builds new ones from the parameters, but
        ``partial_fit`` trains with these.
        """
        self._check_params()
        for prefix in self._optimizers:
            optimizer = getattr(self, prefix + "_", None)
            for group in getattr(optimizer, "param_groups", ()):
                settings = {f"{prefix}__{key}": value for key, value in group.items()
                            if key != "params"}
                check_finite_params(settings, owner=type(self).__name__)
