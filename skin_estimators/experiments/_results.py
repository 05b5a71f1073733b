"""From fold records to the results table: ``results.csv`` and ``results.md``.

One table row per (config row, CV protocol): mean and standard deviation over all folds of
all seeds (``numpy.std``, ``ddof=0``, as scikit-learn's ``cv_results_``), sorted by mean
macro recall, best first, as the published table. Beside it, ``recall_macro_pooled``: the macro
recall of each seed's out-of-fold predictions taken together (the folds' confusion matrices
summed), averaged over the seeds. Grouped folds of this data set hold as few as two photos of
a class, so one fold's macro recall swings by a third with one photo; pooling weighs every
photo once and is the steadier figure (``balanced_accuracy_score`` of ``cross_val_predict``). The
shortcut baselines (``_baselines.py``)
are rows of the same tables, marked ``baseline``. The first table of ``results.md`` is the
controlled protocol's when the run has it: the figure to trust. A config with a ``trust:``
section adds the pooled coverage, set size, ECE and log loss of its prediction sets and
calibrated probabilities (``_trust_results.py``).
"""

import csv
import json

import numpy as np

from ..utils._atomic import atomic_open
from ._data import CONTROLLED_NOTE, GROUP_NOTE
from ._trust_results import TRUST_HEAD, has_trust, pooled_trust, trust_cells, trust_section

__all__ = ["REQUIRED_COLUMNS", "pooled_recall", "summarize", "table_protocols", "write_csv",
           "write_markdown"]

#: Metrics averaged over the folds (each gets ``_mean`` and ``_std`` columns).
METRICS = ["recall_macro", "precision_macro", "f1_macro", "geometric_mean", "accuracy"]

#: The published table's columns (under these names) and the protocol; always in results.csv.
REQUIRED_COLUMNS = [
    "model", "total_time_s", "batch_size", "lr", "trainable_parameters", "num_epochs",
    "recall_macro_mean", "recall_macro_std", "precision_macro_mean", "precision_macro_std",
    "f1_macro_mean", "f1_macro_std", "peak_memory_mb", "device", "cv",
]

PROTOCOL_NAMES = {
    "controlled": "controlled (StratifiedGroupKFold on the leak-free groups, controlled inputs)",
    "stratified": "stratified (StratifiedKFold, the study's; leaky: shares pages and lets the "
                  "file's size and watermark count)",
    "group": "grouped (StratifiedGroupKFold on the leak-free atlas-page groups; the file's size "
             "and watermark still count)",
}

#: Short protocol names in column headers.
_SHORT = {"stratified": "stratified", "group": "grouped", "controlled": "controlled"}


def table_protocols(table):
    """The protocols of a table in the order of the tables: the controlled one first when
    present (the headline), else stratified then grouped."""
    order = (["controlled", "group", "stratified"]
             if any(r["cv"] == "controlled" for r in table) else ["stratified", "group"])
    return [p for p in order if any(r["cv"] == p for r in table)]


def pooled_recall(records):
    """Macro recall of each seed's pooled out-of-fold predictions, averaged over the seeds.

    A seed counts only when all of its folds are in ``records`` (the summed confusion matrix
    then covers every image once); NaN when no seed is complete. Classes absent from a
    seed's data are left out of its average, as ``recall_score(average="macro")`` would.
    """
    by_seed = {}
    for r in records:
        by_seed.setdefault(r.seed, []).append(r)
    recalls = []
    for folds in by_seed.values():
        if len({f.fold for f in folds}) != folds[0].n_folds:
            continue
        cm = np.sum([np.asarray(f.confusion_matrix, dtype=float) for f in folds], axis=0)
        support = cm.sum(axis=1)
        present = support > 0
        recalls.append(float((np.diag(cm)[present] / support[present]).mean()))
    return float(np.mean(recalls)) if recalls else float("nan")


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
    out["recall_macro_pooled"] = pooled_recall(records)
    for kind in ("recall", "specificity"):
        for label in labels:
            values = np.array([r.per_class[kind][label] for r in records])
            out[f"{kind}_{label}_mean"] = float(values.mean())
    # With a trust: section: coverage, set size, ECE, ... pooled as recall_macro_pooled.
    out.update(pooled_trust(records))
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
    name = f"{row['label']} ({', '.join(extra)})" if extra else row["label"]
    return f"*{name}*" if _is_baseline(row) else name


def _is_baseline(row):
    return row.get("baseline") in (True, "True")


def sort_table(table):
    return sorted(table, key=lambda r: (-r["recall_macro_mean"], r["cv"], r["model"]))


def write_csv(path, table):
    """All columns of all rows (the required ones first), rows sorted by mean macro recall."""
    columns = list(REQUIRED_COLUMNS)
    for row in table:
        columns += [c for c in row if c not in columns]
    with atomic_open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        for row in sort_table(table):
            writer.writerow(row)


def _cell(value, spec=""):
    """A training setting; "–" where the estimator has none (not a skorch net)."""
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return format(value, spec)


def _pm(row, metric, digits=3):
    return f"{row[f'{metric}_mean']:.{digits}f} ± {row[f'{metric}_std']:.{digits}f}"


def _with_ref(cell, row, key, digits=3):
    """``cell`` followed by the published number in parentheses, when the row has one."""
    value = row.get(f"study_{key}")
    if value is None or value == "":
        return cell
    return f"{cell} ({value:.{digits}f})"


