"""Which region of a photograph drove a prediction: Grad-CAM and gradient saliency maps.

Two methods, chosen per architecture by ``method="auto"``:

- **Grad-CAM** (Selvaraju et al., 2017, through the ``grad-cam`` package) for the
  convolutional networks: the activations of the last convolution layer, weighted by the
  gradient of the predicted class's logit averaged over each channel. Coarse (the layer's
  resolution) but class-specific and robust.
- **Gradient saliency** (Simonyan et al., 2014) for the scattering network, whose
  fixed wavelet front end has no learned convolution layer to look at: ``|d logit / d input|``,
  the maximum over the colour channels.

Maps are scaled to [0, 1] per image. :func:`overlay` draws one over the original photograph,
at the photograph's own size, undoing the pipeline's resizing (stretch, pad or crop).

A pipeline of frozen :class:`~skin_estimators.PretrainedFeatures`, a ``StandardScaler``
and a linear classifier (the recommended model, alone or inside a
:class:`~skin_estimators.TrustedClassifier`) is explained through a differentiable copy of
it that reproduces its logits (see ``_explain_linear.py``): Grad-CAM on the backbone's last
feature stage. A TrustedClassifier around a network is explained through that network. What
cannot be explained is refused by :func:`explainer` in one line, before anything is computed.

An estimator can choose for itself by defining ``_saliency_method`` (``"gradcam"`` or
``"gradient"``) and, for Grad-CAM, ``_gradcam_target_layers()`` returning the layers to use
(default: a timm backbone's last feature stage, else the last ``torch.nn.Conv2d`` outside the
classification head). Grad-CAM's map has the resolution of that layer (1/4 of the input for
the vanilla CNN, 1/32 for ResNet-50 and BiT): on tiny inputs it degenerates to a single
value and the map is blank (all zero).
"""

import os

import numpy as np

from .utils._atomic import atomic_write

__all__ = ["METHODS", "explain_images", "overlay", "saliency_maps"]

METHODS = ("auto", "gradcam", "gradient")

# Architectures whose default is not Grad-CAM (by class name: the library's optional models
# are imported lazily and may be absent).
_GRADIENT_BY_DEFAULT = {"ScatteringClassifier"}


def _resolve_method(clf, method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}.")
    if method != "auto":
        return method
    own = getattr(clf, "_saliency_method", None)
    if own:
        return own
    if type(clf).__name__ in _GRADIENT_BY_DEFAULT:
        return "gradient"
    import torch

    has_conv = any(isinstance(m, torch.nn.Conv2d) for m in clf.module_.modules())
    return "gradcam" if has_conv else "gradient"


def _target_layers(clf):
    """The layer(s) Grad-CAM looks at: the network's last feature block.

    In order: the estimator's ``_gradcam_target_layers()``; for timm backbones the module of
    their last ``feature_info`` entry (``layer4`` of a ResNet-50, ``stages.3`` of BiT); else
    the last ``Conv2d`` outside the classification head (BiT's head is a 1x1 convolution,
    whose 1x1 output would make a blank map).
    """
    import torch

    hook = getattr(clf, "_gradcam_target_layers", None)
    if hook is not None:
        return list(hook())
    module = clf.module_
    info = getattr(module, "feature_info", None)
    try:
        return [module.get_submodule(info[-1]["module"])]
    except (TypeError, KeyError, IndexError, AttributeError):
        pass
    head = module.get_classifier() if hasattr(module, "get_classifier") else None
    in_head = {id(m) for m in head.modules()} if isinstance(head, torch.nn.Module) else set()
    convs = [m for m in module.modules()
             if isinstance(m, torch.nn.Conv2d) and id(m) not in in_head]
    if not convs:
        raise ValueError(
            f"{type(clf).__name__}'s network has no Conv2d layer for Grad-CAM; use "
            "method='gradient'."
        )
    return [convs[-1]]


def _gradcam(clf, x, targets):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    # The input needs a gradient so that Grad-CAM's hooks fire even on a frozen backbone.
    x = x.detach().requires_grad_(True)
    with GradCAM(model=clf.module_, target_layers=_target_layers(clf)) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in targets])
    return np.asarray(maps, dtype=np.float32)


