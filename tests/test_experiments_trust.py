"""The cv runner with a ``trust:`` section: prediction sets and calibration per fold, pooled
per seed into the results table, stored so that a run resumes, logged to MLflow.

A few of the study's photos at 16x16 (8 per class), the recommended model without its
weights, 2 outer folds; each fold's TrustedClassifier has 2 inner folds.
"""

import csv
import json
import os
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from skin_estimators.experiments import run_experiment
from skin_estimators.uncertainty import classwise_ece

TRUST = {"confidence_level": 0.5, "cv": 2, "out_of_scope": "knn", "conformal": "cross"}
RECOMMENDED = {"name": "recommended", "params": {"pretrainedfeatures__pretrained": False}}
LABELS = ["acne", "herpes_simplex", "lichen_planus"]


def write_config(folder, skin3_root, **top):
    folder.mkdir(parents=True, exist_ok=True)
    config = {"name": "tiny_trust",
              "data": {"path": os.path.relpath(skin3_root, folder), "images_per_class": 8},
              "image_size": 16, "cv": {"protocol": "controlled", "n_splits": 2, "seeds": [0, 1]},
              "threads": 1, "models": [RECOMMENDED], **top}
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def stored_folds(out_dir, model="recommended"):
    """``{seed: [fold record dict, ...]}`` of one model's stored folds."""
    by_seed = {}
    for path in sorted((Path(out_dir) / "folds").glob(f"{model}-*.json")):
        record = json.loads(path.read_text())
        by_seed.setdefault(record["seed"], []).append(record)
    return by_seed