def _main_table(rows, with_reference, with_trust=False):
    head = ["model", "total s", "batch", "lr", "params", "epochs", "recall", "recall pooled",
            "precision", "f1", "g-mean", *(TRUST_HEAD if with_trust else []), "peak MB",
            "device"]
    if with_reference:  # the published numbers in parentheses
        for i in (1, 6, 8, 9):
            head[i] += " (study)"
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sort_table(rows):
        ref = r if with_reference else {}
        training = ([_cell(r["batch_size"]), _cell(r["lr"], "g"), _cell(r["trainable_parameters"]),
                     _cell(r["num_epochs"])] if not _is_baseline(r) else ["–"] * 4)
        cells = [_name(r), _with_ref(f"{r['total_time_s']:.1f}", ref, "total_time_s", 1),
                 *training, _with_ref(_pm(r, "recall_macro"), ref, "recall"),
                 _cell(r.get("recall_macro_pooled"), ".3f"),
                 _with_ref(_pm(r, "precision_macro"), ref, "precision"),
                 _with_ref(_pm(r, "f1_macro"), ref, "f1"), _pm(r, "geometric_mean"),
                 *(trust_cells(r) if with_trust else []),
                 "–" if _is_baseline(r) else f"{r['peak_memory_mb']:.0f}", r["device"]]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _trust_sentence(protocols):
    """Which column of the side-by-side table to believe: never the stratified (leaky) one."""
    if "controlled" in protocols:
        return "The controlled column is the estimate to trust (the others are leaky)."
    return ("The grouped column is the estimate to trust for new patients (the stratified one "
            "shares atlas pages between training and test folds, and overestimates).")


def _side_by_side(table, protocols):
    """One line per row, a recall column per protocol (headline first), sorted by it."""
    by_row = {}
    for r in table:
        by_row.setdefault(r["row_id"], {})[r["cv"]] = r
    rows = [p for p in by_row.values() if all(q in p for q in protocols)]
    rows.sort(key=lambda p: -p[protocols[0]]["recall_macro_mean"])
    head = ["model", "batch", "lr", "epochs"]
    head += [f"recall {_SHORT[p]}" for p in protocols]
    with_diff = "stratified" in protocols and "group" in protocols
    if with_diff:
        head.append("grouped - stratified")
    head += [f"f1 {_SHORT[p]}" for p in protocols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in rows:
        first = p[protocols[0]]
        training = ([_cell(first["batch_size"]), _cell(first["lr"], "g"),
                     _cell(first["num_epochs"])] if not _is_baseline(first) else ["–"] * 3)
        cells = [_name(first), *training] + [_pm(p[q], "recall_macro") for q in protocols]
        if with_diff:
            diff = p["group"]["recall_macro_mean"] - p["stratified"]["recall_macro_mean"]
            cells.append(f"{diff:+.3f}")
        cells += [_pm(p[q], "f1_macro") for q in protocols]
        lines.append("| " + " | ".join(cells) + " |")
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
    """The human-readable table: per protocol (the controlled one first), side by side when
    several, per class, versions."""
    protocols = table_protocols(table)
    with_reference = any(r.get("study_recall") not in (None, "") for r in table)
    with_trust = has_trust(table)
    lines = [f"# {title}", "", f"Data: {data_description}.", f"Setup: {setup}.",
             f"Wall time: {wall_time_s:.0f} s (this run; resumed folds count with their own time "
             "in 'total s').", "",
             "Metrics: mean ± std over the folds (macro averages over the classes); 'recall "
             "pooled' is the macro recall of each seed's out-of-fold predictions taken together, "
             "averaged over the seeds (steadier when a fold holds two photos of a class); "
             "'total s' is "
             "the sum of the folds' fit and predict times; 'peak MB' is the GPU memory allocated "
             "at most on CUDA, else the peak resident memory of the process that fitted.", "",
             f"> {CONTROLLED_NOTE if 'controlled' in protocols else GROUP_NOTE}", "",
             "Rows in *italics* are shortcut baselines: forests that see only the image file's "
             "geometry or the four corners of the inputs, scored under the same splits as the "
             "models. A model that does not beat them clearly has not been shown to look at the "
             "skin.", ""]
    if with_trust:
        lines += ["'coverage', 'set size' and 'ECE': the prediction sets and calibrated "
                  "probabilities of the config's trust: section, on each seed's pooled "
                  "out-of-fold predictions (see the section on them below).", ""]
    for protocol in protocols:
        rows = [r for r in table if r["cv"] == protocol]
        # The published numbers are stratified-CV numbers: shown with that protocol only.
        lines += [f"## {PROTOCOL_NAMES[protocol]}", ""]
        lines += _main_table(rows, with_reference and protocol == "stratified",
                             with_trust) + [""]
    if len(protocols) >= 2:
        lines += [f"## {'All' if len(protocols) > 2 else 'Both'} protocols side by side (sorted by "
                  f"{_SHORT[protocols[0]]} recall)", "",
                  _trust_sentence(protocols), ""]
        lines += _side_by_side(table, protocols) + [""]
    lines += trust_section(table, protocols, labels, name=_name, sort=sort_table)
    lines += ["## Per class: recall (sensitivity) and specificity, mean over the folds", ""]
    lines += _per_class(table, labels) + [""]
    lines += ["## Library versions", "",
              ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
