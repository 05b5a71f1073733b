"""Ensemble rows of a config: ``name: ensemble`` with ``members:``, a soft vote of other models.

An entry ``{name: ensemble, members: [...]}`` is one row whose estimator is scikit-learn's
``VotingClassifier(voting="soft")``: the members' class probabilities, averaged (optionally
weighted: ``params: {weights: [2, 1, 1]}``). A member is either the ``label`` (or, without
one, the ``name``) of another entry of ``models:``, which then is also a row of its own, or
an inline entry (``{name: recommended, label: lite1, params: {...}}``). The members share the
row's inputs (one ``ImageLoader`` and one ``ChannelNormalizer`` in front of the ensemble),
so they must agree on the normalisation. The ensemble is one estimator, saved as one safe
model file.
"""

import re

__all__ = ["ENSEMBLE", "ENSEMBLE_PARAMS", "check_ensembles", "ensemble_normalization",
           "inline_members", "make_ensemble", "member_name", "member_specs"]

#: The model name of an ensemble entry.
ENSEMBLE = "ensemble"
#: The parameters an ensemble entry may set (on the ``VotingClassifier``).
ENSEMBLE_PARAMS = ("weights",)


def _label(spec):
    return spec.label or spec.name


def member_name(label, taken=()):
    """The member's name in the ``VotingClassifier``: its label as a Python identifier."""
    name = re.sub(r"_+", "_", re.sub(r"\W", "_", str(label).lower())).strip("_") or "member"
    if name[0].isdigit():
        name = f"m_{name}"
    base, k = name, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def member_specs(config, spec):
    """The member entries (``ModelSpec``) of ensemble ``spec``, references resolved.

    Assumes :func:`check_ensembles` found no problem.
    """
    out = []
    for member in spec.members:
        if isinstance(member, str):
            member = next(m for m in config.models
                          if m.name != ENSEMBLE and _label(m) == member)
        out.append(member)
    return out


def check_ensembles(config):
    """What is wrong with the config's ensemble entries: ``[(dotted key, message), ...]``."""
    problems = []
    labels = {}
    for i, spec in enumerate(config.models):
        if spec.name != ENSEMBLE:
            labels.setdefault(_label(spec), []).append(i)
    for i, spec in enumerate(config.models):
        key = f"models[{i}]"
        if spec.name != ENSEMBLE:
            if spec.members is not None:
                problems.append((f"{key}.members", f"only an entry with name: {ENSEMBLE} has "
                                 "members (a soft vote of other models)"))
            continue
        if not spec.members or len(spec.members) < 2:
            problems.append((f"{key}.members", "an ensemble needs at least 2 members: labels "
                             "of other entries, or entries of their own"))
            continue
        for key_, values in (("params", spec.params), ("grid", spec.grid)):
            for name in values:
                if name not in ENSEMBLE_PARAMS:
                    problems.append((f"{key}.{key_}.{name}", "an ensemble takes only "
                                     f"{', '.join(ENSEMBLE_PARAMS)}; its members' parameters "
                                     "go in their own entries"))
        norms = set()
        for j, member in enumerate(spec.members):
            where = f"{key}.members[{j}]"
            if isinstance(member, str):
                found = labels.get(member, [])
                if len(found) != 1:
                    problems.append((where, (
                        f"{member!r} is the label of no other entry" if not found else
                        f"{member!r} labels several entries ({found}); give them labels")
                        + f"; labels here: {', '.join(map(repr, labels)) or 'none'}"))
                    continue
                member = config.models[found[0]]
                if member.grid:
                    problems.append((where, f"{_label(member)!r} has a grid (several rows); "
                                     "an ensemble's member is one row"))
                    continue
            else:
                bad = [k for k in ("grid", "members", "reference") if getattr(member, k)]
                if member.name == ENSEMBLE:
                    bad.insert(0, "name: ensemble")
                if bad:
                    problems.append((where, f"an inline member has no {', '.join(bad)}"))
                    continue
            norms.add(_normalization(config, member))
        if spec.normalization is not None:
            own = _normalization(config, spec)
            if norms and norms != {own}:
                problems.append((f"{key}.normalization", f"{own} differs from the members' "
                                 f"({', '.join(sorted(norms))}); they share the inputs"))
        elif len(norms) > 1:
            problems.append((f"{key}.members", "the members share one ImageLoader and "
                             "ChannelNormalizer, but their normalisations differ ("
                             f"{', '.join(sorted(norms))}); set the same normalization"))
        weights = [spec.params.get("weights")] + list(spec.grid.get("weights", []))
        for w in weights:
            if w is not None and not (isinstance(w, list) and len(w) == len(spec.members)
                                      and all(isinstance(v, (int, float))
                                              and not isinstance(v, bool) and v >= 0
                                              for v in w) and sum(w) > 0):
                problems.append((f"{key}.params.weights", f"must be {len(spec.members)} "
                                 f"non-negative numbers, one per member, not all 0 (got {w!r})"))
    return problems


def _normalization(config, spec):
    from ._registry import default_normalization

    norm = spec.normalization or config.normalization
    return default_normalization(spec.name) if norm == "auto" else norm


def ensemble_normalization(config, spec):
    """The normalisation of an ensemble row: its members' (they share it)."""
    return _normalization(config, member_specs(config, spec)[0])


def make_ensemble(row, seed, device):
    """The row's unfitted ``VotingClassifier(voting="soft")`` of its members' estimators."""
    from sklearn.ensemble import VotingClassifier

    names, members = [], []
    for member in row.members:
        names.append(member_name(member.label, names))
        members.append((names[-1], member.make_estimator(seed, device)))
    return VotingClassifier(members, voting="soft", **row.params)


def inline_members(entries):
    """``models:`` entries as read from YAML, each ensemble's references made inline.

    For ``--model ensemble``: keeping only the ensemble entries would leave their references
    pointing at nothing, so the referenced entries are copied into them.
    """
    plain = {}
    for m in entries:
        if isinstance(m, dict) and m.get("name") != ENSEMBLE:
            plain.setdefault(m.get("label") or m.get("name"), []).append(m)
    out = []
    for m in entries:
        if isinstance(m, dict) and m.get("name") == ENSEMBLE and isinstance(m.get("members"),
                                                                              list):
            members = []
            for member in m["members"]:
                found = plain.get(member, []) if isinstance(member, str) else []
                if len(found) == 1:
                    member = {k: v for k, v in found[0].items() if k != "reference"}
                    member.setdefault("label", member.get("name"))
                members.append(member)
            m = {**m, "members": members}
        out.append(m)
    return out
