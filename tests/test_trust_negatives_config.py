"""A config's ``trust.out_of_scope: {method: ..., negatives: ...}``: parsing, ``train`` and
``cv`` with negatives (the recommended model without its weights, tiny images)."""

import os

import numpy as np
import pytest
import yaml
from PIL import Image

from skin_estimators import load_model
from skin_estimators.exceptions import ConfigError
from skin_estimators.experiments import fit_final, load_config, run_experiment, validate_config
from skin_estimators.experiments._trust_negatives import OutOfScopeConfig

MODELS = [{"name": "recommended", "params": {"pretrainedfeatures__pretrained": False}}]


def _config(out_of_scope, **trust):
    return validate_config({"data": "fetch_skin3", "models": MODELS,
                            "trust": {"out_of_scope": out_of_scope, **trust}})


def test_out_of_scope_section_parses():
    config = _config({"method": "knn_other", "negatives": "fetch_sd198_other"})
    spec = config.trust.out_of_scope
    assert isinstance(spec, OutOfScopeConfig) and spec.negatives == "fetch_sd198_other"
    assert config.trust.classifier_params()["out_of_scope"] == "knn_other"
    folder = _config({"method": "other_class", "negatives": {"path": "other/"}})
    assert folder.trust.out_of_scope.negatives.path == "other/"
    assert _config("knn").trust.classifier_params()["out_of_scope"] == "knn"


@pytest.mark.parametrize("section, says", [
    ({"method": "knn_other"}, "learns from negatives: give negatives"),
    ({"method": "knn", "negatives": "fetch_sd198_other"}, "learns from no negatives"),
    ({"method": "knn_other", "negatives": "fetch_sd198"}, "yardstick"),
    ({"method": "energy", "negatives": "fetch_sd198_other"}, "method"),
    ({"method": "knn_other", "negatives": {"path": "x", "extra": 1}}, "extra"),
])
def test_out_of_scope_section_is_checked(section, says):
    with pytest.raises(ConfigError, match=says):
        _config(section)


def _negatives(folder):
    rng = np.random.RandomState(0)
    for condition in ("keloid", "rosacea"):
        (folder / condition).mkdir(parents=True)
        for i in range(4):
            pixels = rng.randint(0, 256, (24, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / condition / f"{i}.png")


def _write(tmp_path, skin3_root, protocol):
    _negatives(tmp_path / "other")
    cfg = {"data": {"path": os.path.relpath(skin3_root, tmp_path), "images_per_class": 8},
           "image_size": 16, "cv": {"protocol": protocol, "n_splits": 2, "seeds": [0]},
           "threads": 1, "models": MODELS,
           "trust": {"cv": 2, "conformal": "cross", "out_of_scope": {
               "method": "knn_other", "negatives": {"path": "other"}}}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_train_with_negatives_stores_the_score(tmp_path, skin3_root, capsys):
    from skin_estimators import save_model

    config = load_config(_write(tmp_path, skin3_root, "controlled"))
    final = fit_final(config, test_size=0, random_state=0)
    clf = final.model[-1]
    assert clf.out_of_scope == "knn_other" and clf.n_negatives_ == 8
    assert final.training["negatives"]["n_images"] == 8
    assert clf.predict_proba(final.model[:-1].transform(final.X_train[:2])).shape == (2, 3)
    save_model(final.model, tmp_path / "m.safetensors")
    back = load_model(tmp_path / "m.safetensors")
    from skin_estimators.cli import main

    assert main(["info", str(tmp_path / "m.safetensors")]) == 0
    assert "learned from 8 photos of other conditions" in capsys.readouterr().out
    files = list(final.X_train[:3])
    np.testing.assert_allclose(back[-1].out_of_scope_score(back[:-1].transform(files)),
                               clf.out_of_scope_score(final.model[:-1].transform(files)),
                               rtol=1e-5, atol=1e-6)
    # predict writes the score and the flags made from it
    import csv

    assert main(["predict", str(tmp_path / "m.safetensors"), *files,
                 "--out", str(tmp_path / "p.csv"), "-q"]) == 0
    with open(tmp_path / "p.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = clf.out_of_scope_score(final.model[:-1].transform(files))
    np.testing.assert_allclose([float(r["out_of_scope_score"]) for r in rows], expected,
                               rtol=1e-4, atol=1e-5)
    assert all(r["flag"] in ("confident", "uncertain", "out_of_scope") for r in rows)


def test_cv_with_negatives(tmp_path, skin3_root):
    result = run_experiment(_write(tmp_path, skin3_root, "controlled"), tmp_path / "out",
                            tracking=False, progress=False)
    import json
    from pathlib import Path

    folds = sorted((Path(result.out_dir) / "folds").glob("recommended-*.json"))
    assert len(folds) == 2
    for path in folds:
        trust = json.loads(path.read_text())["trust"]
        assert trust["config"]["out_of_scope"]["method"] == "knn_other"
        assert all(np.isfinite(v) for v in trust["out_of_scope_score"])


def test_cv_with_negatives_on_dask_matches_serial(tmp_path, skin3_root):
    import json
    from pathlib import Path

    distributed = pytest.importorskip("distributed")
    path = _write(tmp_path, skin3_root, "controlled")
    serial = run_experiment(path, tmp_path / "serial", tracking=False, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask = run_experiment(path, tmp_path / "dask", tracking=False, progress=False,
                              backend="dask", scheduler=cluster.scheduler_address)

    def scores(result):
        return [json.loads(p.read_text())["trust"]["out_of_scope_score"] for p in
                sorted((Path(result.out_dir) / "folds").glob("recommended-*.json"))]

    np.testing.assert_allclose(scores(dask), scores(serial), rtol=1e-5)


def test_evaluate_warns_when_the_other_photos_are_the_learned_negatives(tmp_path, skin3_root,
                                                                        capsys):
    from skin_estimators.cli import main

    config = _write(tmp_path, skin3_root, "controlled")
    assert main(["train", "--config", str(config), "--test-size", "0", "--out",
                 str(tmp_path / "run"), "-q"]) == 0
    model = str(tmp_path / "run" / "model.safetensors")
    capsys.readouterr()
    assert main(["evaluate", model, str(skin3_root), "--out", str(tmp_path / "e1"), "-q",
                 "--out-of-scope-photos", str(tmp_path / "other")]) == 0
    report = (tmp_path / "e1" / "report.txt").read_text(encoding="utf-8")
    assert report.startswith("Warning: the --out-of-scope-photos are the photos of other")
    assert "learned from (its negatives)" in capsys.readouterr().err
    _negatives(tmp_path / "unseen" / "new")  # other photos: no warning
    (tmp_path / "unseen" / "new" / "rosacea" / "0.png").unlink()
    assert main(["evaluate", model, str(skin3_root), "--out", str(tmp_path / "e2"), "-q",
                 "--out-of-scope-photos", str(tmp_path / "unseen")]) == 0
    assert "negatives" not in (tmp_path / "e2" / "report.txt").read_text(encoding="utf-8")