def _gradient(clf, x, targets):
    import torch

    x = x.detach().clone().requires_grad_(True)
    logits = clf.module_(x)
    logits[torch.arange(len(targets)), torch.as_tensor(targets)].sum().backward()
    g = x.grad.detach().abs().amax(dim=1).cpu().numpy()
    peak = g.reshape(len(g), -1).max(axis=1).reshape(-1, 1, 1)
    return (g / np.maximum(peak, 1e-12)).astype(np.float32)


def saliency_maps(model, X, method="auto", target=None):
    """Saliency maps of a fitted classifier (or pipeline) for a batch of images.

    Parameters
    ----------
    model : Pipeline or classifier
        A fitted pipeline ending in one of the library's classifiers, or in frozen
        PretrainedFeatures with a linear head (then ``X`` is what the pipeline takes, e.g.
        file paths), or the classifier itself (then ``X`` is a float array
        ``(n, 3, H, W)``).
    X : list of paths or ndarray
        The images.
    method : {"auto", "gradcam", "gradient"}, default="auto"
        ``"auto"``: Grad-CAM for convolutional networks, gradient saliency for the
        scattering network.
    target : label or None, default=None
        The class to explain; None explains each image's predicted class.

    Returns
    -------
    maps : ndarray of shape (n, H, W), float32 in [0, 1]
        At the network's input resolution.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import VanillaCNNClassifier
    >>> from skin_estimators.explain import saliency_maps
    >>> X = np.random.RandomState(0).randn(8, 3, 16, 16).astype("float32")
    >>> clf = VanillaCNNClassifier(max_epochs=1, random_state=0).fit(X, ["a", "b"] * 4)
    >>> maps = saliency_maps(clf, X[:2])
    >>> maps.shape, float(maps.min()) >= 0, float(maps.max()) <= 1
    ((2, 16, 16), True, True)
    """
    return _explain_arrays(model, X, method, target)[0]


def _explain_arrays(model, X, method, target):
    """``(maps, proba, method)`` for the images X."""
    import torch
    from sklearn.pipeline import Pipeline

    from ._explain_linear import LinearProbe

    if isinstance(model, Pipeline):
        preprocess, clf = explainer(model)
        X = preprocess.transform(X)
    else:
        clf = model
    if isinstance(clf, LinearProbe):
        return _explain_probe(clf, X, method, target)
    owner, clf = clf, _network(clf)
    _check_network(clf)
    clf._check_fitted()
    method = _resolve_method(clf, method)
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    proba = owner.predict_proba(X)
    targets = _targets(owner.classes_, proba, target)
    module = clf.module_
    was_training = module.training
    module.eval()
    try:
        x = torch.as_tensor(X, device=clf.device)
        maps = _gradcam(clf, x, targets) if method == "gradcam" else _gradient(clf, x, targets)
    finally:
        module.train(was_training)
        module.zero_grad(set_to_none=True)
    return maps, proba, method


def _targets(classes, proba, target):
    if target is None:
        return proba.argmax(axis=1)
    matches = np.flatnonzero(np.asarray(classes) == target)
    if not matches.size:
        raise ValueError(f"target {target!r} is not one of the classes {list(classes)}.")
    return np.full(len(proba), matches[0])


