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
* ``<weights>.<C>x<H>x<W>.onnx``, where ``<weights>`` is the SHA-256 of the weights' digest,
  their names, dtypes and shapes, the stages, and the versions of the library, of torch, of
  ONNX Runtime and of the export format; beside it ``<weights>.<C>x<H>x<W>.sha256``, the
  SHA-256 of the ``.onnx`` bytes.

A graph is written only after its output on a probe image matched PyTorch's. A cached file
is used only if its bytes match their recorded digest, the graph carries its key in its
metadata and, at its first use in a process, it reproduces the reference features the model
file holds (see ``_onnx_trust``); otherwise it is exported again and replaced. The folder is
created with mode 0700, and one that other users can write into is not used. So a process that finds its graph
cached runs the network without PyTorch: a model file whose weights have a checked graph
loads without building the network (see :class:`PretrainedFeatures`), and ``predict``
never imports torch. An ONNX file is data: ONNX Runtime runs it with its own kernels (no
custom-operator libraries are registered, no external data files are read), so using the
cache runs no code but the library's and ONNX Runtime's. Loading a model file never
exports; the first ``transform`` does.
"""

import glob
import hashlib
import io
import os
import sys
import threading
import warnings

import numpy as np

from ._onnx_trust import ATOL, RTOL, folder_refusal, graph_reproduces, probe_image, refusal_message

__all__ = ["BACKENDS", "cache_dir", "feature_session", "has_graph", "resolve_backend",
           "weights_key", "weights_layout"]

#: The values of ``PretrainedFeatures(backend=...)``.
BACKENDS = ("auto", "torch", "onnxruntime")
#: Relocates the cache of exported graphs.
CACHE_ENV = "SKIN_ESTIMATORS_ONNX_CACHE"
_OPSET = 17
_FORMAT = "2"  # the layout of the exported graph; part of the key
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
    with one warning per process. A device given as a string is read without PyTorch.
    """
    if backend == "torch" or (backend == "auto" and not _is_cpu(device)):
        return "torch"
    if _onnxruntime() is None:
        if backend == "onnxruntime":
            _warn_once(f"{owner}: backend='onnxruntime' needs the onnxruntime and onnx "
                       "packages (pip install 'skin-estimators[fast]'); computing with "
                       "PyTorch instead.")
        return "torch"
    return "onnxruntime"


def _is_cpu(device):
    if isinstance(device, str):
        return device.partition(":")[0] == "cpu"
    import torch

    return torch.device(device).type == "cpu"


def torch_free(backend, device):
    """Whether ONNX Runtime computes for ``(backend, device)`` and PyTorch is not needed to say so.

    True for ``backend`` ``"auto"`` or ``"onnxruntime"`` with the device ``"cpu"`` and the
    packages installed (``"auto"`` as a device asks PyTorch whether there is a GPU).
    """
    return (backend in ("auto", "onnxruntime") and isinstance(device, str)
            and device.partition(":")[0] == "cpu" and _onnxruntime() is not None)


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


def _private_cache(create=False):
    """The cache folder, or None when another user can write into it (warned once)."""
    folder = cache_dir()
    reason = folder_refusal(folder, create)
    if reason is None:
        return folder
    _warn_once(refusal_message(folder, reason))
    return None


def _version(distribution):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "none"


def weights_layout(state):
    """``[(name, dtype, shape)]`` of a state dict (torch tensors or numpy arrays), by name.

    dtypes are named as torch names them (``torch.float32``), whichever holds the weights.
    """
    out = []
    for name in sorted(state):
        t = state[name]
        dtype = str(t.dtype) if str(t.dtype).startswith("torch.") else f"torch.{t.dtype}"
        out.append((name, dtype, tuple(int(d) for d in t.shape)))
    return out


def weights_key(signature, layout):
    """SHA-256 naming the graphs of these weights (``signature``: their digest) and layout.

    Computed without PyTorch (the versions are read from the installed packages' metadata),
    so that a process can find its graph before it imports torch.
    """
    from .._version import __version__

    digest = hashlib.sha256()
    for part in (_FORMAT, __version__, _version("torch"), _version("onnxruntime"),
                 str(_OPSET), repr(signature)):
        digest.update(part.encode())
        digest.update(b"\0")
    for name, dtype, shape in layout:
        digest.update(f"{name}:{dtype}:{shape}\0".encode())
    return digest.hexdigest()


def _graph_name(wkey, image_shape):
    return f"{wkey}.{'x'.join(str(int(d)) for d in image_shape)}"


