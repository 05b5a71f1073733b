"""The report of ``evaluate``: headline figures, the figures, the misclassified photos."""

import numpy as np

from ._report import photo_record, png_file_uri, prediction_card, render_report, write_report

__all__ = ["figure", "headline_figures", "operating_figures", "write_evaluate_report"]


def figure(label, value, note=""):
    """One headline figure of the report: a label, its value as text, and what it means."""
    return {"label": label, "value": value, "note": note}


def _number(value, digits=3):
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def _percent(value):
    return "n/a" if value is None or value != value else f"{100 * value:.1f} %"


def operating_figures(headline):
    """The clinic's operating point, first on the page: the share of photos answered
    ``confident``, the accuracy among them and, with ``--out-of-scope-photos``, the share of
    photos of other conditions still answered ``confident``. ``headline`` is the dict
    ``_operating.operating_point_section`` returns (None for a model without flags: no
    figures)."""
    if headline is None:
        return []
    rows = [
        figure("answered confident", _percent(headline["confident"]),
               "share of photos with one class in the prediction set, in scope: the "
               "answers to act on"),
        figure("right among confident", _percent(headline["confident_accuracy"]),
               "accuracy of the confident answers"),
    ]
    other = headline.get("other_confident")
    if other is not None and other == other:
        rows.append(figure("other conditions confident", _percent(other),
                           "photos of conditions the model was not trained on that still "
                           "got a confident (wrong) answer"))
    return rows


def headline_figures(result):
    """The figures on top of the evaluate report, from ``evaluate_model``'s result.

    Macro recall and accuracy; for a model with trust parts, the coverage of the prediction
    sets, their mean size and the classwise ECE before and after calibration. More figures
    (an operating point, say) are added by passing more :func:`figure` entries to
    :func:`write_evaluate_report`.
    """
    n_ok = len(result.filenames) - result.n_errors
    rows = [
        figure("photos scored", f"{n_ok} of {len(result.filenames)}",
               "unreadable files are left out of every figure"),
        figure("macro recall", _number(result.macro_recall),
               "mean over the classes present of the share of each class's photos "
               "predicted as that class"),
        figure("accuracy", _number(result.accuracy), "share of photos predicted right"),
    ]
    trust = result.trust
    if trust is not None:
        rows += [
            figure("coverage", _number(trust.coverage),
                   f"share of photos whose prediction set holds the true class (target: "
                   f"{trust.confidence_level:g})"),
            figure("mean set size", _number(trust.mean_set_size, 2),
                   "classes per prediction set; 1 is a single answer"),
            figure("ECE (calibrated)", _number(trust.ece_after),
                   f"classwise expected calibration error, 10 bins; before calibration "
                   f"{_number(trust.ece_before)}"),
        ]
    return rows


def per_class_rows(result):
    """Per class present: photos, recall and, with trust parts, coverage, set size, ECE."""
    ok = np.array([e is None for e in result.errors], dtype=bool)
    truth, pred = result.y_true[ok], result.y_pred[ok].astype(str)
    rows = []
    for c in (str(c) for c in result.classes):
        mine = truth == c
        if not mine.any():
            continue
        row = {"class": c, "photos": int(mine.sum()),
               "recall": _number(float(np.mean(pred[mine] == c)))}
        trust = result.trust
        if trust is not None:
            row.update(coverage=_number(trust.coverage_per_class.get(c)),
                       size=_number(trust.size_per_class.get(c), 2),
                       ece=_number(trust.ece_per_class_after.get(c)))
        rows.append(row)
    return rows


def misclassified_records(result, threshold=None):
    """Records of the readable photos predicted wrong, the most confidently wrong first."""
    classes = [str(c) for c in result.classes]
    records = [prediction_card(p, classes, threshold, true_class=str(result.y_true[i]))
               for i, p in enumerate(result.predictions)
               if p.error is None and result.y_pred[i] != result.y_true[i]]
    records.sort(key=lambda r: -r["top"])
    for index, record in enumerate(records):
        record["index"] = index
    return records


def write_evaluate_report(path, result, model, figures, pictures, warning="",
                          threshold=None):
    """Render and write the evaluate report to ``path`` (atomically).

    ``figures``: the headline :func:`figure` entries (:func:`headline_figures`, and any
    more); ``pictures``: ``{title: PNG path}`` of the figures the command wrote (embedded;
    a missing one is left out); ``warning``: a line to show on top (e.g. that these are
    the training photos).
    """
    embedded = [(title, uri) for title, uri in
                ((t, png_file_uri(p)) for t, p in pictures.items()) if uri]
    gallery = misclassified_records(result, threshold)
    unreadable = [photo_record(p, [], error=e)
                  for p, e in zip(result.filenames, result.errors, strict=True) if e is not None]
    html = render_report(
        "evaluate.html", title="Evaluation", model=model, figures=figures,
        per_class=per_class_rows(result), trust=result.trust is not None, pictures=embedded,
        gallery=gallery, unreadable=unreadable, warning=warning,
        absent=list(result.absent_classes), classes=model["classes"],
        flags=sorted({r["flag"] for r in gallery}))
    write_report(path, html)
