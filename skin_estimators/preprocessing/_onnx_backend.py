"""The ONNX Runtime backend of the frozen networks: a graph exported once, cached on disk.

:class:`PretrainedFeatures` computes its features either with PyTorch or, on a CPU, through
ONNX Runtime (``pip install "skin-estimators[fast]"``), which runs EfficientNet-Lite's
depthwise convolutions several times faster than PyTorch's CPU kernels.

The graph is exported by ``torch.onnx.export`` from the network held in memory: the fitted
transformer's own weights, never a file from the network or a model hub. It is exported at
the first use in a process and written to the user's cache folder, so that later processes
skip the export:

* ``$SKIN_ESTIMATORS_ONNX_CACHE`` if set, else ``$XDG_CACHE_HOME/skin-estimators/onnx``,
  else ``~/.cache/skin-estimators/onnx``;
* ``<key>.onnx``, where ``<key>`` is the SHA-256 of the weights' digest, the tensors' names,
  dtypes and shapes, the stages, the image shape and the versions of the library, of torch
  and of the export format; beside it ``<key>.sha256``, the SHA-256 of the ``.onnx`` bytes.

A cached file is used only if its bytes match their recorded digest, the graph carries its
key in its metadata, and its output on a probe image matches PyTorch's; otherwise it is
exported again and replaced. An ONNX file is data: ONNX Runtime runs it with its own
kernels (no custom-operator libraries are registered, no external data files are read), so
using the cache runs no code but the library's and ONNX Runtime's. Loading a model file
never exports or reads the cache; the first ``transform`` does.
"""

import hashlib
import io
import os
import threading
import warnings

import numpy as np

__all__ = ["BACKENDS", "cache_dir", "feature_session", "resolve_backend"]

#: The values of ``PretrainedFeatures(backend=...)``.
BACKENDS = ("auto", "torch", "onnxruntime")
#: Relocates the cache of exported graphs.
CACHE_ENV = "SKIN_ESTIMATORS_ONNX_CACHE"
_OPSET = 17
_FORMAT = "1"  # the layout of the exported graph; part of the key
_KEY_META = "skin_estimators_key"
_MAX_SESSIONS = 4

_LOCK = threading.Lock()
_SESSIONS = {}  # (key, threads) -> onnxruntime.InferenceSession, most recent last
_FAILED = set()  # keys whose export failed in this process (not retried)
_WARNED = set()  # messages already warned in this process


def _warn_once(message):
    with _LOCK:
        if message in _WARNED:
            return
        _WARNED.add(message)
    warnings.warn(message, RuntimeWarning, stacklevel=4)


def _onnxruntime():
    """The onnxruntime module when it and onnx (which exports) are installed, else None.

    onnx itself is imported only to export: a process that finds its graph cached skips it.
    """
    import importlib.util

    try:
        import onnxruntime

        if importlib.util.find_spec("onnx") is None:
            return None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
        return None
    return onnxruntime


def resolve_backend(backend, device, owner):
    """The backend that will compute: ``"torch"`` or ``"onnxruntime"``.

    ``"auto"`` is ONNX Runtime when it is installed and ``device`` is the CPU, else torch.
    ``"onnxruntime"`` always runs on the CPU; without the packages it falls back to torch
    with one warning per process.
    """
    import torch

    if backend == "torch" or (backend == "auto" and torch.device(device).type != "cpu"):
        return "torch"
    if _onnxruntime() is None:
        if backend == "onnxruntime":
            _warn_once(f"{owner}: backend='onnxruntime' needs the onnxruntime and onnx "
                       "packages (pip install 'skin-estimators[fast]'); computing with "
                       "PyTorch instead.")
        return "torch"
    return "onnxruntime"


def cache_dir():
    """The folder of the exported graphs (see the module's documentation).

    Examples
    --------
    >>> from skin_estimators.preprocessing._onnx_backend import cache_dir
    >>> cache_dir().endswith("onnx")  # doctest: +SKIP
    True
    """
    path = os.environ.get(CACHE_ENV)
    if path:
        return os.path.abspath(os.path.expanduser(path))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "skin-estimators", "onnx")


def graph_key(signature, backbone, image_shape):
    """SHA-256 naming the graph of these weights (``signature``: their digest) and shapes."""
    import torch

    from .._version import __version__

    digest = hashlib.sha256()
    for part in (_FORMAT, __version__, torch.__version__, str(_OPSET), repr(signature),
                 repr(tuple(image_shape))):
        digest.update(part.encode())
        digest.update(b"\0")
    for name, tensor in backbone.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}\0".encode())
    return digest.hexdigest()