def _explain_probe(probe, X, method, target):
    """``(maps, proba, method)`` of frozen features + a linear head (see _explain_linear)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}.")
    method = "gradcam" if method == "auto" else method
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    proba = probe.predict_proba(X)
    return probe.saliency(X, _targets(probe.classes_, proba, target), method), proba, method


def _network(clf):
    """The network classifier whose saliency explains ``clf`` (a TrustedClassifier's own)."""
    inner = getattr(clf, "estimator_", None)
    if not hasattr(clf, "module_") and inner is not None and hasattr(inner, "module_"):
        return inner
    return clf


def explainer(model):
    """``(preprocess, explained)``: the steps that load the files and what the maps explain.

    ``explained`` is the network classifier ending ``model`` (also inside a
    TrustedClassifier), or a ``_explain_linear.LinearProbe`` for
    frozen pretrained features followed by a linear head.

    Raises
    ------
    ValueError
        One line saying why ``model`` cannot be explained (nothing is computed or written).
    """
    from ._explain_linear import linear_probe
    from .inference import split_pipeline

    probe = linear_probe(model)
    if probe is not None:
        return probe.preprocess, probe
    preprocess, clf = split_pipeline(model)
    _check_network(_network(clf))
    return preprocess, clf


def _check_network(net):
    if not (hasattr(net, "module_") and hasattr(net, "_check_fitted")):
        raise ValueError(
            f"explain: this model ({type(net).__name__} after the image steps) cannot be "
            "explained: saliency needs a network classifier (CNN, EfficientNet-Lite, "
            "ResNet-50, BiT, scattering network), or frozen PretrainedFeatures followed by "
            "StandardScaler and a linear classifier.")


def _open_upright(image):
    from PIL import Image, ImageOps

    if not isinstance(image, Image.Image):
        with Image.open(image) as im:
            im.load()
            image = im.copy()
    return ImageOps.exif_transpose(image).convert("RGB")


def _resize_map(m, size):
    from PIL import Image

    w, h = size
    return np.asarray(
        Image.fromarray(np.asarray(m, dtype=np.float32), mode="F").resize(
            (max(w, 1), max(h, 1)), Image.Resampling.BILINEAR
        )
    )


def _to_original_geometry(saliency, size, resize):
    """Map a saliency map of the network's input back onto the original image (W0, H0).

    Undoes ImageLoader's resize modes: "stretch" scales back; "crop" saw only the centre of
    the photo (the rest gets NaN, drawn without colour); "pad" added borders, cut off here.
    """
    W0, H0 = size
    th, tw = saliency.shape
    if resize == "crop":
        ratio = tw / th
        if W0 / H0 > ratio:
            cw, ch = H0 * ratio, H0
        else:
            cw, ch = W0, W0 / ratio
        x0, y0 = round((W0 - cw) / 2), round((H0 - ch) / 2)
        cw, ch = round(cw), round(ch)
        out = np.full((H0, W0), np.nan, dtype=np.float32)
        out[y0:y0 + ch, x0:x0 + cw] = _resize_map(saliency, (cw, ch))[: H0 - y0, : W0 - x0]
        return out
    if resize == "pad":
        if W0 / H0 > tw / th:
            nw, nh = tw, max(1, round(H0 * tw / W0))
        else:
            nw, nh = max(1, round(W0 * th / H0)), th
        x0, y0 = round((tw - nw) / 2), round((th - nh) / 2)
        saliency = saliency[y0:y0 + nh, x0:x0 + nw]
    return _resize_map(saliency, (W0, H0))


def overlay(image, saliency, resize="stretch", alpha=0.5, cmap="jet", crop_bottom=0.0):
    """Draw a saliency map over an image, at the image's own size.

    Parameters
    ----------
    image : str, path-like or PIL.Image.Image
        The original photograph (turned upright by its EXIF orientation tag, as ImageLoader
        does).
    saliency : ndarray of shape (H, W)
        A map from :func:`saliency_maps`, at the network's input size.
    resize : {"stretch", "pad", "crop"}, default="stretch"
        How the pipeline's ImageLoader resized the photograph (to map the saliency back).
    alpha : float, default=0.5
        Opacity of the colour map where the saliency is highest (it fades with saliency, so
        unimportant regions stay visible).
    cmap : str, default="jet"
        A matplotlib colour map.
    crop_bottom : float, default=0.0
        The ImageLoader's ``crop_bottom``: the network saw the photograph without this
        fraction of its height at the bottom, which is drawn without colour.

    Returns
    -------
    PIL.Image.Image
        RGB, the size of ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skin_estimators.explain import overlay
    >>> photo = Image.new("RGB", (60, 40), (200, 150, 120))
    >>> overlay(photo, np.eye(16, dtype="float32")).size
    (60, 40)
    """
    import matplotlib

    img = _open_upright(image)
    W0, H0 = img.size
    kept = int(round(H0 * (1.0 - crop_bottom))) if crop_bottom else H0
    heat = np.full((H0, W0), np.nan, dtype=np.float32)
    heat[:kept] = _to_original_geometry(np.asarray(saliency, dtype=np.float32), (W0, kept),
                                        resize)
    valid = np.isfinite(heat)
    heat = np.clip(np.nan_to_num(heat, nan=0.0), 0, 1)
    colours = matplotlib.colormaps[cmap](heat)[..., :3] * 255.0
    weight = (alpha * (0.3 + 0.7 * heat) * valid)[..., None]
    base = np.asarray(img, dtype=np.float32)
    out = base * (1 - weight) + colours * weight
    from PIL import Image

    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "RGB")


