"""Declared parameter constraints: scikit-learn's machinery, the library's one-line messages.

Every estimator, transformer and callback of the library declares ``_parameter_constraints``,
a dict ``{parameter: [constraint, ...]}`` in the form of scikit-learn (and imbalanced-learn):
a value is valid when it satisfies one constraint of its list. A subclass extends its base's
dict (``{**Base._parameter_constraints, "J": [...]}``) and :func:`validate_constraints`
checks them all in one place, at the start of ``fit``.

The checking itself is scikit-learn's ``validate_parameter_constraints``, which lives in the
private module ``sklearn.utils._param_validation``. This module is the only one of the library
that imports it: the rest imports the constraints from here. That private module is the same
in scikit-learn 1.6.0 (the floor of ``setup.cfg``) and 1.9.1 (compared file by file: only
imports and the wording of sparse matrices differ). What is added here:

- :class:`Interval` refuses booleans (scikit-learn counts ``True`` as the integer 1);
- each constraint may carry its own wording (``text=``), and the message has the library's
  form: ``"VanillaCNNClassifier: lr must be a finite positive number, got nan."``, one line
  that names the estimator, the parameter, what it takes and what it got;
- :class:`Satisfies`, a constraint given as a predicate, for values no scikit-learn
  constraint describes (an image size that is an int or a pair of ints).
"""

import numbers

import numpy as np
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    InvalidParameterError,
    make_constraint,
    validate_parameter_constraints,
)
from sklearn.utils._param_validation import Interval as _Interval
from sklearn.utils._param_validation import Options as _Options

from ..exceptions import SkinEstimatorsError

__all__ = [
    "BOOLEAN",
    "DEVICE",
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "ParameterConstraintError",
    "StrOptions",
    "Satisfies",
    "WEIGHTS_SOURCE",
    "describe_constraints",
    "is_int",
    "is_real",
    "positive_int",
    "positive_number",
    "validate_constraints",
]


class ParameterConstraintError(SkinEstimatorsError, InvalidParameterError):
    """A parameter value that none of its declared constraints accepts.

    A :class:`~skin_estimators.exceptions.SkinEstimatorsError`, and a ``ValueError`` and a
    ``TypeError``, like scikit-learn's ``InvalidParameterError`` (its base, which
    scikit-learn's own checks expect; hence defined here, the one module that imports it).
    ``owner``, ``param``, ``value`` and ``takes`` say who, which parameter, what it got
    and what it takes, for callers that word the problem their own way (the config checker).
    """

    def __init__(self, owner, param, value, takes, hint=""):
        self.owner, self.param, self.value, self.takes = owner, param, value, takes
        self.hint = hint
        self.problem = f"must be {takes}, got {shown(value)}{hint}"
        super().__init__(f"{owner}: {param} {self.problem}.")


def shown(value, limit=80):
    """``repr`` of a value on one line, numpy scalars as plain numbers, cut at ``limit``."""
    if isinstance(value, np.generic):
        value = value.item()
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_bool(value):
    return isinstance(value, bool | np.bool_)


class Interval(_Interval):
    """scikit-learn's ``Interval`` without booleans, with an optional wording ``text``.

    >>> from numbers import Real
    >>> lr = Interval(Real, 0, None, closed="neither", text="a finite positive number")
    >>> lr.is_satisfied_by(0.1), lr.is_satisfied_by(float("nan")), lr.is_satisfied_by(True)
    (True, False, False)
    """

    def __init__(self, type, left, right, *, closed, text=None):
        super().__init__(type, left, right, closed=closed)
        self.text = text

    def is_satisfied_by(self, val):
        return not _is_bool(val) and super().is_satisfied_by(val)

    def __str__(self):
        return self.text or super().__str__()


class Options(_Options):
    """scikit-learn's ``Options``, shown in the order given (or as ``text``)."""

    def __init__(self, type, options, *, text=None):
        self._order = list(options)
        super().__init__(type, set(self._order))
        self.text = text

    def is_satisfied_by(self, val):
        return not (_is_bool(val) and self.type is not bool) and super().is_satisfied_by(val)

    def __str__(self):
        if self.text:
            return self.text
        return "one of " + ", ".join(repr(o) for o in self._order)


class StrOptions(Options):
    """A set of strings (scikit-learn's ``StrOptions``, shown in the order given)."""

    def __init__(self, options, *, text=None):
        super().__init__(str, options, text=text)


