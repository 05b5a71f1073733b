"""Saliency overlays for the predict report (``predict --report FILE --explain``).

The maps come from :mod:`skin_estimators.explain` (the code behind the ``explain``
command, ``method="auto"``: Grad-CAM for the convolutional networks, gradient saliency for
the scattering network): each in-scope photo's map for its top class, drawn over its
thumbnail.
"""

from ._report import picture_uri, thumbnail

__all__ = ["add_overlays", "explain_unsupported"]


def explain_unsupported(model):
    """Why the report cannot show where ``model`` looked, or None when it can.

    The same rule as the ``explain`` command (:func:`skin_estimators.explain.explainer`): a
    network classifier ending the pipeline (also inside a TrustedClassifier), or frozen
    pretrained features followed by a linear head.
    """
    from ..explain import explainer

    try:
        explainer(model)
    except ValueError as exc:
        return f"{exc} Run predict without --explain."
    return None


def add_overlays(model, records, batch_size=8, progress=False):
    """Put a saliency overlay (``record["overlay"]``, a ``data:`` URI) on the in-scope records.

    In scope: readable, with a thumbnail, and not flagged ``out_of_scope``. Returns how
    many overlays were drawn.
    """
    from tqdm.auto import tqdm

    from ..explain import overlay, saliency_maps
    from ..inference import image_loader

    loader = image_loader(model)
    resize = getattr(loader, "resize", "stretch")
    crop_bottom = float(getattr(loader, "crop_bottom", 0.0) or 0.0)
    todo = [r for r in records
            if r["error"] is None and r["thumb"] is not None and r["flag"] != "out_of_scope"]
    with tqdm(total=len(todo), unit="img", desc="explain", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            maps = saliency_maps(model, [r["path"] for r in chunk], method="auto")
            for record, saliency in zip(chunk, maps, strict=True):
                picture = overlay(thumbnail(record["path"]), saliency, resize=resize,
                                  crop_bottom=crop_bottom)
                record["overlay"] = picture_uri(picture)
            bar.update(len(chunk))
    return len(todo)
