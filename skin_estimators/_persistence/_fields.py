"""Declared fitted fields: what each fitted attribute of an estimator may hold, as a table.

An estimator whose fitted state is plain numbers and arrays (a
:class:`~skin_estimators.TrustedClassifier`, a :class:`~skin_estimators.PretrainedFeatures`)
declares it as a table ``{attribute: field}``. The table is at once the allow-list of the
attributes a safe model file may set on the estimator (``_fitted.py`` reads its keys) and
the check of each value, so a new fitted attribute is stored, allowed and checked by adding
one line to it. A field says the attribute's kind (an array of floats or of integers, a
number, an integer, a text, a tuple of sizes), its shape in named dimensions and its range:

>>> import numpy as np
>>> table = {"means_": Floats("n_classes", "width"), "counts_": Ints("n_classes", low=1)}
>>> class Fitted:
...     means_ = np.zeros((3, 4))
...     counts_ = np.array([2, 0, 5])
>>> check_fields(Fitted(), table, "model", {"n_classes": (3, "the classes")})
Traceback (most recent call last):
...
skin_estimators.exceptions.InconsistentModelError: model.counts_ holds 0, below its minimum 1

A dimension is either known before the check (``dims``: the number of classes, the width
of the features the wrapped estimator gives, each with what it is) or bound by the first
field that has it; every later field must agree, so that the arrays of one fitted model
fit each other. The fields are checked in the table's order; an attribute the estimator
does not have, or that is None where the field is ``optional``, is skipped: which
attributes must be set is said apart (``_fitted.REQUIRED``) or by the estimator's own
check, which also checks what no single field can say (sums, orderings, nested models).
"""

import numbers

import numpy as np

from ..exceptions import InconsistentModelError

__all__ = ["MAX_TEXT", "Floats", "Integer", "Ints", "Number", "Sizes", "Text", "check_fields"]

#: The longest text a model file may hold in one value (characters).
MAX_TEXT = 65536


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


class _Field:
    """A fitted attribute's declared kind; ``optional``: None is accepted."""

    optional = True

    def check(self, value, where, dims):
        raise NotImplementedError


def _size(dim, where, dims):
    """The size a dimension must have, or None (any size, or not bound yet)."""
    if dim is None or _is_int(dim):
        return dim
    bound = dims.get(dim)
    return None if bound is None else bound[0]


def _check_shape(value, shape, where, dims):
    if value.ndim != len(shape):
        raise InconsistentModelError(f"{where} has {value.ndim} dimension(s); {len(shape)} "
                                     "expected")
    for axis, (dim, got) in enumerate(zip(shape, value.shape, strict=True)):
        want = _size(dim, where, dims)
        if want is None:
            if isinstance(dim, str):
                dims[dim] = (got, f"{where} axis {axis}")  # bound: later fields must agree
            continue
        if got != want:
            meaning = dims[dim][1] if isinstance(dim, str) else "fixed"
            raise InconsistentModelError(
                f"{where} has shape {value.shape}, {got} along axis {axis}; {want} expected "
                f"({dim}: {meaning})")


def _check_range(values, low, high, where, dims, low_open=False):
    if values.size == 0:
        return
    high = _size(high, where, dims) if isinstance(high, str) else high
    smallest, largest = values.min(), values.max()
    if low is not None and (smallest < low or (low_open and smallest <= low)):
        raise InconsistentModelError(
            f"{where} holds {smallest.item()!r}, below its minimum {low}"
            + (" (excluded)" if low_open else ""))
    if high is not None and largest > high:
        raise InconsistentModelError(f"{where} holds {largest.item()!r}, above its maximum "
                                     f"{high}")


class Floats(_Field):
    """An array of floats of ``shape`` (named dimensions, ints or None), within [low, high]."""

    def __init__(self, *shape, low=None, high=None, low_open=False):
        self.shape, self.low, self.high, self.low_open = shape, low, high, low_open

    def check(self, value, where, dims):
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise InconsistentModelError(f"{where} is not an array of floats")
        _check_shape(value, self.shape, where, dims)
        _check_range(value, self.low, self.high, where, dims, self.low_open)


