"""The networks of a safe model file: a classifier's trained ones, a transformer's frozen ones.

A class that declares networks (``_model_file_networks``, a skorch classifier's ``module``)
has their weights stored as tensors named ``<prefix><module>.<key>``, with its classes and
its training log beside them; loading checks the classifier's declared state, rebuilds the
networks from the parameters (``_initialize_for_loading()``) and copies the weights in with
``load_state_dict(strict=True)``. Any other estimator whose fitted attributes are torch
networks (a frozen backbone, ``PretrainedFeatures.backbone_``) has them stored the same way
(``frozen_modules``) and rebuilt through the same hook, or deferred by the estimator
(``_defer_networks``). The network parameters a file gives may not make building touch
anything but the file (:func:`check_network_params`).
"""

from ..utils._torch_state import as_torch, load_frozen
from ._codec import UnrepresentableError, decode, encode
from ._consistency import network_names

__all__ = ["SKORCH_RUNTIME", "check_network_params", "describe_networks", "frozen_networks",
           "restore_frozen", "restore_net"]

#: skorch's run-time bookkeeping, recreated by initialize(); never stored.
SKORCH_RUNTIME = {
    "initialized_", "virtual_params_", "label_encoder_", "augmenter_", "init_context_",
    "callbacks_", "prefixes_", "cuda_dependent_attributes_", "history_",
}


def describe_networks(est, spec, tensors, where, prefix):
    """Add ``est``'s networks to ``spec`` and their weights to ``tensors``; return the fitted
    attributes they account for (not to be stored as such)."""
    names = network_names(type(est))
    if not names:
        # A frozen network fitted into a transformer (PretrainedFeatures.backbone_): its
        # weights go into the file as tensors, so loading never re-reads the weights package.
        frozen = frozen_networks(est)
        if frozen:
            spec["frozen_modules"] = {}
            for attr, module in frozen.items():
                key = f"{prefix}{attr}."
                spec["frozen_modules"][attr] = key
                _add_state(tensors, key, module.state_dict())
        return set(frozen)
    if est.__sklearn_is_fitted__():
        spec["classes"] = encode(est.classes_, f"{where}.classes_")
        spec["modules"] = {}
        for module in est._modules:
            key = f"{prefix}{module}."
            spec["modules"][module] = key
            _add_state(tensors, key, getattr(est, module + "_").state_dict())
        try:
            spec["history"] = encode(list(est.history_), f"{where}.history_")
        except UnrepresentableError:
            pass  # the training log is a convenience, not needed to predict
    return set(SKORCH_RUNTIME) | {n + "_" for n in est._modules + est._criteria
                                  + est._optimizers}


def _add_state(tensors, key, state):
    for k, v in state.items():
        # clone: safetensors refuses tensors that share memory; contiguous: channels-last
        tensors[key + k] = v.detach().to("cpu").contiguous().clone()


def frozen_networks(est):
    """Fitted attributes of ``est`` that are torch networks (non-skorch estimators only).

    A transformer loaded with its networks deferred (see :func:`restore_frozen`) builds them
    first, so that what is saved is always the networks' own weights.
    """
    build_deferred = getattr(est, "_build_deferred_networks", None)
    if build_deferred is not None:
        build_deferred()
    import torch

    return {attr: value for attr, value in vars(est).items()
            if attr.endswith("_") and not attr.startswith("_")
            and isinstance(value, torch.nn.Module)}


def restore_frozen(est, spec, tensors, where):
    """Rebuild a transformer's frozen networks (random weights, no file read), load the file's.

    A transformer may instead defer them (``_defer_networks``, :class:`PretrainedFeatures`
    when ONNX Runtime holds a graph already checked against these very weights): it then
    keeps the file's arrays and builds the networks, with the same checks, only if one is
    needed.
    """
    states = {attr: {k[len(key):]: v for k, v in tensors.items() if k.startswith(key)}
              for attr, key in spec["frozen_modules"].items()}
    defer = getattr(est, "_defer_networks", None)
    if defer is not None and defer(states):
        return
    load_frozen(est, states, where)


#: ``module__*`` keywords that make a network read a file or reach the network when built.
_LOCATION_KEYWORDS = {"pretrained", "cache_dir", "file", "url", "checkpoint_path", "path",
                      "pretrained_cfg", "pretrained_cfg_overlay", "weights", "hf_hub_id"}


def check_network_params(cls, params, where):
    """Refuse network parameters that would make loading touch anything but the model file.

    A file names the network builder (``module``) and its keywords (``module__*``); a
    crafted file could name ``download_weights`` or pass a URL, a cache folder or a local
    path, and building the network would then fetch, create or read it. The library's own
    estimators only ever save their default builder, so anything else is refused; the
    generic ``SkinNetClassifier`` may hold a network class of ``skin_estimators.networks``
    (a ``torch.nn.Module``), never a function.
    """
    import inspect

    if "module" not in params or not network_names(cls):
        return
    import torch

    module = params["module"]
    default = inspect.signature(cls).parameters.get("module")
    default = None if default is None else default.default
    if default not in (None, inspect.Parameter.empty):
        ok = module is default
    else:
        ok = isinstance(module, type) and issubclass(module, torch.nn.Module)
    if not ok:
        raise ValueError(
            f"{where} names the network builder {getattr(module, '__name__', module)!r}, which "
            f"is not the one {cls.__name__} saves; the file was not written by "
            "skin-estimators' save_model, refusing to build it"
        )
    for key, value in params.items():
        if not key.startswith("module__"):
            continue
        name = key[len("module__"):]
        named_location = name in _LOCATION_KEYWORDS and value not in (None, False)
        looks_like_location = isinstance(value, str) and any(
            mark in value for mark in ("/", "\\", "://", ".pth", ".safetensors", ".npz", ".bin"))
        if named_location or looks_like_location:
            raise ValueError(
                f"{where} parameter {key}={value!r} would make loading read a file or reach "
                "the network; a safe model file holds its weights itself, refusing it"
            )


def restore_net(est, spec, tensors, where):
    """Restore a classifier's classes, check its state, build its networks, load the weights."""
    import torch
    from sklearn.preprocessing import LabelEncoder
    from skorch.history import History

    encoder = LabelEncoder()
    encoder.classes_ = decode(spec["classes"], f"{where}.classes_")
    est.label_encoder_ = encoder
    est._check_model_file_state(where)  # its declared check, before the network is built
    # Creating the network draws initial weights from torch's generator; loading a model
    # must not change the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        est._initialize_for_loading()  # the estimator's persistence hook
    for module, key in spec["modules"].items():
        state = as_torch({k[len(key):]: v for k, v in tensors.items() if k.startswith(key)})
        try:
            getattr(est, module + "_").load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(
                f"the weights of {where}.{module}_ do not fit the network this version builds "
                f"from its parameters ({str(exc).splitlines()[0]})"
            ) from None
    if "history" in spec:
        est.history_ = History(decode(spec["history"], f"{where}.history_"))
