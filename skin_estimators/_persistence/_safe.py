"""The safe model file: one safetensors file, the network weights plus a JSON description.

Layout: a standard safetensors file (readable by any safetensors tool). Its tensors are the
state dicts of the networks, named ``<step>.<module>.<key>`` (``2.module.features.0.weight``
for the classifier of a three-step pipeline). Its string metadata holds two entries:

- ``skin_estimators``: JSON with the format name and version, the library versions that
  wrote it, the estimator tree (class names from the allow-list, parameters, fitted
  attributes such as ``classes_``, ``input_shape_`` and the normaliser's ``mean_``/``std_``)
  and free-form metadata (what the ``train`` command knows about the training data);
- ``sha256``: a digest of that JSON and of every tensor's name, dtype, shape and bytes.

The digest catches corrupted, truncated and edited files. It is not a signature: whoever can
edit a file can recompute it. Safety against hostile files comes from never unpickling, from
building only allow-listed classes, from setting only the fitted attributes each class has
(``_fitted.py``) and from checking that the description is consistent before anything
predicts with it: every tensor finite (``_tensors.py``); every parameter within the
constraints its estimator declares, as ``fit`` checks them; finite numbers, shapes, devices,
nesting, pipelines (``_consistency.py``); the declared fitted fields (``_fields.py``).

Loading builds each estimator from its class and parameters, restores the fitted attributes,
lets the estimator create its networks with the fitted shapes through its persistence hook
``_initialize_for_loading()`` (see :class:`~skin_estimators.SkinNetClassifier`), and copies
the weights in with ``load_state_dict(strict=True)``. A transformer whose frozen network ONNX
Runtime already runs from a graph checked against these exact weights may keep the arrays
and build the network only when something needs it (``_defer_networks``): the same checks,
later, and PyTorch is then not imported to predict.
"""

import json

from . import _consistency, _registry, _voting
from ._codec import UnrepresentableError, decode, encode
from ._files import finish_temp, remove_quietly, temp_name, write_error
from ._registry import estimator_class, estimator_name
from ._tensors import as_torch, check_tensors, digest, read_tensors

__all__ = ["FORMAT", "FORMAT_VERSION", "build", "describe", "digest", "versions"]

FORMAT = "skin-estimators-safe"
#: Bumped whenever a reader of the previous version could not build the new files.
FORMAT_VERSION = 1
META_KEY = "skin_estimators"
HASH_KEY = "sha256"

# skorch's run-time bookkeeping, recreated by initialize(); never stored.
_SKORCH_RUNTIME = {
    "initialized_", "virtual_params_", "label_encoder_", "augmenter_", "init_context_",
    "callbacks_", "prefixes_", "cuda_dependent_attributes_", "history_",
}


def versions():
    """Versions of what wrote (or reads) a model file."""
    from ..utils._validation import versions

    return versions(extra=("safetensors",))


def _is_net(est):
    return _is_net_class(type(est))


def describe(est, tensors, where="model", prefix=""):
    """JSON-able description of ``est``; adds its networks' weights to ``tensors``."""
    from sklearn.pipeline import Pipeline

    name = estimator_name(est)
    if name is None:
        raise UnrepresentableError(
            where, est, "which holds scikit-learn Pipelines of this library's estimators ("
            + ", ".join(_registry.estimator_names())
            + ") only")
    if isinstance(est, Pipeline):
        from sklearn.base import is_classifier

        last = est.steps[-1][1] if est.steps else None
        if last is None or isinstance(last, str) or not is_classifier(last):
            raise UnrepresentableError(
                where, est, "which holds pipelines that end with a classifier (a model)")
        params = est.get_params(deep=False)
        steps = []
        for i, (step_name, step) in enumerate(params.pop("steps")):
            if step is None or (isinstance(step, str) and step == "passthrough"):
                steps.append([step_name, "passthrough"])
            else:
                steps.append([step_name, describe(step, tensors, f"{where}[{step_name!r}]",
                                                  f"{prefix}{i}.")])
        return {"class": name, "params": _encode_all(params, where), "steps": steps}
    if _voting.is_voting(est):  # an ensemble: its fitted members, nested
        return _voting.describe_voting(est, tensors, where, prefix, describe)

    params = est.get_params(deep=False)
    skip = set()
    wrapped = params.get("estimator")
    if hasattr(wrapped, "get_params"):  # a meta-estimator: the fitted inner one, described
        del params["estimator"]
        inner = getattr(est, "estimator_", wrapped)
        skip.add("estimator_")
    spec = {"class": name, "params": _encode_all(params, where)}
    if hasattr(wrapped, "get_params"):
        spec["estimator"] = describe(inner, tensors, f"{where}.estimator_", f"{prefix}estimator.")
    if "estimators_" in vars(est):  # fold models (cross-conformal sets): nested descriptions
        skip.add("estimators_")
        if est.estimators_ is not None:
            spec["estimators"] = [describe(m, tensors, f"{where}.estimators_[{j}]",
                                           f"{prefix}estimators.{j}.")
                                  for j, m in enumerate(est.estimators_)]
    fitted = {}
    if _is_net(est) and est.__sklearn_is_fitted__():
        spec["classes"] = encode(est.classes_, f"{where}.classes_")
        spec["modules"] = {}
        for module in est._modules:
            state = getattr(est, module + "_").state_dict()
            key = f"{prefix}{module}."
            spec["modules"][module] = key
            for k, v in state.items():
                # clone: safetensors refuses tensors that share memory; contiguous: channels-last
                tensors[key + k] = v.detach().to("cpu").contiguous().clone()
        try:
            spec["history"] = encode(list(est.history_), f"{where}.history_")
        except UnrepresentableError:
            pass  # the training log is a convenience, not needed to predict
    if _is_net(est):
        skip |= set(_SKORCH_RUNTIME)
        skip |= {n + "_" for n in est._modules + est._criteria + est._optimizers}
    else:
        # A frozen network fitted into a transformer (PretrainedFeatures.backbone_): its
        # weights go into the file as tensors, so loading never re-reads the weights package.
        frozen = _frozen_networks(est)
        if frozen:
            spec["frozen_modules"] = {}
            for attr, module in frozen.items():
                key = f"{prefix}{attr}."
                spec["frozen_modules"][attr] = key
                for k, v in module.state_dict().items():
                    tensors[key + k] = v.detach().to("cpu").contiguous().clone()
            skip |= set(frozen)
    for attr, value in vars(est).items():
        if attr.endswith("_") and not attr.startswith("_") and attr not in skip:
            fitted[attr] = encode(value, f"{where}.{attr}")
    spec["fitted"] = fitted
    return spec


