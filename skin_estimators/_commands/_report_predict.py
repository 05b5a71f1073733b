"""The report of ``predict --report``: the photos grouped by what to do with them."""

from ._report import (
    FLAG_ORDER,
    FLAG_TITLES,
    model_summary,
    prediction_card,
    render_report,
    write_report,
)

__all__ = ["predict_records", "report_from_predictions", "write_predict_report"]


def report_from_predictions(args, model, meta, predictions, classes):
    """``predict --report``: the report of what ``predict`` computed, to ``args.report``.

    ``model`` is the model as loaded from ``args.model`` (``meta`` its metadata);
    ``predictions`` the records of ``iter_predictions``, one per file. With
    ``args.explain``, the in-scope photos get their Grad-CAM overlays.
    """
    import time

    from ._common import say

    summary = model_summary(args.model, model, meta)
    trusted = summary["trusted"]
    threshold = None if trusted is None else trusted.oos_threshold_
    records = predict_records(predictions, classes, threshold)
    note = None
    if args.explain:
        from ._report_explain import add_overlays

        start = time.perf_counter()
        n = add_overlays(model, records, progress=not args.quiet)
        seconds = time.perf_counter() - start
        note = (f"Overlays: where the network looked for its top class (Grad-CAM; gradient "
                f"saliency for the scattering network), on the {n} in-scope photos "
                f"({seconds / max(n, 1):.2f} s per photo here).")
    write_predict_report(args.report, records, summary, explain_note=note)
    say(f"Report written to {args.report}.", quiet=args.quiet)


def predict_records(predictions, classes, threshold=None):
    """One card per file (see :func:`~._report.prediction_card`), from the records of
    ``iter_predictions`` (a model without trust parts: no flag, set or score)."""
    return [prediction_card(p, classes, threshold) for p in predictions]


def _groups(records):
    """The readable photos by flag, in the order to act on them (empty groups kept)."""
    readable = [r for r in records if r["error"] is None]
    flags = [f for f in FLAG_ORDER if any(r["flag"] == f for r in readable)]
    if any(r["flag"] == "unflagged" for r in readable):
        flags.append("unflagged")
    elif readable:
        flags = list(FLAG_ORDER)  # a model with flags: show every group, even an empty one
    return [{"flag": f, "title": FLAG_TITLES[f][0], "hint": FLAG_TITLES[f][1],
             "photos": [r for r in readable if r["flag"] == f]} for f in flags]


def write_predict_report(path, records, model, explain_note=None):
    """Render and write the predict report of ``records`` to ``path`` (atomically).

    ``model`` is :func:`~._report.model_summary`'s dict; ``explain_note`` says how the
    overlays were made (None without ``--explain``).
    """
    for index, record in enumerate(records):
        record["index"] = index
    groups = _groups(records)
    unreadable = [r for r in records if r["error"] is not None]
    counts = [(g["flag"], g["title"], len(g["photos"])) for g in groups]
    html = render_report(
        "predict.html", title="Predictions", model=model, groups=groups, counts=counts,
        unreadable=unreadable, n_photos=len(records), explain_note=explain_note,
        classes=model["classes"], flags=[g["flag"] for g in groups])
    write_report(path, html)
