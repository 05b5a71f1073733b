"""Soft-voting ensembles in a safe model file: scikit-learn's ``VotingClassifier``.

An ensemble is written as its parameters (``voting``, ``weights``, ...), its fitted members
as nested descriptions of their own (``members``: ``[name, description]`` pairs, their
networks' weights under ``<prefix>members.<j>.``) and its ``classes_``. Its label encoder
(``le_``) and ``named_estimators_`` are not stored: loading rebuilds them from ``classes_``
and the members, so a file cannot give an encoder of its own.

The members are fitted on the encoded labels ``0 .. n_classes - 1`` (what ``VotingClassifier``
passes them), so loading checks that every member knows exactly those classes, that each one
can give probabilities for a soft vote, and that the weights are finite, non-negative, one
per member, not all zero.
"""

import numbers

import numpy as np

from ..exceptions import InconsistentModelError, UnrepresentableError
from ..utils._fields import check_classes, check_finite
from ._codec import decode, encode

__all__ = ["VOTING", "build_voting", "describe_voting", "is_voting"]

#: The allow-listed name of the ensemble class.
VOTING = "sklearn.ensemble.VotingClassifier"
#: At most this many members (the library's ensembles have a handful).
MAX_MEMBERS = 16


def is_voting(est):
    """Whether ``est`` is exactly a ``VotingClassifier`` (a subclass is not allow-listed)."""
    from sklearn.ensemble import VotingClassifier

    return type(est) is VotingClassifier


def describe_voting(est, tensors, where, prefix, describe):
    """JSON-able description of a ``VotingClassifier``; its members' weights go in ``tensors``.

    ``describe`` is the writer's function for one estimator (the members are described
    with it, nested).
    """
    params = est.get_params(deep=False)
    members = params.pop("estimators")
    if any(isinstance(m, str) for _, m in members):
        raise UnrepresentableError(where, est, "whose members are all estimators (no 'drop')")
    fitted = hasattr(est, "estimators_")
    if fitted:
        members = [(name, m) for (name, _), m in zip(members, est.estimators_, strict=True)]
    spec = {"class": VOTING, "params": {k: encode(v, f"{where} parameter {k}")
                                        for k, v in params.items()}}
    spec["members"] = [[name, describe(m, tensors, f"{where}[{name!r}]",
                                       f"{prefix}members.{j}.")]
                       for j, (name, m) in enumerate(members)]
    spec["fitted"] = {"classes_": encode(est.classes_, f"{where}.classes_")} if fitted else {}
    return spec


def build_voting(cls, spec, params, tensors, where, depth, build):
    """Inverse of :func:`describe_voting`, checking the ensemble as it is built.

    ``params`` are the decoded (and already checked) parameters, ``build`` the reader's
    function for one nested description.
    """
    from sklearn.base import clone
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    members = spec.get("members")
    if not (isinstance(members, list) and 1 <= len(members) <= MAX_MEMBERS):
        raise InconsistentModelError(
            f"{where}.members is not a list of 1 to {MAX_MEMBERS} [name, member] pairs")
    names = []
    for pair in members:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
                and pair[0].isidentifier() and "__" not in pair[0]):
            raise InconsistentModelError(
                f"{where}.members: each member is a [name, description] pair, the name an "
                "identifier without '__'")
        names.append(pair[0])
    if len(set(names)) != len(names):
        raise InconsistentModelError(f"{where}.members: the names {names} are not unique")
    if "estimators" in params:
        raise InconsistentModelError(f"{where}: the members are given as members, not as a "
                                     "parameter")
    _check_voting_params(params, len(names), where)
    built = [build(s, tensors, f"{where}[{n!r}]", depth + 1) for n, s in members]
    est = cls(estimators=[(n, clone(m)) for n, m in zip(names, built, strict=True)], **params)
    fitted = spec.get("fitted", {})
    if not fitted:
        return est
    classes = decode(fitted["classes_"], f"{where}.classes_")
    check_finite(classes, f"{where}.classes_")
    n_classes = check_classes(classes, f"{where}.classes_")
    for name, member in zip(names, built, strict=True):
        _check_member(member, n_classes, params.get("voting"), f"{where}[{name!r}]")
    encoder = LabelEncoder()
    encoder.classes_ = classes
    est.le_ = encoder
    est.classes_ = classes
    est.estimators_ = built
    est.named_estimators_ = Bunch(**dict(zip(names, built, strict=True)))
    return est


def _check_voting_params(params, n_members, where):
    voting = params.get("voting", "hard")
    if voting not in ("soft", "hard"):
        raise InconsistentModelError(f"{where} parameter voting = {voting!r:.40} is not "
                                     "'soft' or 'hard'")
    weights = params.get("weights")
    if weights is None:
        return
    ok = (isinstance(weights, list) and len(weights) == n_members
          and all(isinstance(w, numbers.Real) and not isinstance(w, bool) for w in weights))
    if not ok:
        raise InconsistentModelError(f"{where} parameter weights is not one number per member "
                                     f"({n_members})")
    w = np.asarray(weights, dtype=float)
    if (w < 0).any() or w.sum() <= 0:
        raise InconsistentModelError(f"{where} parameter weights = {weights!r:.60} holds a "
                                     "negative weight or only zeros")


def _check_member(member, n_classes, voting, where):
    """A member: a classifier fitted on the encoded labels, with probabilities to vote."""
    from sklearn.base import is_classifier

    if not is_classifier(member):
        raise InconsistentModelError(f"{where} is a {type(member).__name__}, not a classifier")
    classes = getattr(member, "classes_", None)
    expected = np.arange(n_classes)
    if not (isinstance(classes, np.ndarray) and classes.shape == expected.shape
            and classes.dtype.kind in "iuf" and (classes == expected).all()):
        raise InconsistentModelError(
            f"{where}.classes_ is not 0 .. {n_classes - 1}, the encoded labels of the "
            "ensemble's classes_ that its members are fitted on")
    if voting == "soft" and not hasattr(member, "predict_proba"):
        raise InconsistentModelError(f"{where} gives no probabilities for a soft vote")