def _encode_all(params, where):
    return {k: encode(v, f"{where} parameter {k}") for k, v in params.items()}


def build(spec, tensors, where="model", _depth=0):
    """Inverse of :func:`describe`: a fitted estimator, without unpickling anything.

    Every description is checked for consistency as it is built (see ``_consistency``).
    Whatever goes wrong raises ValueError naming the estimator (``model['scaler']``) or the
    field that is wrong; only MemoryError and interruptions pass through unchanged.
    """
    try:
        return _build(spec, tensors, where, _depth)
    except (ValueError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - a crafted description may break any step
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ValueError(
            f"{where} cannot be built from its description ({type(exc).__name__}: "
            f"{first:.200})"
        ) from None


def _build(spec, tensors, where, _depth):
    if not isinstance(spec, dict) or not isinstance(spec.get("class"), str):
        raise ValueError(f"{where} is not an estimator description (no class name)")
    if _depth > 8:
        raise ValueError(f"{where}: pipelines nest more than 8 levels deep")
    try:
        cls = estimator_class(spec["class"])
    except KeyError:
        raise ValueError(
            f"{where} is a {spec['class']!r:.80}, which this version of skin-estimators does "
            "not know (written by a newer version, or a model from another library?)"
        ) from None
    _consistency.check_spec(spec, spec["class"], cls, where)
    params = {k: decode(v, f"{where} parameter {k}") for k, v in spec["params"].items()}
    _consistency.check_params(params, where, cls)
    _check_network_params(cls, params, where)
    _device_of_this_machine(params, where)
    if "steps" in spec:
        steps = [(n, "passthrough" if s == "passthrough"
                  else build(s, tensors, f"{where}[{n!r}]", _depth + 1))
                 for n, s in spec["steps"]]
        pipeline = cls(steps=steps, **params)
        _consistency.check_pipeline(pipeline, where)
        return pipeline
    if spec["class"] == _voting.VOTING:
        return _voting.build_voting(cls, spec, params, tensors, where, _depth, build)
    inner = None
    if "estimator" in spec:  # a meta-estimator: its wrapped (fitted) estimator comes first
        from sklearn.base import clone

        inner = build(spec["estimator"], tensors, f"{where}.estimator_", _depth + 1)
        params["estimator"] = clone(inner)
    est = cls(**params)
    if inner is not None and spec.get("fitted"):
        est.estimator_ = inner
    if "estimators" in spec:
        est.estimators_ = [build(s, tensors, f"{where}.estimators_[{j}]", _depth + 1)
                           for j, s in enumerate(spec["estimators"])]
    elif spec["class"] in _consistency.FOLD_MODELS and spec.get("fitted"):
        est.estimators_ = None  # fitted without fold models (split-conformal sets)
    for attr, value in spec.get("fitted", {}).items():
        value = decode(value, f"{where}.{attr}")
        _consistency.check_finite(value, f"{where}.{attr}")
        setattr(est, attr, value)
    if "classes" in spec:
        _restore_net(est, spec, tensors, where)
    if "frozen_modules" in spec:
        _restore_frozen(est, spec, tensors, where)
    _consistency.check_built(spec["class"], est, where)
    return est


def _frozen_networks(est):
    """Fitted attributes of ``est`` that are torch networks (non-skorch estimators only).

    A transformer loaded with its networks deferred (see :func:`_restore_frozen`) builds them
    first, so that what is saved is always the networks' own weights.
    """
    build_deferred = getattr(est, "_build_deferred_networks", None)
    if build_deferred is not None:
        build_deferred()
    import torch

    return {attr: value for attr, value in vars(est).items()
            if attr.endswith("_") and not attr.startswith("_")
            and isinstance(value, torch.nn.Module)}


def _restore_frozen(est, spec, tensors, where):
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


def load_frozen(est, states, where):
    """Build ``est``'s frozen networks and load ``states`` (``{attr: {name: array}}``) into them.

    ValueError, naming ``where``, when a network does not take its weights.
    """
    import torch

    if not hasattr(est, "_initialize_for_loading"):
        raise ValueError(f"{where} stores networks, but {type(est).__name__} cannot rebuild them")
    with torch.random.fork_rng(devices=[]):
        est._initialize_for_loading()  # builds the networks without their pretrained weights
    for attr, state in states.items():
        module = getattr(est, attr, None)
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"{where}.{attr} is not a network this version builds")
        state = as_torch(state)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(
                f"the weights of {where}.{attr} do not fit the network this version builds "
                f"from its parameters ({str(exc).splitlines()[0]})"
            ) from None


