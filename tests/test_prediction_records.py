"""One record per photo: the column table of ``skin_estimators._predictions``, filled by the one
loop that predicts image files (``iter_predictions``); a column added to the table reaches the
CSV files of ``predict`` and ``evaluate``, and the flags come from the TrustedClassifier."""

import csv

import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    TrustedClassifier,
    VanillaCNNClassifier,
    _predictions,
    save_model,
)
from skin_estimators.cli import main
from skin_estimators.inference import iter_predictions, predict_files

COLOURS = {"red": (200, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 200)}


def _photo(path, colour, rng):
    pixels = np.clip(np.array(colour) + rng.randint(-40, 40, (20, 24, 3)), 0, 255)
    Image.fromarray(pixels.astype(np.uint8)).save(path)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Labelled photos, a folder to predict (one broken file, one blank photo), a model file."""
    root = tmp_path_factory.mktemp("records")
    rng = np.random.RandomState(0)
    files, y = [], []
    for i in range(12):
        name = list(COLOURS)[i % 3]
        (root / "labelled" / name).mkdir(parents=True, exist_ok=True)
        files.append(str(root / "labelled" / name / f"{name}{i}.png"))
        _photo(files[-1], COLOURS[name], rng)
        y.append(name)
    (root / "photos").mkdir()
    for name, colour in COLOURS.items():
        _photo(root / "photos" / f"{name}.png", colour, rng)
    Image.new("RGB", (24, 20), (255, 255, 255)).save(root / "photos" / "white.png")
    (root / "photos" / "broken.png").write_bytes(b"not a png")
    net = VanillaCNNClassifier(max_epochs=1, random_state=0, verbose=0)
    model = make_pipeline(ImageLoader(size=16), ChannelNormalizer(),
                          TrustedClassifier(net, cv=3, out_of_scope="max_proba"))
    save_model(model.fit(files, y), root / "trusted.safetensors")
    return root, model


def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def _top_probability():
    return _predictions.Column("top_probability", lambda batch: batch.proba.max(axis=1),
                               cells=lambda value: [f"{value:.3f}"])


def test_a_column_added_to_the_table_reaches_predict_and_evaluate(photos, tmp_path,
                                                                   monkeypatch):
    root, _ = photos
    columns = _predictions.COLUMNS
    # The whole change that adds a column: one entry in the table of one module.
    monkeypatch.setattr(_predictions, "COLUMNS", (*columns[:-1], _top_probability(),
                                                  columns[-1]))
    out = tmp_path / "p.csv"
    assert main(["predict", str(root / "trusted.safetensors"), str(root / "photos"),
                 "--out", str(out), "--quiet"]) == 1  # the broken file
    header, rows = _read(out)
    assert header[-3:] == ["flag", "top_probability", "error"]
    for row in rows:
        if row["error"]:
            assert row["top_probability"] == ""
            continue
        top = max(float(v) for k, v in row.items() if k.startswith("proba_"))
        assert float(row["top_probability"]) == pytest.approx(top, abs=1e-3)
    main(["evaluate", str(root / "trusted.safetensors"), str(root / "labelled"),
          "--out", str(tmp_path / "eval"), "--quiet"])
    header, rows = _read(tmp_path / "eval" / "predictions.csv")
    assert header[:2] == ["image_path", "true_class"]
    assert header[-2:] == ["top_probability", "error"]
    assert all(row["top_probability"] for row in rows)


def test_predict_writes_the_columns_of_the_table_in_order(photos, tmp_path):
    root, model = photos
    out = tmp_path / "p.csv"
    main(["predict", str(root / "trusted.safetensors"), str(root / "photos"),
          "--out", str(out), "--quiet"])
    header, rows = _read(out)
    classes = model[-1].classes_
    assert header == _predictions.csv_header(_predictions.csv_columns(), classes)
    assert header == ["image_path", "pred_class", *[f"proba_{c}" for c in classes],
                      "prediction_set", "out_of_scope_score", "flag", "error"]
    broken = [r for r in rows if r["image_path"].endswith("broken.png")]
    assert len(broken) == 1 and broken[0]["error"]
    assert {k for k, v in broken[0].items() if v} == {"image_path", "error"}
    white = [r for r in rows if r["image_path"].endswith("white.png")][0]
    assert (white["flag"], white["out_of_scope_score"]) == ("out_of_scope", "inf")


def test_records_agree_with_the_classifier_and_predict_files(photos):
    root, model = photos
    paths = sorted(str(p) for p in (root / "photos").iterdir())
    records = list(iter_predictions(model, paths, batch_size=2))
    assert [r.path for r in records] == paths
    assert all(set(r.values) == {c.name for c in _predictions.COLUMNS} for r in records)
    ok = [i for i, r in enumerate(records) if r.error is None]
    assert len(ok) == len(paths) - 1
    expected = model[-1].predict_all(model[:-1].transform([paths[i] for i in ok]))
    np.testing.assert_allclose([records[i]["proba"] for i in ok], expected["proba"], rtol=1e-5)
    assert [records[i]["flag"] for i in ok] == expected["flag"].tolist()
    proba, errors = predict_files(model, paths, batch_size=3)
    np.testing.assert_allclose(proba[ok], expected["proba"], rtol=1e-5)
    assert errors == [r.error for r in records]


def test_the_flags_come_from_the_trusted_classifier(photos, tmp_path, monkeypatch):
    root, _ = photos
    monkeypatch.setattr(TrustedClassifier, "flags_from",
                        lambda self, sets, score: np.full(len(score), "uncertain"))
    out = tmp_path / "p.csv"
    main(["predict", str(root / "trusted.safetensors"), str(root / "photos"),
          "--out", str(out), "--quiet"])
    _, rows = _read(out)
    assert {r["flag"] for r in rows if not r["error"]} == {"uncertain"}
    main(["evaluate", str(root / "trusted.safetensors"), str(root / "labelled"),
          "--out", str(tmp_path / "eval"), "--out-of-scope-photos", str(root / "photos"),
          "--quiet"])
    for name in ("predictions.csv", "out_of_scope_predictions.csv"):
        _, rows = _read(tmp_path / "eval" / name)
        assert {r["flag"] for r in rows if not r["error"]} == {"uncertain"}, name
