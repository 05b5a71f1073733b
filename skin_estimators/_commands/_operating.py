"""``evaluate``'s operating point: the share of photos answered ``confident`` and the
accuracy among them, per class; the flags of photos of other conditions
(``--out-of-scope-photos``); the risk-coverage curve. Written to operating_point.csv,
out_of_scope_predictions.csv and risk_coverage.png."""

import os

import numpy as np

from ._common import CommandError, atomic_open, collect_files, open_csv

__all__ = ["OUTPUT_FILES", "check_flags", "load_out_of_scope_photos",
           "operating_point_section"]

#: The files this part of ``evaluate`` writes into ``--out``.
OUTPUT_FILES = ("operating_point.csv", "out_of_scope_predictions.csv", "risk_coverage.png")

_FIELDS = ("photos", "group", "n", "confident", "confident_accuracy", "coverage",
           "mean_set_size", "uncertain", "out_of_scope")


def load_out_of_scope_photos(folder):
    """``(paths, groups, where)`` of ``--out-of-scope-photos``: every file under ``folder``
    (searched recursively), grouped by their first sub-folder (``"."`` for files directly
    in it); ``"sd198_other"`` is :func:`~skin_estimators.datasets.fetch_sd198`'s other
    conditions."""
    if folder == "sd198_other":
        from ..datasets import fetch_sd198

        try:
            data = fetch_sd198("other")
        except (OSError, ValueError) as exc:
            raise CommandError(f"--out-of-scope-photos sd198_other: {exc}") from None
        return [str(f) for f in data.filenames], data.groups.astype(str), "fetch_sd198('other')"
    if not os.path.isdir(folder):
        raise CommandError(f"--out-of-scope-photos {folder!r} is not a folder: give a folder "
                           "of photos of conditions the model was not trained on (one "
                           "sub-folder per condition, or none), or 'sd198_other'", code=2)
    paths = collect_files([folder])
    if not paths:
        raise CommandError(f"--out-of-scope-photos {folder!r} holds no file", code=2)
    groups = []
    for p in paths:
        parts = os.path.relpath(p, folder).split(os.sep)
        groups.append(parts[0] if len(parts) > 1 else ".")
    return paths, np.asarray(groups, dtype=str), folder


def check_flags(model):
    """Refuse ``--out-of-scope-photos`` for a model without flags, before any photo is read."""
    from .._internal import trusted_file_pipeline

    try:
        trusted = trusted_file_pipeline(model)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if trusted is None:
        raise CommandError("--out-of-scope-photos needs a model with trust parts (flags): "
                           "train it from a config with a trust: section", code=2)


def _flags_of(model, paths, batch_size, tta, progress):
    """The records of unlabelled photos through the trusted pipeline, and their columns as
    arrays (``stack_predictions``)."""
    from .._internal import iter_predictions, stack_predictions, trusted_file_pipeline

    pipe = trusted_file_pipeline(model)
    records = list(iter_predictions(pipe, paths, batch_size, tta, progress,
                                    desc="out of scope"))
    return records, stack_predictions(records, pipe[-1].classes_)


def _pct(value):
    return "–" if value != value else f"{100 * value:.1f} %"


def _num(value, spec):
    return "" if value != value else format(value, spec)