#: ``module__*`` keywords that make a network read a file or reach the network when built.
_LOCATION_KEYWORDS = {"pretrained", "cache_dir", "file", "url", "checkpoint_path", "path",
                      "pretrained_cfg", "pretrained_cfg_overlay", "weights", "hf_hub_id"}


def _check_network_params(cls, params, where):
    """Refuse network parameters that would make loading touch anything but the model file.

    A file names the network builder (``module``) and its keywords (``module__*``); a
    crafted file could name ``download_weights`` or pass a URL, a cache folder or a local
    path, and building the network would then fetch, create or read it. The library's own
    estimators only ever save their default builder, so anything else is refused; the
    generic ``SkinNetClassifier`` may hold a network class of ``skin_estimators.networks``
    (a ``torch.nn.Module``), never a function.
    """
    import inspect

    if "module" not in params or not _is_net_class(cls):
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


def _is_net_class(cls):
    from ..classifiers import SkinNetClassifier

    return isinstance(cls, type) and issubclass(cls, SkinNetClassifier)


def _device_of_this_machine(params, where):
    """A model saved on a GPU loads on a machine without one (on the CPU, with a note)."""
    import warnings

    device = params.get("device")
    if not (isinstance(device, str) or device is None):
        device = str(device)  # a torch.device
    if not (isinstance(device, str) and device.startswith("cuda")):
        return  # the CPU, "auto" (resolved where it computes) or nothing: torch not needed
    import torch

    if not torch.cuda.is_available():
        warnings.warn(
            f"{where} was saved with device={device!r}, but this machine has no CUDA GPU: it "
            "runs on the CPU (device='cpu').", UserWarning, stacklevel=4)
        params["device"] = "cpu"


def _restore_net(est, spec, tensors, where):
    import torch
    from sklearn.preprocessing import LabelEncoder
    from skorch.history import History

    encoder = LabelEncoder()
    encoder.classes_ = decode(spec["classes"], f"{where}.classes_")
    est.label_encoder_ = encoder
    _consistency.check_net(est, where)
    # Creating the network draws initial weights from torch's generator; loading a model
    # must not change the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        est._initialize_for_loading()  # the estimators' persistence hook (SkinNetClassifier)
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


def write(path, est, metadata):
    """Write ``est`` to ``path`` (through a temporary file in the same folder)."""
    from safetensors.torch import save_file

    tensors = {}
    doc = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "versions": versions(),
        "estimator": describe(est, tensors), "metadata": encode(metadata or {}, "metadata"),
    }
    meta_json = json.dumps(doc, sort_keys=True, allow_nan=True)
    header = {META_KEY: meta_json, HASH_KEY: digest(meta_json, tensors)}
    tmp = temp_name(path)
    try:
        save_file(tensors, tmp, metadata=header)
        finish_temp(tmp, path)
    except BaseException as exc:
        remove_quietly(tmp)
        error = write_error(path, exc)
        if error is not None:
            raise error from None
        raise


def read(path):
    """Return ``(doc, tensors)`` after checking the digest; ValueError says what is wrong."""
    # As numpy arrays: loading a model whose networks run through ONNX Runtime then never
    # imports PyTorch. A dtype numpy lacks (bfloat16) is read as torch tensors instead.
    try:
        header, tensors = read_tensors(path, "numpy", META_KEY)
    except (TypeError, ValueError) as exc:
        if "bf16" not in str(exc).lower() and "bfloat16" not in str(exc).lower():
            raise
        header, tensors = read_tensors(path, "pt", META_KEY)
    meta_json = header[META_KEY]
    if digest(meta_json, tensors) != header.get(HASH_KEY):
        raise ValueError(
            "its checksum does not match its content: the file was modified or damaged after "
            "it was saved. Do not use it; get an intact copy"
        )
    check_tensors(tensors)  # every weight finite, before any network is built from them
    try:
        doc = json.loads(meta_json)
    except RecursionError:
        raise ValueError("its description nests too deeply to be a model file's") from None
    if not isinstance(doc, dict):
        raise ValueError("its description is not a model file's")
    if doc.get("format") != FORMAT:
        raise ValueError(f"unknown model-file format {doc.get('format')!r}")
    return doc, tensors
