"""The HTML reports of ``predict --report`` and ``evaluate``: one self-contained file.

What every report shares: the Jinja2 environment (templates shipped in ``templates/``,
every value escaped), the thumbnails (Pillow: upright, small, re-encoded as JPEG without
EXIF or other metadata), pictures as ``data:`` URIs, the model's summary and the atomic
write. The page needs no network: its style and its one script are inline, and its
Content-Security-Policy allows nothing else (no fetch, no external image, font or script;
only the report's own script, by its SHA-256, so that no text put into the page can run).
"""

import base64
import hashlib
import io
import os

from ._common import atomic_open, display_name

__all__ = ["file_digest", "model_summary", "photo_record", "picture_uri", "render_report",
           "thumbnail", "thumbnail_uri", "write_report"]

#: Longest side of a thumbnail, in pixels: sharp at the size the page shows it, and small
#: enough that a 500-photo report stays a few megabytes.
THUMBNAIL_SIDE = 200
_JPEG_QUALITY = 72

#: The flags in the order the predict report shows them: what to act on first.
FLAG_ORDER = ("out_of_scope", "uncertain", "confident")
FLAG_TITLES = {
    "out_of_scope": ("Out of scope", "not for this model: the photo is unlike the photos it "
                     "was trained on."),
    "uncertain": ("Uncertain", "the model cannot rule out the classes of the prediction set."),
    "confident": ("Confident", "one class left in the prediction set: the answer."),
    "unflagged": ("Predicted", "this model has no trust parts (no calibration, prediction "
                  "sets or out-of-scope score): every photo gets its most probable class."),
}


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(loader=PackageLoader("skin_estimators._commands", "templates"),
                       autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                       lstrip_blocks=True)


def render_report(template, **context):
    """The HTML text of ``template`` (in ``templates/``) with ``context``, every value escaped.

    The report's script (``report.js``) is put inline, and the page's Content-Security-Policy
    allows that script alone (by its SHA-256 digest): an event handler or a script smuggled
    in by a file name could not run even if it escaped the escaping.
    """
    from .._internal import running_versions

    env = _environment()
    script = env.loader.get_source(env, "report.js")[0]
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    context.setdefault("version", running_versions().get("skin_estimators", "unknown"))
    return env.get_template(template).render(script=script,
                                             script_hash=f"sha256-{digest}", **context)


def write_report(path, html):
    """Write the page atomically (never a half-written report over a good one)."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(html)


def thumbnail(path, side=THUMBNAIL_SIDE):
    """An upright RGB copy of the photo at ``path``, at most ``side`` pixels a side.

    Turned by its EXIF orientation, as the model's ImageLoader turns it; the copy carries
    none of the file's metadata (EXIF, GPS, ICC profile, comments).
    """
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im.draft("RGB", (2 * side, 2 * side))  # JPEG: decode at a reduced scale, much faster
        im = ImageOps.exif_transpose(im).convert("RGB")
        im.thumbnail((side, side), Image.Resampling.LANCZOS)
        clean = Image.new("RGB", im.size)
        clean.paste(im)
    return clean


def picture_uri(image, format="JPEG"):
    """A ``data:`` URI of a PIL image (JPEG without metadata, or PNG)."""
    buffer = io.BytesIO()
    if format == "JPEG":
        image.save(buffer, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    else:
        image.save(buffer, format="PNG", optimize=True)
    return _data_uri(buffer.getvalue(), "image/jpeg" if format == "JPEG" else "image/png")


def _data_uri(data, mime):
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def png_file_uri(path):
    """A ``data:`` URI of a PNG file the command wrote (a figure), or None if there is none."""
    try:
        with open(path, "rb") as f:
            return _data_uri(f.read(), "image/png")
    except OSError:
        return None


def thumbnail_uri(path):
    """``(uri, error)``: the photo's thumbnail as a ``data:`` URI, or None and why not."""
    from PIL import Image

    try:
        return picture_uri(thumbnail(path)), None
    # What Pillow raises for a file it cannot decode (SyntaxError: some broken headers).
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return None, str(exc) or type(exc).__name__