def operating_point_section(result, out, model=None, other=None, batch_size=16, tta=False,
                            progress=False):
    """Write the operating point's files into ``out`` and return the report's text.

    ``result``: :func:`~skin_estimators.audit.evaluate_model`'s; ``other``: the output of
    :func:`load_out_of_scope_photos` or None. Returns ``(text, n_other_errors, headline)``;
    the text is empty and ``headline`` None for a model without trust parts (no flags: only
    the curve is drawn). ``headline``: the overall operating point, ``{"confident",
    "confident_accuracy", "other_confident"}`` (the last NaN without ``other``), for the
    HTML report's figures.
    """
    from ..uncertainty import flag_shares, operating_point, risk_coverage_curve
    from ._risk_coverage import risk_coverage_figure

    ok = np.array([e is None for e in result.errors], dtype=bool)
    classes = [str(c) for c in result.classes]
    truth, pred = result.y_true[ok], result.y_pred[ok].astype(str)
    curve = risk_coverage_curve(truth, result.proba[ok], classes) if ok.any() else None
    trust = result.trust
    if trust is None:
        if other is not None:
            check_flags(model)
        if curve is not None:
            risk_coverage_figure(curve, None, None, os.path.join(out, "risk_coverage.png"))
        return "", 0, None
    present = [c for c in classes if c in set(truth.tolist())]
    point = operating_point(truth, pred, trust.flags[ok], labels=present)
    shares = {c: flag_shares(trust.flags[ok][truth == c]) for c in present}
    shares["overall"] = flag_shares(trust.flags[ok])
    rows = []
    for c in ["overall", *present]:
        p = point[c]
        cov = trust.coverage if c == "overall" else trust.coverage_per_class.get(c, np.nan)
        size = trust.mean_set_size if c == "overall" else trust.size_per_class.get(c, np.nan)
        rows.append(["in_scope", c, p["n"], p["confident"], p["confident_accuracy"], cov, size,
                     shares[c]["uncertain"], shares[c]["out_of_scope"]])

    lines = ["Operating point: the answers to act on are those flagged confident "
             f"(one class in the {trust.confidence_level:g} prediction set, in scope).",
             f"{'class':<24}{'photos':>8}{'confident':>11}{'right among confident':>23}"
             f"{'coverage':>10}{'set size':>10}{'out_of_scope':>14}"]
    for _, c, n, conf, acc, cov, size, _, oos in rows[1:] + rows[:1]:
        c = "all classes" if c == "overall" else c
        lines.append(f"{c:<24}{n:>8}{_pct(conf):>11}{_pct(acc):>23}{_num(cov, '.3f'):>10}"
                     f"{_num(size, '.2f'):>10}{_pct(oos):>14}")
    n_other_errors, other_point = 0, None
    if other is not None:
        paths, groups, where = other
        records, columns = _flags_of(model, paths, batch_size, tta, progress)
        proba, flags, other_ok = columns.proba, columns.flags, columns.ok
        n_other_errors = int((~other_ok).sum())
        _write_other_predictions(os.path.join(out, "out_of_scope_predictions.csv"), records,
                                 groups, result.classes)
        g_ok = groups[other_ok]
        for g in ["overall", *sorted(set(g_ok.tolist()))]:
            f = flags[other_ok] if g == "overall" else flags[other_ok][g_ok == g]
            s = flag_shares(f)
            rows.append(["out_of_scope_photos", g, len(f), s["confident"], np.nan, np.nan,
                         np.nan, s["uncertain"], s["out_of_scope"]])
        s = flag_shares(flags[other_ok])
        other_point = (proba[other_ok], s["confident"])
        lines.append(
            f"Photos of other conditions ({where}, {int(other_ok.sum())} readable of "
            f"{len(paths)}): confident {_pct(s['confident'])} (each a wrong answer given with "
            f"confidence), uncertain {_pct(s['uncertain'])}, out_of_scope "
            f"{_pct(s['out_of_scope'])}.")
    lines.append("Coverage and set size: the prediction sets' (share holding the true class); "
                 "out_of_scope: in-scope photos flagged out of scope (false alarms). "
                 "Per class and per condition in operating_point.csv; risk_coverage.png: "
                 "accuracy among answered photos against the share answered, as the threshold "
                 "on the top calibrated probability moves, today's operating point marked.")
    _write_rows(os.path.join(out, "operating_point.csv"), rows)
    if curve is not None:
        op = (point["overall"]["confident"], point["overall"]["confident_accuracy"])
        risk_coverage_figure(curve, op, other_point, os.path.join(out, "risk_coverage.png"))
    headline = {"confident": point["overall"]["confident"],
                "confident_accuracy": point["overall"]["confident_accuracy"],
                "other_confident": np.nan if other_point is None else other_point[1]}
    return "\n".join(lines) + "\n", n_other_errors, headline


def _write_rows(path, rows):
    import csv

    with atomic_open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(_FIELDS)
        for row in rows:
            writer.writerow([row[0], row[1], row[2],
                             *(_num(float(v), ".6g") for v in row[3:])])


#: The columns of out_of_scope_predictions.csv (``condition``: the photo's sub-folder).
_OTHER_COLUMNS = ("image_path", "condition", "pred_class", "proba", "out_of_scope_score",
                  "flag", "error")


def _write_other_predictions(path, records, groups, classes):
    import csv

    from .._internal import csv_header, csv_row

    with open_csv(path) as f:
        writer = csv.writer(f)
        writer.writerow(csv_header(_OTHER_COLUMNS, classes))
        for record, group in zip(records, groups, strict=True):
            writer.writerow(csv_row(record, _OTHER_COLUMNS, classes, {"condition": group}))
