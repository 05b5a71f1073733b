"""The HTML reports rendered by a real browser: headless Chromium's DOM and screenshot.

Skipped, with the reason, when no Chromium is on PATH (Debian/Ubuntu:
``apt-get install chromium``); with ``SKIN_ESTIMATORS_REQUIRE_BROWSER=1`` (CI sets it) a
missing browser fails instead.
"""

import os
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from skin_estimators._commands._report_predict import predict_records, write_predict_report
from skin_estimators._predictions import Prediction

HOSTILE = "<img src=x onerror=document.title='pwned'>.png"
SCRIPT = "<script>document.title='pwned'.png"
CLASSES = np.array(["acne", "herpes_simplex", "lichen_planus"])
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def browser():
    found = os.environ.get("SKIN_ESTIMATORS_BROWSER") or next(
        (shutil.which(n) for n in NAMES if shutil.which(n)), None)
    if found is None:
        reason = ("no headless Chromium on PATH (install it: apt-get install chromium), so "
                  "the HTML reports are not rendered")
        if os.environ.get("SKIN_ESTIMATORS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SKIN_ESTIMATORS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return found


def _chromium(browser, tmp_path, url, *args):
    """Chromium's stdout on ``url``: headless, offline, with a fresh profile."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", *args, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cards, self.images, self.title, self.root = [], [], None, {}
        self.group, self._in_title = None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.root = attrs
        elif tag == "section" and "data-group" in attrs:
            self.group = attrs
        elif tag == "article":
            self.cards.append({**attrs, "section": self.group})
        elif tag == "img":
            self.images.append(attrs)
        self._in_title = tag == "title"

    def handle_data(self, data):
        if self._in_title:
            self.title = data
            self._in_title = False


def _dom(text):
    dom = _Dom()
    dom.feed(text)
    return dom


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A predict report of 7 photos in all three flag groups, two hostile names, one unreadable."""
    root = tmp_path_factory.mktemp("browser")
    rng = np.random.RandomState(0)
    names = ["a.png", "b.png", HOSTILE, "c.png", SCRIPT, "d.png", "e.png", "gone.png"]
    files = []
    for name in names[:-1]:
        pixels = rng.randint(0, 256, (60, 80, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / name, format="PNG")
        files.append(str(root / name))
    files.append(str(root / names[-1]))
    proba = rng.dirichlet(np.ones(3), size=len(files))
    errors = [None] * (len(files) - 1) + ["file not found <b>x</b>"]
    flags = ["confident", "uncertain", "out_of_scope", "confident", "uncertain",
             "out_of_scope", "confident", ""]
    sets = ["acne", "acne|lichen_planus", "", "herpes_simplex", "acne|herpes_simplex", "",
            "lichen_planus", ""]
    scores = ["1.0", "1.2", "3.5", "0.9", "1.1", "4.2", "1.0", ""]
    predictions = [Prediction({"image_path": f, "error": e, "proba": p,
                               "prediction_set": tuple(s.split("|")) if s else (),
                               "out_of_scope_score": float(c) if c else None,
                               "flag": g or None})
                   for f, e, p, s, c, g in zip(files, errors, proba, sets, scores, flags,
                                               strict=True)]
    records = predict_records(predictions, CLASSES, 2.0)
    model = {"rows": [("model file", "model.safetensors"), ("SHA-256", "0" * 64)],
             "classes": CLASSES.tolist(), "trusted": None, "date": "2026-01-01 00:00 UTC"}
    path = root / "report.html"
    write_predict_report(path, records, model)
    return path, dict(zip(files, flags, strict=True))


def test_dom_has_a_row_per_photo_in_its_flag_group(browser, report, tmp_path):
    path, flags = report
    dom = _dom(_chromium(browser, tmp_path, path.as_uri(), "--dump-dom"))
    assert dom.root.get("data-script") == "ready"  # the page's own script ran (CSP allows it)
    assert {c["data-file"]: c["data-flag"] for c in dom.cards} == {
        f: g for f, g in flags.items() if g}
    assert all(c["section"]["data-group"] == c["data-flag"] for c in dom.cards)
    assert not any("hidden" in c for c in dom.cards)


def test_hostile_file_names_stay_inert(browser, report, tmp_path):
    path, _ = report
    dom = _dom(_chromium(browser, tmp_path, path.as_uri(), "--dump-dom"))
    assert dom.title == "Predictions - skin-estimators"
    assert not [i for i in dom.images if i.get("src") == "x" or "onerror" in i]
    names = {os.path.basename(c["data-file"]) for c in dom.cards}
    assert {HOSTILE, SCRIPT} <= names


def test_a_link_can_filter_by_flag(browser, report, tmp_path):
    path, flags = report
    dom = _dom(_chromium(browser, tmp_path, path.as_uri() + "#flag=uncertain&order=desc",
                         "--dump-dom"))
    shown = [c for c in dom.cards if "hidden" not in c]
    assert {c["data-flag"] for c in shown} == {"uncertain"}
    assert len(shown) == sum(f == "uncertain" for f in flags.values())
    probabilities = [float(c["data-proba"]) for c in shown]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all("hidden" in c["section"] for c in dom.cards if c["data-flag"] != "uncertain")


def _not_blank(png):
    with Image.open(png) as im:
        pixels = np.asarray(im.convert("RGB"), dtype=float)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 10  # not a blank (one-colour) page
    assert np.mean(pixels.min(axis=2) < 200) > 0.02  # text, bars and photos drawn


def test_screenshot_is_not_blank(browser, report, tmp_path):
    path, _ = report
    shot = tmp_path / "shot.png"
    _chromium(browser, tmp_path, path.as_uri(), f"--screenshot={shot}",
              "--window-size=1200,900")
    _not_blank(shot)


def test_evaluate_report_renders(browser, tmp_path):
    from sklearn.pipeline import make_pipeline

    from skin_estimators import (
        ChannelNormalizer,
        ImageLoader,
        TrustedClassifier,
        VanillaCNNClassifier,
        save_model,
    )
    from skin_estimators.cli import main

    rng = np.random.RandomState(0)
    files, y = [], []
    for i in range(12):
        name = str(CLASSES[i % 3])
        (tmp_path / "data" / name).mkdir(parents=True, exist_ok=True)
        files.append(str(tmp_path / "data" / name / f"{i}.png"))
        Image.fromarray(rng.randint(0, 256, (30, 40, 3), dtype=np.uint8)).save(files[-1])
        y.append(name)
    net = VanillaCNNClassifier(max_epochs=1, random_state=0, verbose=0)
    model = make_pipeline(ImageLoader(size=16), ChannelNormalizer(),
                          TrustedClassifier(net, cv=3, out_of_scope="max_proba"))
    save_model(model.fit(files, y), tmp_path / "model.safetensors")
    assert main(["evaluate", str(tmp_path / "model.safetensors"), str(tmp_path / "data"),
                 "--out", str(tmp_path / "eval"), "--quiet"]) == 0
    page = (tmp_path / "eval" / "report.html").as_uri()
    dom = _dom(_chromium(browser, tmp_path, page, "--dump-dom"))
    assert dom.root.get("data-script") == "ready"
    assert all(c["section"]["data-group"] == "misclassified" for c in dom.cards)
    assert all(c["data-true"] != c["data-class"] for c in dom.cards)
    shot = tmp_path / "eval.png"
    _chromium(browser, tmp_path, page, f"--screenshot={shot}", "--window-size=1200,900")
    _not_blank(shot)