def explain_images(model, paths, out_dir, method="auto", batch_size=8, progress=False):
    """Write a saliency overlay per image file into ``out_dir``.

    Each overlay is a PNG the size of its input photograph, named after it
    (``<name>_saliency.png``; a number is added when two inputs share a name).

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline that starts from file paths (ImageLoader first).
    paths : list of str
        Image files.
    out_dir : str or path-like
        Created if needed.
    method : {"auto", "gradcam", "gradient"}, default="auto"
    batch_size : int, default=8
    progress : bool, default=False
        Show a progress bar.

    Returns
    -------
    list of dict
        Per input: ``image_path``, ``overlay_path`` (None on error), ``pred_class``,
        ``probability``, ``method`` and ``error`` (None on success).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sklearn.pipeline import make_pipeline
    >>> from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier
    >>> from skin_estimators.explain import explain_images
    >>> tmp = tempfile.TemporaryDirectory()
    >>> rng = np.random.RandomState(0)
    >>> paths = []
    >>> for i in range(8):
    ...     paths.append(os.path.join(tmp.name, f"photo{i}.png"))
    ...     Image.fromarray(rng.randint(0, 256, (24, 32, 3), dtype=np.uint8)).save(paths[-1])
    >>> model = make_pipeline(ImageLoader(size=16), ChannelNormalizer(),
    ...                       VanillaCNNClassifier(max_epochs=1, random_state=0))
    >>> model = model.fit(paths, ["acne", "lichen"] * 4)
    >>> rows = explain_images(model, paths[:2], os.path.join(tmp.name, "saliency"))
    >>> [os.path.basename(row["overlay_path"]) for row in rows]
    ['photo0_saliency.png', 'photo1_saliency.png']
    >>> Image.open(rows[0]["overlay_path"]).size, rows[0]["method"], rows[0]["error"]
    ((32, 24), 'gradcam', None)
    >>> tmp.cleanup()
    """
    from tqdm.auto import tqdm

    from .inference import image_loader, transform_files

    preprocess, clf = explainer(model)
    loader = image_loader(model)
    resize = getattr(loader, "resize", "stretch")
    crop_bottom = float(getattr(loader, "crop_bottom", 0.0) or 0.0)
    os.makedirs(out_dir, exist_ok=True)
    paths = [str(p) for p in paths]
    records, used = [], set()
    with tqdm(total=len(paths), unit="img", desc="explain", disable=not progress) as bar:
        for start in range(0, len(paths), batch_size):
            chunk = paths[start:start + batch_size]
            X, ok, bad = transform_files(preprocess, chunk)
            results = {}
            if ok:
                maps, proba, used_method = _explain_arrays(clf, X, method, None)
                for j, i in enumerate(ok):
                    results[i] = (maps[j], proba[j], used_method)
            for i, path in enumerate(chunk):
                rec = {"image_path": path, "overlay_path": None, "pred_class": None,
                       "probability": None, "method": None, "error": bad.get(i)}
                if i in results:
                    m, p, used_method = results[i]
                    target = os.path.join(out_dir, _unique_name(path, used))
                    try:
                        picture = overlay(path, m, resize=resize, crop_bottom=crop_bottom)
                        atomic_write(target, lambda f, p=picture: p.save(f, format="PNG"))
                    except OSError as exc:
                        rec["error"] = f"could not write the overlay: {exc}"
                    else:
                        k = int(np.argmax(p))
                        rec.update(overlay_path=target, pred_class=clf.classes_[k],
                                   probability=float(p[k]), method=used_method)
                records.append(rec)
            bar.update(len(chunk))
    return records


def _unique_name(path, used):
    stem = os.path.splitext(os.path.basename(path))[0] or "image"
    name, k = f"{stem}_saliency.png", 1
    while name in used:
        name, k = f"{stem}_saliency_{k}.png", k + 1
    used.add(name)
    return name