@pytest.fixture(scope="module")
def trusted_run(skin3_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cv_trust")
    path = write_config(tmp / "cfg", skin3_root, trust=TRUST)
    return path, run_experiment(path, tmp / "out", tracking=True, progress=False)


def test_trust_columns_are_the_pooled_out_of_fold_figures(trusted_run):
    _, result = trusted_run
    rows = read_csv(result.csv_path)
    model = next(r for r in rows if r["model"] == "recommended")
    for name in ["coverage", *(f"coverage_{c}" for c in LABELS), "ece", "ece_raw",
                 "confident", "uncertain", "out_of_scope"]:
        assert 0 <= float(model[f"{name}_pooled"]) <= 1, name
    assert 0 <= float(model["set_size_pooled"]) <= len(LABELS)
    assert float(model["log_loss_pooled"]) > 0 and float(model["log_loss_raw_pooled"]) > 0
    assert float(model["trust_confidence_level"]) == TRUST["confidence_level"]
    for baseline in (r for r in rows if r["model"].startswith("baseline:")):
        assert baseline["coverage_pooled"] == baseline["set_size_pooled"] == ""

    # By hand from the stored sets: each seed's folds together, then the mean over seeds.
    by_seed = stored_folds(result.out_dir)
    assert sorted(by_seed) == [0, 1] and all(len(f) == 2 for f in by_seed.values())
    covered, per_class, sizes, eces = [], {c: [] for c in LABELS}, [], []
    for folds in by_seed.values():
        y = np.concatenate([f["trust"]["y_true"] for f in folds])
        sets = np.concatenate([f["trust"]["sets"] for f in folds]).astype(bool)
        proba = np.concatenate([f["trust"]["proba"] for f in folds])
        assert len(y) == 24 and sets.shape == (24, 3)  # every photo once per seed
        hit = sets[np.arange(len(y)), [LABELS.index(v) for v in y]]
        covered.append(hit.mean())
        for c in LABELS:
            per_class[c].append(hit[y == c].mean())
        sizes.append(sets.sum(axis=1).mean())
        eces.append(classwise_ece(y, proba, LABELS)[0])
        for f in folds:  # the record's labels are those of its test photos
            assert f["trust"]["classes"] == LABELS and len(f["trust"]["y_true"]) == f["n_test"]
            # the controlled protocol keeps an atlas page out of its own calibration
            assert f["trust"]["inner_cv"].startswith("StratifiedGroupKFold(n_splits=2")
            assert f["trust"]["config"] == {**f["trust"]["config"], **TRUST}
    assert float(model["coverage_pooled"]) == pytest.approx(np.mean(covered))
    for c in LABELS:
        assert float(model[f"coverage_{c}_pooled"]) == pytest.approx(np.mean(per_class[c]))
    assert float(model["set_size_pooled"]) == pytest.approx(np.mean(sizes))
    assert float(model["ece_pooled"]) == pytest.approx(np.mean(eces))

    markdown = result.markdown_path.read_text()
    assert "| coverage | set size | ECE |" in markdown
    assert "## Prediction sets and calibration (trust:), pooled out of fold" in markdown
    line = next(x for x in markdown.splitlines() if x.startswith("| recommended | controlled |"))
    assert f"| {float(model['coverage_pooled']):.3f} |" in line


def test_trust_metrics_are_logged_to_mlflow(trusted_run):
    from mlflow.tracking import MlflowClient

    _, result = trusted_run
    client = MlflowClient(tracking_uri=result.tracking_uri)
    parent = client.get_run(next(iter(result.run_ids.values())))
    rows = read_csv(result.csv_path)
    model = next(r for r in rows if r["model"] == "recommended")
    for key in ("coverage_pooled", "set_size_pooled", "ece_pooled", "ece_raw_pooled",
                "recall_macro_pooled"):
        assert parent.data.metrics[key] == pytest.approx(float(model[key]))
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 4
    assert all(0 <= run.data.metrics["coverage"] <= 1 for run in children)


def test_a_trust_run_resumes_to_the_same_table(trusted_run, tmp_path):
    import shutil

    path, result = trusted_run
    out = tmp_path / "resumed"
    shutil.copytree(result.out_dir / "folds", out / "folds")
    removed = sorted((out / "folds").glob("recommended-*seed1__fold1.json"))
    assert len(removed) == 1
    removed[0].unlink()
    resumed = run_experiment(path, out, resume=True, tracking=False, progress=False)
    assert resumed.n_fits_run == 1
    key = [k for k in result.table[0] if k.endswith("_pooled")]
    pick = {r["row_id"] + r["cv"]: [r.get(k) for k in key] for r in result.table}
    again = {r["row_id"] + r["cv"]: [r.get(k) for k in key] for r in resumed.table}
    assert again.keys() == pick.keys()
    for name in pick:
        np.testing.assert_allclose(np.array(again[name], dtype=float),
                                   np.array(pick[name], dtype=float), rtol=1e-6)


def test_a_config_without_trust_is_unchanged(trusted_run, skin3_root, tmp_path):
    trusted_path, trusted = trusted_run
    path = write_config(tmp_path / "cfg", skin3_root,
                        cv={"protocol": "controlled", "n_splits": 2, "seeds": [0]})
    result = run_experiment(path, tmp_path / "out", tracking=False, progress=False)
    rows = read_csv(result.csv_path)
    assert not [c for c in rows[0] if c.endswith("_pooled") and c != "recall_macro_pooled"]
    assert "trust" not in rows[0] and "trust_confidence_level" not in rows[0]
    for folds in stored_folds(result.out_dir).values():
        assert all(f["trust"] is None for f in folds)
    markdown = result.markdown_path.read_text()
    assert "coverage" not in markdown and "Prediction sets" not in markdown
    # trust: is part of a row's identity: a resumed run never mixes folds with and without it
    plain = {r["row_id"] for r in rows if r["model"] == "recommended"}
    assert plain.isdisjoint(r["row_id"] for r in trusted.table)


def _record(seed, fold, n_folds, y, sets, trust=True):
    from skin_estimators.experiments._record import FoldRecord

    base = FoldRecord(**{f.name: None for f in fields(FoldRecord)})
    n = len(y)
    proba = np.full((n, 2), 0.5).tolist()
    part = {"config": {"confidence_level": 0.9}, "classes": ["a", "b"], "y_true": y,
            "proba": proba, "raw": proba, "sets": sets, "flag": ["uncertain"] * n}
    return replace(base, seed=seed, fold=fold, n_folds=n_folds, trust=part if trust else None)


def test_pooled_trust_pools_each_seed_then_averages_and_skips_incomplete_seeds():
    from skin_estimators.experiments._record import FoldRecord
    from skin_estimators.experiments._trust_results import pooled_trust

    # seed 0: 3 of 4 photos covered (a: 2/2, b: 1/2); seed 1: all 4; seed 2 misses a fold
    records = [_record(0, 0, 2, ["a", "b"], [[1, 0], [1, 0]]),
               _record(0, 1, 2, ["a", "b"], [[1, 1], [0, 1]]),
               _record(1, 0, 2, ["a", "b"], [[1, 0], [0, 1]]),
               _record(1, 1, 2, ["a", "b"], [[1, 0], [0, 1]]),
               _record(2, 0, 2, ["a", "b"], [[0, 0], [0, 0]])]
    out = pooled_trust(records)
    assert out["coverage_pooled"] == pytest.approx((0.75 + 1.0) / 2)
    assert out["coverage_a_pooled"] == pytest.approx(1.0)
    assert out["coverage_b_pooled"] == pytest.approx((0.5 + 1.0) / 2)
    assert out["set_size_pooled"] == pytest.approx((1.25 + 1.0) / 2)
    assert out["uncertain_pooled"] == 1.0 and out["trust_confidence_level"] == 0.9
    # no trust parts (folds stored before they existed, or a config without trust:): none
    assert pooled_trust([replace(r, trust=None) for r in records]) == {}
    # a seed with a fold lacking them counts as incomplete: the columns are there, NaN
    partial = pooled_trust([records[0], replace(records[1], trust=None)])
    assert np.isnan(partial["coverage_pooled"]) and np.isnan(partial["ece_pooled"])
    # a fold stored without the trust field reads with trust None
    stored = {f.name: 0 for f in fields(FoldRecord) if f.name != "trust"}
    assert FoldRecord.from_json(json.dumps(stored)).trust is None


def test_pooled_trust_has_the_operating_point():
    """confident_pooled and the accuracy among the confident photos, pooled per seed."""
    from skin_estimators.experiments._trust_results import pooled_trust, trust_cells

    def record(seed, fold, y, raw, flag):
        rec = _record(seed, fold, 2, y, [[1, 0]] * len(y))
        return replace(rec, trust={**rec.trust, "raw": raw, "flag": flag})

    a, b = [0.8, 0.2], [0.3, 0.7]
    # seed 0: confident photos a->a (right), b->a (wrong); seed 1: one confident, right
    records = [record(0, 0, ["a", "b"], [a, a], ["confident", "confident"]),
               record(0, 1, ["a", "b"], [b, b], ["uncertain", "out_of_scope"]),
               record(1, 0, ["a", "b"], [a, b], ["uncertain", "confident"]),
               record(1, 1, ["a", "b"], [a, b], ["uncertain", "uncertain"])]
    out = pooled_trust(records)
    assert out["confident_pooled"] == pytest.approx((0.5 + 0.25) / 2)
    assert out["confident_accuracy_pooled"] == pytest.approx((0.5 + 1.0) / 2)
    assert trust_cells(out)[-2:] == ["0.375", "0.750"]
    # no confident photo in any complete seed: NaN, shown as a dash
    none = [replace(r, trust={**r.trust, "flag": ["uncertain"] * 2}) for r in records]
    out = pooled_trust(none)
    assert np.isnan(out["confident_accuracy_pooled"]) and trust_cells(out)[-1] == "–"
