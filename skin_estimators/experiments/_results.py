"""From fold records to the results table: ``results.csv`` and ``results.md``.

One table row per (config row, CV protocol): mean and standard deviation over all folds of
all seeds (``numpy.std``, ``ddof=0``, as scikit-learn's ``cv_results_``), sorted by mean
macro recall, best first, as the study's table.
"""

import csv
import json

import numpy as np

from ._data import GROUP_NOTE

__all__ = ["REQUIRED_COLUMNS", "summarize", "write_csv", "write_markdown"]

#: Metrics averaged over the folds (each gets ``_mean`` and ``_std`` columns).
METRICS = ["recall_macro", "precision_macro", "f1_macro", "geometric_mean", "accuracy"]

#: The study's columns (under these names) and the protocol; always in results.csv.
REQUIRED_COLUMNS = [
    "model", "total_time_s", "batch_size", "lr", "trainable_parameters", "num_epochs",
    "recall_macro_mean", "recall_macro_std", "precision_macro_mean", "precision_macro_std",
    "f1_macro_mean", "f1_macro_std", "peak_memory_mb", "device", "cv",
]

PROTOCOL_NAMES = {"stratified": "stratified (StratifiedKFold, the study's)",
                  "group": "grouped (StratifiedGroupKFold on atlas pages)"}


def summarize(row, protocol, records):
    """One row of the results table from the FoldRecords of ``row`` under ``protocol``."""
    first = records[0]
    labels = first.labels
    out = {
        "model": row.model,
        "cv": protocol,
        "label": row.label,
        "grid": json.dumps(row.grid_values, sort_keys=True, default=repr),
        "total_time_s": float(sum(r.fit_time_s + r.predict_time_s for r in records)),
        "batch_size": first.batch_size,
        "lr": first.lr,
        "trainable_parameters": first.trainable_parameters,
        "num_epochs": first.epochs,
    }
    for metric in METRICS:
        values = np.array([r.metrics[metric] for r in records])
        out[f"{metric}_mean"] = float(values.mean())
        out[f"{metric}_std"] = float(values.std())
    for kind in ("recall", "specificity"):
        for label in labels:
            values = np.array([r.per_class[kind][label] for r in records])
            out[f"{kind}_{label}_mean"] = float(values.mean())
    out["peak_memory_mb"] = float(max(r.peak_memory_mb for r in records))
    out["peak_memory_kind"] = first.peak_memory_kind
    out["device"] = ", ".join(sorted({r.device for r in records}))
    out["threads"] = ", ".join(str(t) for t in sorted({r.threads for r in records}))
    out["n_folds"] = len(records)
    out["seeds"] = " ".join(str(s) for s in sorted({r.seed for r in records}))
    out["normalization"] = row.normalization
    out["params"] = json.dumps(row.params, sort_keys=True, default=repr)
    out["row_id"] = row.row_id
    for key, value in (row.reference or {}).items():
        out[f"study_{key}"] = value
    out["versions"] = json.dumps(first.versions, sort_keys=True)
    return out


# Grid values the main table shows in columns of their own.
_SHOWN = {"batch_size", "lr", "max_epochs"}


def _name(row, all_grid=False):
    """The row's label, with the grid values that tell it from its siblings."""
    grid = json.loads(row.get("grid") or "{}")
    extra = [f"{k}={v}" for k, v in grid.items() if all_grid or k not in _SHOWN]
    return f"{row['label']} ({', '.join(extra)})" if extra else row["label"]


def sort_table(table):
    return sorted(table, key=lambda r: (-r["recall_macro_mean"], r["cv"], r["model"]))


def write_csv(path, table):
    """All columns of all rows (the required ones first), rows sorted by mean macro recall."""
    columns = list(REQUIRED_COLUMNS)
    for row in table:
        columns += [c for c in row if c not in columns]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        for row in sort_table(table):
            writer.writerow(row)


def _pm(row, metric, digits=3):
    return f"{row[f'{metric}_mean']:.{digits}f} ± {row[f'{metric}_std']:.{digits}f}"


