"""The HTML reports of ``predict --report`` and ``evaluate``: content, escaping, guards."""

import base64
import csv
import io
import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    TrustedClassifier,
    VanillaCNNClassifier,
    save_model,
)
from skin_estimators.cli import main

HOSTILE = "<img src=x onerror=document.title='pwned'>.jpg"
SCRIPT = "<script>document.title='pwned'.jpg"
COLOURS = {"red": (200, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 200)}


def _photo(path, colour, rng, exif=False):
    pixels = np.clip(np.array(colour) + rng.randint(-40, 40, (30, 40, 3)), 0, 255)
    image = Image.fromarray(pixels.astype(np.uint8))
    if exif:
        tags = Image.Exif()
        tags[0x010F] = "CameraMaker"  # Make
        tags[0x0131] = "secret-software"  # Software
        image.save(path, format="JPEG", exif=tags.tobytes())
    else:
        image.save(path, format="PNG" if str(path).endswith(".png") else "JPEG")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Labelled photos (one folder per class), a folder to predict, two model files."""
    root = tmp_path_factory.mktemp("report")
    rng = np.random.RandomState(0)
    files, y = [], []
    for i in range(12):
        name = list(COLOURS)[i % 3]
        (root / "labelled" / name).mkdir(parents=True, exist_ok=True)
        files.append(str(root / "labelled" / name / f"{name}{i}.png"))
        _photo(files[-1], COLOURS[name], rng)
        y.append(name)
    photos = root / "photos"
    photos.mkdir()
    for name in COLOURS:
        _photo(photos / f"{name}.png", COLOURS[name], rng)
    _photo(photos / HOSTILE, COLOURS["red"], rng)
    _photo(photos / SCRIPT, COLOURS["blue"], rng)
    _photo(photos / "camera.jpg", COLOURS["green"], rng, exif=True)
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    net = VanillaCNNClassifier(max_epochs=2, random_state=0, verbose=0)
    trusted = make_pipeline(ImageLoader(size=16), ChannelNormalizer(),
                            TrustedClassifier(net, cv=3, out_of_scope="max_proba"))
    save_model(trusted.fit(files, y), root / "trusted.safetensors")
    plain = make_pipeline(ImageLoader(size=16), ChannelNormalizer(), net)
    save_model(plain.fit(files, y), root / "net.safetensors")
    return root


class _Page(HTMLParser):
    """The photo cards (their attributes and the group they are in), images and scripts."""

    def __init__(self):
        super().__init__()
        self.cards, self.images, self.scripts, self.unreadable = [], [], 0, []
        self.group, self.tags = None, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "section" and "data-group" in attrs:
            self.group = attrs["data-group"]
        elif tag == "article" and "photo" in attrs.get("class", ""):
            self.cards.append({**attrs, "group": self.group})
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "script":
            self.scripts += 1
        elif tag == "li" and "data-file" in attrs:
            self.unreadable.append(attrs["data-file"])


def _parse(path):
    page = _Page()
    page.feed(open(path, encoding="utf-8").read())
    return page


def _predict(synthetic, model, out, *extra):
    return main(["predict", str(synthetic / model), str(synthetic / "photos"),
                 "--out", str(out / "p.csv"), "--quiet", *extra])


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_predict_report_has_a_card_per_photo_in_its_flag_group(synthetic, tmp_path):
    report = tmp_path / "report.html"
    assert _predict(synthetic, "trusted.safetensors", tmp_path, "--report", str(report)) == 1
    rows = _csv(tmp_path / "p.csv")
    page = _parse(report)
    readable = {r["image_path"]: r for r in rows if not r["error"]}
    assert {c["data-file"]: c["data-flag"] for c in page.cards} == {
        p: r["flag"] for p, r in readable.items()}
    for card in page.cards:
        assert card["group"] == card["data-flag"]
        assert card["data-class"] == readable[card["data-file"]]["pred_class"]
    assert page.unreadable == [str(synthetic / "photos" / "broken.jpg")]
    text = report.read_text(encoding="utf-8")
    assert "not a jpeg" not in text and "broken.jpg" in text
    assert "holds patient photographs" in text
    import hashlib

    digest = hashlib.sha256((synthetic / "trusted.safetensors").read_bytes()).hexdigest()
    assert digest in text and "confidence level" in text
    # Every group, the counts on top, the probabilities as numbers with their bars.
    assert [g for g in ("out_of_scope", "uncertain", "confident")
            if f'id="group-{g}"' in text] == ["out_of_scope", "uncertain", "confident"]
    assert re.search(r'<span style="width: \d+\.\d%"></span></td><td class="num">0\.\d{3}',
                     text)
    assert "out-of-scope score" in text and "threshold" in text


def test_report_needs_no_network_and_runs_only_its_own_script(synthetic, tmp_path):
    report = tmp_path / "report.html"
    _predict(synthetic, "trusted.safetensors", tmp_path, "--report", str(report))
    page = _parse(report)
    assert page.images and all(i["src"].startswith("data:image/") for i in page.images)
    assert page.scripts == 1
    assert not [t for t, a in page.tags if t in ("link", "iframe", "object", "embed")]
    assert not [a for _, a in page.tags for k, v in a.items()
                if k.startswith("on") or (k in ("src", "href") and not (v or "").startswith(("data:", "#")))]
    policy = [a["content"] for t, a in page.tags if a.get("http-equiv") ==
              "Content-Security-Policy"]
    assert policy and "default-src 'none'" in policy[0] and "'unsafe-inline'" not in \
        policy[0].split("script-src")[1].split(";")[0]


def test_hostile_file_names_are_shown_escaped(synthetic, tmp_path):
    report = tmp_path / "report.html"
    _predict(synthetic, "trusted.safetensors", tmp_path, "--report", str(report))
    text = report.read_text(encoding="utf-8")
    assert "<img src=x" not in text and "<script>document" not in text
    assert "&lt;img src=x onerror=document.title=&#39;pwned&#39;&gt;.jpg" in text
    assert "&lt;script&gt;document.title=&#39;pwned&#39;.jpg" in text
    page = _parse(report)
    assert {os.path.basename(c["data-file"]) for c in page.cards} >= {HOSTILE, SCRIPT}


def test_thumbnails_are_small_and_carry_no_exif(synthetic, tmp_path):
    report = tmp_path / "report.html"
    _predict(synthetic, "trusted.safetensors", tmp_path, "--report", str(report))
    page = _parse(report)
    thumbs = [i["src"] for i in page.images if "thumb" in i.get("class", "")]
    assert len(thumbs) == len(page.cards)
    for uri in thumbs:
        assert uri.startswith("data:image/jpeg;base64,")
        data = base64.b64decode(uri.split(",", 1)[1])
        assert b"secret-software" not in data and b"CameraMaker" not in data
        with Image.open(io.BytesIO(data)) as im:
            assert max(im.size) <= 200 and not im.getexif() and "exif" not in im.info


def test_model_without_trust_parts_gets_one_group(synthetic, tmp_path):
    report = tmp_path / "report.html"
    _predict(synthetic, "net.safetensors", tmp_path, "--report", str(report))
    page = _parse(report)
    assert {c["data-flag"] for c in page.cards} == {"unflagged"}
    assert len(page.cards) == 6 and "trust parts" in report.read_text(encoding="utf-8")


def test_explain_adds_an_overlay_per_in_scope_photo(synthetic, tmp_path):
    report = tmp_path / "report.html"
    assert _predict(synthetic, "net.safetensors", tmp_path, "--report", str(report),
                    "--explain") == 1
    page = _parse(report)
    overlays = [i for i in page.images if "overlay" in i.get("class", "")]
    assert len(overlays) == len(page.cards) == 6
    assert all(i["src"].startswith("data:image/jpeg;base64,") for i in overlays)


def test_explain_goes_through_a_trusted_network(synthetic, tmp_path):
    report = tmp_path / "report.html"
    assert _predict(synthetic, "trusted.safetensors", tmp_path, "--report", str(report),
                    "--explain") == 1
    page = _parse(report)
    in_scope = [c for c in page.cards if c["data-flag"] != "out_of_scope"]
    overlays = [i for i in page.images if "overlay" in i.get("class", "")]
    assert len(overlays) == len(in_scope) > 0


def test_explain_refuses_a_model_it_cannot_explain_in_one_line(synthetic, tmp_path, capsys):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.preprocessing import FunctionTransformer

    files = sorted(str(p) for p in (synthetic / "labelled").rglob("*.png"))
    y = [os.path.basename(os.path.dirname(f)) for f in files]
    forest = make_pipeline(ImageLoader(size=8), FunctionTransformer(_flatten),
                           RandomForestClassifier(n_estimators=3, random_state=0))
    save_model(forest.fit(files, y), tmp_path / "forest.joblib", format="joblib")
    report = tmp_path / "report.html"
    assert main(["predict", str(tmp_path / "forest.joblib"), "--trust-pickle",
                 str(synthetic / "photos"), "--out", str(tmp_path / "p.csv"), "--quiet",
                 "--report", str(report), "--explain"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("skin-estimators predict: error: --explain:")
    assert "cannot be explained" in err[-1] and not report.exists()
    assert _predict(synthetic, "net.safetensors", tmp_path, "--explain") == 2
    assert "give --report FILE" in capsys.readouterr().err


def _flatten(X):
    return X.reshape(len(X), -1)


@pytest.mark.parametrize("where", ["input photo", "inside PATH", "the CSV", "model",
                                   "no folder", "a folder"])
def test_report_obeys_the_guards_of_out(synthetic, tmp_path, capsys, where):
    photo = synthetic / "photos" / "red.png"
    before = photo.read_bytes()
    target = {"input photo": photo, "inside PATH": synthetic / "photos" / "r.html",
              "the CSV": tmp_path / "p.csv", "model": synthetic / "net.safetensors",
              "no folder": tmp_path / "missing" / "r.html", "a folder": tmp_path}[where]
    assert _predict(synthetic, "net.safetensors", tmp_path, "--report", str(target)) == 2
    assert "--report" in capsys.readouterr().err
    assert photo.read_bytes() == before
    assert not (synthetic / "photos" / "r.html").exists()
    assert not (tmp_path / "p.csv").exists()  # refused before anything is written


def test_a_failed_report_leaves_the_previous_one(synthetic, tmp_path, monkeypatch):
    from skin_estimators._commands import _report_predict

    report = tmp_path / "report.html"
    report.write_text("previous", encoding="utf-8")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_report_predict, "render_report", broken)
    assert _predict(synthetic, "net.safetensors", tmp_path, "--report", str(report)) == 1
    assert report.read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "report.html"]


def test_file_names_that_are_not_utf8_are_shown(synthetic, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.png")
    _photo(folder / name, COLOURS["red"], np.random.RandomState(1))
    report = tmp_path / "report.html"
    assert main(["predict", str(synthetic / "net.safetensors"), str(folder), "--out",
                 str(tmp_path / "p.csv"), "--report", str(report), "--quiet"]) == 0
    assert "caf\\xe9.png" in report.read_text(encoding="utf-8")


def test_evaluate_writes_a_report_with_figures_and_the_misclassified(synthetic, tmp_path):
    labelled = tmp_path / "labelled"
    for photo in (synthetic / "labelled").rglob("*.png"):
        (labelled / photo.parent.name).mkdir(parents=True, exist_ok=True)
        os.symlink(photo, labelled / photo.parent.name / photo.name)
    (labelled / "red" / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "eval"
    assert main(["evaluate", str(synthetic / "trusted.safetensors"), str(labelled), "--out",
                 str(out), "--quiet"]) == 1
    rows = _csv(out / "predictions.csv")
    wrong = {r["image_path"]: r for r in rows
             if r["pred_class"] != r["true_class"] and not r["error"]}
    page = _parse(out / "report.html")
    assert {c["data-file"] for c in page.cards} == set(wrong)
    for card in page.cards:
        assert card["data-true"] == wrong[card["data-file"]]["true_class"]
        assert card["data-flag"] == wrong[card["data-file"]]["flag"]
    text = (out / "report.html").read_text(encoding="utf-8")
    for figure in ("macro recall", "accuracy", "coverage", "mean set size", "ECE (calibrated)",
                   "Confusion matrix", "Reliability diagram"):
        assert figure in text
    pngs = [i for i in page.images if i["src"].startswith("data:image/png;base64,")]
    assert len(pngs) == 2
    readable = [r for r in rows if not r["error"]]
    confident = [r for r in readable if r["flag"] == "confident"]
    share = f"{100 * len(confident) / len(readable):.1f} %"
    assert re.search(r"answered confident</[^>]+>\s*<[^>]+>" + re.escape(share), text), share
    assert page.unreadable == [str(labelled / "red" / "broken.jpg")]


def test_evaluate_report_takes_more_headline_figures(synthetic, tmp_path):
    from skin_estimators._commands._report import model_summary
    from skin_estimators._commands._report_evaluate import (
        figure,
        headline_figures,
        write_evaluate_report,
    )
    from skin_estimators.audit import evaluate_model
    from skin_estimators.persistence import load_model, load_model_metadata

    path = synthetic / "trusted.safetensors"
    model = load_model(path)
    files = sorted(str(p) for p in (synthetic / "labelled").rglob("*.png"))
    labels = [os.path.basename(os.path.dirname(f)) for f in files]
    result = evaluate_model(model, files, labels)
    extra = figure("confident share", "0.420", "photos flagged <b>confident</b>")
    write_evaluate_report(tmp_path / "r.html", result,
                          model_summary(path, model, load_model_metadata(path)),
                          [*headline_figures(result), extra], pictures={})
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "confident share" in text and "photos flagged &lt;b&gt;confident&lt;/b&gt;" in text


def test_model_summary_shows_an_adaptation_when_the_file_has_one(synthetic):
    from skin_estimators._commands._report import model_summary
    from skin_estimators.persistence import load_model

    path = synthetic / "net.safetensors"
    meta = {"metadata": {"adaptation": {"method": "<b>coral</b>", "target": "clinic A"}}}
    rows = dict(model_summary(path, load_model(path), meta)["rows"])
    assert rows["adapted"] == "method: <b>coral</b>; target: clinic A"
    assert dict(model_summary(path, load_model(path), {})["rows"])["adapted"] == "no"


def test_evaluate_report_of_unreadable_photos_only(synthetic, tmp_path):
    labelled = tmp_path / "labelled"
    (labelled / "red").mkdir(parents=True)
    (labelled / "red" / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "eval"
    assert main(["evaluate", str(synthetic / "trusted.safetensors"), str(labelled), "--out",
                 str(out), "--quiet"]) == 1
    page = _parse(out / "report.html")
    assert page.cards == [] and not page.images
    assert page.unreadable == [str(labelled / "red" / "broken.jpg")]
    assert "n/a" in (out / "report.html").read_text(encoding="utf-8")


def test_a_photo_without_a_thumbnail_still_gets_its_card(tmp_path):
    from skin_estimators._commands._report import photo_record
    from skin_estimators._commands._report_predict import write_predict_report

    record = photo_record(tmp_path / "vanished.jpg", ["a", "b"], np.array([0.3, 0.7]),
                          flag="uncertain", members=["a", "b"], score=1.0, threshold=2.0)
    assert record["thumb"] is None and "No such file" in record["thumb_error"]
    model = {"rows": [], "classes": ["a", "b"], "trusted": None, "date": ""}
    write_predict_report(tmp_path / "r.html", [record], model)
    page = _parse(tmp_path / "r.html")
    assert [c["data-flag"] for c in page.cards] == ["uncertain"] and not page.images
    assert "no preview" in (tmp_path / "r.html").read_text(encoding="utf-8")