class Satisfies(_Options):
    """A constraint given as a predicate, with its wording and an optional hint.

    ``hint(value)`` returns text put after the value in the message (``" (did you mean
    ...?)"``) or ''. Built on scikit-learn's ``Options`` so that its
    ``validate_parameter_constraints`` takes it as a constraint object.

    >>> even = Satisfies(lambda v: isinstance(v, int) and v % 2 == 0, "an even int")
    >>> even.is_satisfied_by(4), even.is_satisfied_by(3), str(even)
    (True, False, 'an even int')
    """

    def __init__(self, predicate, text, hint=None):
        super().__init__(object, set())
        self.predicate, self.text, self.hint = predicate, text, hint

    def is_satisfied_by(self, val):
        try:
            return bool(self.predicate(val))
        except Exception:  # noqa: BLE001 - a predicate that cannot judge a value refuses it
            return False

    def __str__(self):
        return self.text


#: ``True`` or ``False`` (Python or numpy booleans).
BOOLEAN = Satisfies(_is_bool, "True or False")


def describe_constraints(constraints):
    """What a list of constraints takes, in words: ``"None or a positive integer"``."""
    parts = [c for c in (make_constraint(c) for c in constraints) if not c.hidden]
    texts = [_text(c) for c in parts]
    if len(texts) == 1:
        return texts[0]
    # "None, a positive int or a negative int" rather than "None or a positive int or ...".
    last = ", " if len(texts) == 2 and " or " in texts[-1] else " or "
    return ", ".join(texts[:-1]) + last + texts[-1]


def _text(constraint):
    text = str(constraint)
    # scikit-learn's own wordings of plain types and of callables, in the library's words.
    if text.startswith("an instance of '") and text.endswith("'"):
        return "a " + text[len("an instance of '"):-1]
    return text


def _hint(constraints, value):
    for constraint in constraints:
        hint = getattr(constraint, "hint", None)
        if hint is not None:
            text = hint(value)
            if text:
                return text
    return ""


def validate_constraints(estimator, params=None, owner=None):
    """Check ``params`` (default: ``get_params(deep=False)``) against the declared constraints.

    The one place where the library's estimators check the type and range of each of their
    parameters; ``fit`` calls it before anything is built. Parameters without a declared
    constraint (skorch's routed ``optimizer__momentum``, ...) are not checked here.

    Parameters
    ----------
    estimator : object
        Has ``_parameter_constraints`` (and ``get_params`` when ``params`` is None).
    params : dict, default=None
        The values to check.
    owner : str, default=None
        The name that starts the message; default: the estimator's class name.

    Raises
    ------
    ParameterConstraintError
        For the first parameter that none of its constraints accepts.

    Examples
    --------
    >>> from numbers import Integral
    >>> class Toy:
    ...     _parameter_constraints = {"n": [Interval(Integral, 1, None, closed="left")]}
    ...     def get_params(self, deep=False):
    ...         return {"n": 0}
    >>> validate_constraints(Toy())
    Traceback (most recent call last):
    ...
    skin_estimators.utils._param_validation.ParameterConstraintError: Toy: n must be an int \
in the range [1, inf), got 0.
    """
    constraints = getattr(estimator, "_parameter_constraints", {})
    if params is None:
        params = estimator.get_params(deep=False)
    owner = owner or type(estimator).__name__
    for name, value in params.items():
        if name not in constraints:
            continue
        try:
            validate_parameter_constraints({name: constraints[name]}, {name: value}, owner)
        except InvalidParameterError:
            own = constraints[name]
            raise ParameterConstraintError(
                owner, name, value, describe_constraints(own), _hint(own, value)
            ) from None


def is_int(value):
    """An integer that is not a boolean (Python or numpy)."""
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def is_real(value):
    """A real number that is not a boolean (Python or numpy)."""
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _is_weights_source(value):
    import os

    if _is_bool(value):
        return True
    return isinstance(value, str | os.PathLike) and str(value) != ""


#: The ``pretrained`` parameter of the pretrained estimators and transformers.
WEIGHTS_SOURCE = Satisfies(
    _is_weights_source,
    "True (the pretrained weights), False (random initialisation) or the path of a weights file",
)


def _is_device(value):
    if value is None or isinstance(value, str) or (is_int(value) and value >= 0):
        return True
    import sys

    torch = sys.modules.get("torch")  # a torch.device exists only once torch is imported
    return torch is not None and isinstance(value, torch.device)


#: A ``device`` parameter; whether this machine has that device is checked where it is used.
DEVICE = Satisfies(_is_device, "'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device")


def positive_int(text="a positive integer"):
    """An int >= 1 (not a boolean)."""
    return Interval(numbers.Integral, 1, None, closed="left", text=text)


def positive_number(text="a finite positive number"):
    """A finite real number > 0 (not a boolean; NaN and infinity refused)."""
    return Interval(numbers.Real, 0, None, closed="neither", text=text)