class Ints(_Field):
    """An array of integers of ``shape``; ``high``, a number or a dimension, is excluded."""

    def __init__(self, *shape, low=0, high=None):
        self.shape, self.low, self.high = shape, low, high

    def check(self, value, where, dims):
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "iu":
            raise InconsistentModelError(f"{where} is not an array of integers")
        _check_shape(value, self.shape, where, dims)
        high = _size(self.high, where, dims) if isinstance(self.high, str) else self.high
        _check_range(value, self.low, None if high is None else high - 1, where, dims)


class Number(_Field):
    """A real number (not a boolean) within [low, high] (``low_open``: low excluded)."""

    def __init__(self, low=None, high=None, low_open=False):
        self.low, self.high, self.low_open = low, high, low_open

    def check(self, value, where, dims):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise InconsistentModelError(f"{where} = {value!r:.40} is not a number")
        _check_range(np.asarray([float(value)]), self.low, self.high, where, dims,
                     self.low_open)


class Integer(_Field):
    """An integer (not a boolean) within [low, high]; ``binds``: the dimension it sizes."""

    def __init__(self, low=None, high=None, binds=None, optional=True):
        self.low, self.high, self.binds, self.optional = low, high, binds, optional

    def check(self, value, where, dims):
        if not _is_int(value):
            raise InconsistentModelError(f"{where} = {value!r:.40} is not an integer")
        _check_range(np.asarray([int(value)]), self.low, self.high, where, dims)
        if self.binds is not None:
            want = _size(self.binds, where, dims)
            if want is not None and int(value) != want:
                raise InconsistentModelError(
                    f"{where} = {value}; {want} expected ({self.binds}: "
                    f"{dims[self.binds][1]})")
            dims.setdefault(self.binds, (int(value), where))


class Text(_Field):
    """A text of at most ``max_chars`` characters."""

    def __init__(self, max_chars=MAX_TEXT):
        self.max_chars = max_chars

    def check(self, value, where, dims):
        if not isinstance(value, str):
            raise InconsistentModelError(f"{where} = {value!r:.40} is not a text")
        if len(value) > self.max_chars:
            raise InconsistentModelError(f"{where} is a text of {len(value)} characters; at "
                                         f"most {self.max_chars} expected")


class Sizes(_Field):
    """A tuple of ``length`` positive integers, each at most ``high`` (an image's shape)."""

    def __init__(self, length, high=None):
        self.length, self.high = length, high

    def check(self, value, where, dims):
        if not (isinstance(value, tuple) and len(value) == self.length
                and all(_is_int(v) and v >= 1 for v in value)):
            raise InconsistentModelError(f"{where} = {value!r:.60} is not a tuple of "
                                         f"{self.length} positive integers")
        _check_range(np.asarray(value), 1, self.high, where, dims)


class Checked(_Field):
    """An attribute checked by the estimator's own code (its form depends on parameters or
    on other attributes): listed so that the table stays the full allow-list."""

    def check(self, value, where, dims):
        return None


def check_fields(est, table, where, dims=None):
    """Check each attribute of ``est`` named in ``table`` against its field.

    Parameters
    ----------
    est : object
        The built estimator, its fitted attributes set.
    table : dict
        ``{attribute: field}``, checked in this order.
    where : str
        Where the estimator sits in the file (``model['trustedclassifier']``).
    dims : dict, default=None
        Known dimensions, ``{name: (size, what it is)}``; completed with those the fields
        bind (returned).

    Returns
    -------
    dict
        The dimensions, known and bound.
    """
    dims = dict(dims or {})
    missing = object()
    for name, field in table.items():
        value = getattr(est, name, missing)
        if value is missing or (value is None and field.optional):
            continue
        field.check(value, f"{where}.{name}", dims)
    return dims