def _with_ref(cell, row, key, digits=3):
    """``cell`` followed by the study's number in parentheses, when the row has one."""
    value = row.get(f"study_{key}")
    if value is None or value == "":
        return cell
    return f"{cell} ({value:.{digits}f})"


def _main_table(rows, with_reference):
    head = ["model", "total s", "batch", "lr", "params", "epochs", "recall", "precision", "f1",
            "g-mean", "peak MB", "device"]
    if with_reference:  # the study's numbers in parentheses
        for i in (1, 6, 7, 8):
            head[i] += " (study)"
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sort_table(rows):
        ref = r if with_reference else {}
        cells = [_name(r), _with_ref(f"{r['total_time_s']:.1f}", ref, "total_time_s", 1),
                 str(r["batch_size"]), f"{r['lr']:g}", str(r["trainable_parameters"]),
                 str(r["num_epochs"]), _with_ref(_pm(r, "recall_macro"), ref, "recall"),
                 _with_ref(_pm(r, "precision_macro"), ref, "precision"),
                 _with_ref(_pm(r, "f1_macro"), ref, "f1"), _pm(r, "geometric_mean"),
                 f"{r['peak_memory_mb']:.0f}", r["device"]]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _side_by_side(table):
    by_row = {}
    for r in table:
        by_row.setdefault(r["row_id"], {})[r["cv"]] = r
    pairs = [p for p in by_row.values() if "stratified" in p and "group" in p]
    pairs.sort(key=lambda p: -p["group"]["recall_macro_mean"])
    head = ["model", "batch", "lr", "epochs", "recall stratified", "recall grouped",
            "grouped - stratified", "f1 stratified", "f1 grouped"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in pairs:
        s, g = p["stratified"], p["group"]
        diff = g["recall_macro_mean"] - s["recall_macro_mean"]
        lines.append("| " + " | ".join([
            _name(s), str(s["batch_size"]), f"{s['lr']:g}", str(s["num_epochs"]),
            _pm(s, "recall_macro"), _pm(g, "recall_macro"), f"{diff:+.3f}",
            _pm(s, "f1_macro"), _pm(g, "f1_macro")]) + " |")
    return lines


def _per_class(table, labels):
    head = ["model", "cv"] + [f"{c} {k}" for c in labels for k in ("recall", "specificity")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sort_table(table):
        cells = [_name(r, all_grid=True), r["cv"]]
        for c in labels:
            cells += [f"{r[f'recall_{c}_mean']:.3f}", f"{r[f'specificity_{c}_mean']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_markdown(path, table, *, title, data_description, setup, labels, wall_time_s,
                   versions):
    """The human-readable table: per protocol, side by side when both, per class, versions."""
    protocols = [p for p in ("stratified", "group") if any(r["cv"] == p for r in table)]
    with_reference = any(r.get("study_recall") not in (None, "") for r in table)
    lines = [f"# {title}", "", f"Data: {data_description}.", f"Setup: {setup}.",
             f"Wall time: {wall_time_s:.0f} s (this run; resumed folds count with their own time "
             "in 'total s').", "",
             "Metrics: mean ± std over the folds (macro averages over the classes); 'total s' is "
             "the sum of the folds' fit and predict times; 'peak MB' is the GPU memory allocated "
             "at most on CUDA, else the peak resident memory of the process that fitted.", "",
             f"> {GROUP_NOTE}", ""]
    for protocol in protocols:
        rows = [r for r in table if r["cv"] == protocol]
        # The study's numbers are stratified-CV numbers: shown with that protocol only.
        lines += [f"## {PROTOCOL_NAMES[protocol]}", ""]
        lines += _main_table(rows, with_reference and protocol == "stratified") + [""]
    if len(protocols) == 2:
        lines += ["## Both protocols side by side (sorted by grouped recall)", "",
                  "The grouped column is the estimate for new patients.", ""]
        lines += _side_by_side(table) + [""]
    lines += ["## Per class: recall (sensitivity) and specificity, mean over the folds", ""]
    lines += _per_class(table, labels) + [""]
    lines += ["## Library versions", "",
              ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
