"""The ONNX graph cache as a trust boundary: a private folder, and reference outputs.

A cached graph decides the features, hence the classes, the prediction sets and the
out-of-scope flags, of every model whose weights it is keyed by; the key is computable from
a model file and the installed versions. Whoever can write a graph into the cache folder
could therefore change what a model predicts without touching the model file. Two checks
close that door:

- **the folder is private.** It is created with mode 0700 (its owner alone may enter it).
  A folder that another user can write into (group- or world-writable, or owned by someone
  else) is refused: one warning naming it, and its graphs are neither read nor written
  (each process exports its own, in memory). ``chmod 700`` the folder, or point
  ``$SKIN_ESTIMATORS_ONNX_CACHE`` at a private one.
- **a graph must reproduce the model file.** :class:`PretrainedFeatures` keeps, from its
  ``fit``, the features PyTorch computed for a probe image (seeded noise of the fitted image
  shape: ``probe_shape_``, ``probe_features_``), and a model file stores them. A cached
  graph is run on that probe at its first use in a process and used only if it gives those
  features to float32 tolerance; otherwise it is exported again from the file's weights,
  with one warning, and the cache repaired.

A model file saved before the reference outputs existed (or an image shape other than the
fitted one) holds no reference for the graph: the cached graph is then checked against
PyTorch itself, the network built from the file's weights, at its first use in a process.
Such a file keeps working, as fast once the check is done, but its first transform in each
process imports PyTorch; a model fitted again holds the reference (``fit`` computes it with
one forward pass of the probe image).
"""

import os
import stat

import numpy as np

__all__ = ["folder_refusal", "graph_reproduces", "probe_image", "reference_features",
           "refusal_message"]

#: Agreement of a graph with a reference: float32 features, one forward pass apart.
RTOL, ATOL = 1e-3, 1e-4


def probe_image(image_shape):
    """The probe: seeded standard-normal noise of shape ``(1, *image_shape)``, float32.

    NumPy's legacy ``RandomState`` stream is fixed across versions, so the probe of a model
    file saved anywhere is the same image.
    """
    return np.random.RandomState(0).randn(1, *image_shape).astype(np.float32)


def reference_features(forward, image_shape):
    """``forward(probe)`` with PyTorch: the reference a graph is checked against, float32."""
    import torch

    with torch.no_grad():
        out = forward(torch.from_numpy(probe_image(image_shape)))
    return out.float().cpu().numpy()


def graph_reproduces(session, reference, image_shape):
    """Whether the ONNX Runtime ``session`` gives ``reference`` on the probe image."""
    try:
        got = session.run(None, {"images": probe_image(image_shape)})[0]
    except Exception:  # noqa: BLE001 - a graph that cannot run the probe is not this model's
        return False
    return got.shape == reference.shape and bool(
        np.allclose(got, reference, rtol=RTOL, atol=ATOL))


def _refusal(folder):
    """Why ``folder`` may not hold graphs (another user can write into it), or None."""
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a folder"
    getuid = getattr(os, "getuid", None)  # POSIX; elsewhere the modes below say nothing
    if getuid is None:
        return None
    if info.st_uid != getuid():
        return f"it belongs to another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"other users can write into it (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def folder_refusal(folder, create=False):
    """None if ``folder`` may hold graphs (only its owner, this user, can write into it, or
    it does not exist), else why not, in words for :func:`refusal_message`.

    ``create``: make a missing folder, with mode 0700 (one that cannot be made is not
    refused: writing into it fails, and the cache is only slower).
    """
    reason = _refusal(folder)
    if reason is None and create and not os.path.isdir(folder):
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        except OSError:
            return None
        reason = _refusal(folder)
    return reason


def refusal_message(folder, reason):
    """The one-line warning of a refused cache folder."""
    return (f"Not using the ONNX graph cache {folder!r}: {reason}, and a graph there decides "
            "what the model predicts. Run chmod 700 on it (as its owner) or set "
            "SKIN_ESTIMATORS_ONNX_CACHE to a folder of your own; until then each process "
            "exports its graphs again.")