def _graph(backbone, forward):
    """``forward(x)`` of ``backbone`` as a module, for the exporter."""
    import torch

    class Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = backbone

        def forward(self, x):
            return forward(x)

    return Graph().eval()


def _export(backbone, forward, image_shape, key):
    """The ONNX bytes of ``forward`` (dynamic batch; ``image_shape`` = (3, H, W))."""
    import onnx
    import torch

    dummy = torch.zeros((2, *image_shape), dtype=torch.float32)
    buffer = io.BytesIO()
    backbone.to(memory_format=torch.contiguous_format)
    with warnings.catch_warnings():
        # The TorchScript exporter announces its deprecation; its graph is what we need.
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(_graph(backbone, forward), dummy, buffer, input_names=["images"],
                              output_names=["features"], opset_version=_OPSET,
                              dynamic_axes={"images": {0: "n"}, "features": {0: "n"}},
                              dynamo=False)
    proto = onnx.load_from_string(buffer.getvalue())
    entry = proto.metadata_props.add()
    entry.key, entry.value = _KEY_META, key
    return proto.SerializeToString()


def _session(ort, data, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Without spinning, the threads sleep between runs instead of busy-waiting: the image
    # decoding and the numpy steps that run between two batches get the cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _agrees(session, key, forward, image_shape):
    """The graph is this key's, and computes what ``forward`` does on a probe image."""
    import torch

    if session.get_modelmeta().custom_metadata_map.get(_KEY_META) != key:
        return False
    probe = np.random.RandomState(0).randn(1, *image_shape).astype(np.float32)
    with torch.no_grad():
        expected = forward(torch.from_numpy(probe)).numpy()
    got = session.run(None, {"images": probe})[0]
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=1e-3, atol=1e-4))


def _read_cached(ort, path, key, forward, image_shape, threads):
    """The session of a valid cached graph, or None (missing, corrupted or not this key's)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        with open(path[:-len(".onnx")] + ".sha256", encoding="ascii") as f:
            recorded = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if hashlib.sha256(data).hexdigest() != recorded:
        return None
    try:
        session = _session(ort, data, threads)
        return session if _agrees(session, key, forward, image_shape) else None
    except Exception:  # noqa: BLE001 - any unusable file is exported again
        return None


def _write_cached(path, data):
    """Store the graph and its digest; a cache that cannot be written is only slower."""
    from ..utils._atomic import atomic_open

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_open(path, "wb") as f:
            f.write(data)
        with atomic_open(path[:-len(".onnx")] + ".sha256", "w", encoding="ascii") as f:
            f.write(hashlib.sha256(data).hexdigest() + "\n")
    except OSError:
        pass


def feature_session(signature, backbone, forward, image_shape, owner):
    """An ONNX Runtime session computing ``forward`` on images of ``image_shape``, or None.

    From this process's sessions, else the cache folder, else a fresh export (then cached).
    None when the export or the session fails: the caller computes with torch; the first
    such failure is warned about once.
    """
    import torch

    ort = _onnxruntime()
    threads = max(1, torch.get_num_threads())
    key = graph_key(signature, backbone, image_shape)
    with _LOCK:
        if (key, threads) in _SESSIONS:
            session = _SESSIONS.pop((key, threads))
            _SESSIONS[key, threads] = session
            return session
        if key in _FAILED:
            return None
    path = os.path.join(cache_dir(), f"{key}.onnx")
    session = _read_cached(ort, path, key, forward, image_shape, threads)
    if session is None:
        try:
            data = _export(backbone, forward, image_shape, key)
            session = _session(ort, data, threads)
            if not _agrees(session, key, forward, image_shape):
                raise RuntimeError("the exported graph's features differ from PyTorch's")
        except Exception as exc:  # noqa: BLE001 - any failure falls back to torch
            with _LOCK:
                _FAILED.add(key)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            _warn_once(f"{owner}: could not run the network through ONNX Runtime ({reason}); "
                       "computing with PyTorch instead (backend='torch' skips the attempt).")
            return None
        _write_cached(path, data)
    with _LOCK:
        _SESSIONS[key, threads] = session
        while len(_SESSIONS) > _MAX_SESSIONS:
            del _SESSIONS[next(iter(_SESSIONS))]
    return session