def has_graph(wkey):
    """Whether the cache holds a graph of these weights (any image size) with intact bytes.

    A graph is written only after it matched PyTorch on a probe image, computed by the
    network built from exactly these weights (names, dtypes, shapes and bytes are in the
    key): so the weights fit the architecture, as loading them would have checked.
    """
    folder = _private_cache()
    if folder is None:
        return False
    for path in sorted(glob.glob(os.path.join(glob.escape(folder), f"{wkey}.*.onnx"))):
        if _read_verified(path) is not None:
            return True
    return False


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
    probe = probe_image(image_shape)
    with torch.no_grad():
        expected = forward(torch.from_numpy(probe)).numpy()
    got = session.run(None, {"images": probe})[0]
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=RTOL, atol=ATOL))


def _reproduces(session, reference, key, network, image_shape):
    """A cached graph, at its first use in a process: it gives the model file's reference
    features on the probe image or, for a file without them, PyTorch's own."""
    if reference is not None:
        return graph_reproduces(session, reference, image_shape)
    try:
        return _agrees(session, key, network()[1], image_shape)
    except Exception:  # noqa: BLE001 - no PyTorch to compare with: exported again (or torch)
        return False


def _read_verified(path):
    """The bytes of a cached graph whose digest matches its record, else None."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        with open(path[:-len(".onnx")] + ".sha256", encoding="ascii") as f:
            recorded = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return data if hashlib.sha256(data).hexdigest() == recorded else None


def _read_cached(ort, path, key, threads):
    """The session of a valid cached graph, or None (missing, corrupted or not this key's).

    No PyTorch: the graph was checked against it before it was written (see the module).
    """
    data = _read_verified(path)
    if data is None:
        return None
    try:
        session = _session(ort, data, threads)
    except Exception:  # noqa: BLE001 - any unusable file is exported again
        return None
    if session.get_modelmeta().custom_metadata_map.get(_KEY_META) != key:
        return None
    return session


def _write_cached(path, data):
    """Store the graph and its digest; a cache that cannot be written is only slower."""
    from ..utils._atomic import atomic_open

    if _private_cache(create=True) is None:
        return
    try:
        with atomic_open(path, "wb") as f:
            f.write(data)
        with atomic_open(path[:-len(".onnx")] + ".sha256", "w", encoding="ascii") as f:
            f.write(hashlib.sha256(data).hexdigest() + "\n")
    except OSError:
        pass


def _threads():
    """Threads for ONNX Runtime: PyTorch's setting once torch is imported, else
    ``OMP_NUM_THREADS``, else 0 (ONNX Runtime's default, one per physical core, as torch's)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return max(1, torch.get_num_threads())
    try:
        return max(0, int(os.environ.get("OMP_NUM_THREADS", "0")))
    except ValueError:
        return 0


def feature_session(signature, layout, image_shape, network, owner, reference=None):
    """An ONNX Runtime session computing the features of images of ``image_shape``, or None.

    From this process's sessions, else the cache folder, else a fresh export (then cached).
    ``network()`` returns ``(backbone, forward)``, the torch network and its feature
    function; it is called to export, and to check a cached graph when there is no
    ``reference`` (the features of :func:`probe_image` stored in the model file; with one, a
    cached graph needs no PyTorch). A cached graph that does not reproduce them is exported
    again, with one warning. None when the export or the session fails: the caller computes
    with torch; the first such failure is warned about once.
    """
    ort = _onnxruntime()
    threads = _threads()
    key = _graph_name(weights_key(signature, layout), image_shape)
    with _LOCK:
        if (key, threads) in _SESSIONS:
            session = _SESSIONS.pop((key, threads))
            _SESSIONS[key, threads] = session
            return session
        if key in _FAILED:
            return None
    folder = _private_cache()
    path = None if folder is None else os.path.join(folder, f"{key}.onnx")
    session = None if path is None else _read_cached(ort, path, key, threads)
    if session is not None and not _reproduces(session, reference, key, network, image_shape):
        _warn_once(f"{owner}: the cached ONNX graph {path!r} does not reproduce this model's "
                   "features on its probe image; exporting it again from the model's weights.")
        session = None
    if session is None:
        try:
            backbone, forward = network()
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
        if path is not None:
            _write_cached(path, data)
    with _LOCK:
        _SESSIONS[key, threads] = session
        while len(_SESSIONS) > _MAX_SESSIONS:
            del _SESSIONS[next(iter(_SESSIONS))]
    return session