def file_digest(path):
    """The SHA-256 of a file's bytes (hex), read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def trusted_part(model):
    """The model's TrustedClassifier (calibration, sets, out-of-scope score), or None."""
    from .._internal import trusted_file_pipeline

    try:
        pipeline = trusted_file_pipeline(model)
    except ValueError:
        return None
    return None if pipeline is None else pipeline[-1]


def _describe(value):
    """A short text of a metadata value (a dict as ``key: value`` pairs)."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_describe(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_describe(v) for v in value)
    return str(value)


def model_summary(model_path, model, meta):
    """What the report says about the model: file, digest, classes, trust parts, adaptation.

    ``meta`` is the file's metadata (as ``load_model_metadata`` gives it). An ``adaptation``
    entry of the saved metadata (what the model was adapted to, and how) is shown as it is.
    """
    import datetime

    from ..inference import split_pipeline

    try:
        classes = [str(c) for c in split_pipeline(model)[1].classes_]
    except (ValueError, AttributeError):
        classes = [str(c) for c in getattr(model, "classes_", [])]
    saved = (meta or {}).get("metadata") or {}
    training = saved.get("training") or {}
    rows = [("model file", display_name(model_path)),
            ("SHA-256", file_digest(model_path)),
            ("classes", ", ".join(classes))]
    trusted = trusted_part(model)
    if trusted is None:
        rows.append(("trust parts", "none: no calibration, prediction sets or out-of-scope "
                                    "score"))
    else:
        kind = "per class (Mondrian)" if trusted.mondrian else "over all classes"
        rows.append(("confidence level", f"{trusted.confidence_level:g}, {kind}"))
        threshold = trusted.oos_threshold_
        rows.append(("out-of-scope score", "none" if threshold is None else
                     f"{trusted.out_of_scope}, threshold {threshold:.4g}"))
    rows.append(("adapted", _describe(saved["adaptation"]) if saved.get("adaptation")
                 else "no"))
    if training:
        counts = training.get("class_counts") or {}
        text = f"{training.get('data', '?')}, {training.get('n_images', '?')} photos"
        if counts:
            text += " (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
        rows.append(("trained on", text))
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (Python 3.10 too)
    date = now.strftime("%Y-%m-%d %H:%M UTC")
    return {"rows": rows, "classes": classes, "trusted": trusted, "date": date}


def photo_record(path, classes, proba=None, error=None, flag="", members=(), score=None,
                 threshold=None, true_class=None):
    """One photo of a report: what its card shows, all plain values (escaped by the page).

    ``proba``: its (calibrated) probabilities in the order of ``classes``; ``members``: its
    prediction set; ``score`` and ``threshold``: its out-of-scope score and the model's
    threshold (None when the model has none).
    """
    name = display_name(path)
    record = {"path": os.fspath(path), "file": name, "name": os.path.basename(name) or name,
              "error": error,
              "flag": flag or "unflagged", "true": true_class, "thumb": None, "overlay": None}
    if error is not None:
        return record
    order = sorted(range(len(classes)), key=lambda j: -float(proba[j]))
    top = order[0]
    record.update(
        pred=str(classes[top]), top=float(proba[top]),
        probs=[(str(classes[j]), float(proba[j])) for j in order],
        set=[str(c) for c in members], score=score, threshold=threshold,
        above=None if score is None or threshold is None else bool(score > threshold),
    )
    record["thumb"], thumb_error = thumbnail_uri(path)
    if thumb_error:
        record["thumb_error"] = thumb_error
    return record


def prediction_card(prediction, classes, threshold=None, true_class=None):
    """:func:`photo_record` of one record of ``iter_predictions`` (its flag, set and score
    where the model has them; ``threshold``: the model's out-of-scope threshold)."""
    if prediction.error is not None:
        return photo_record(prediction.path, classes, error=prediction.error)
    score = prediction["out_of_scope_score"]
    return photo_record(prediction.path, classes, prediction["proba"],
                        flag=prediction["flag"] or "",
                        members=prediction["prediction_set"] or (),
                        score=None if score is None or score != score else float(score),
                        threshold=threshold, true_class=true_class)
