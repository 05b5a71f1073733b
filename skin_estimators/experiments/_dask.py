"""Running the folds on a Dask cluster through joblib's Dask backend.

The way scikit-learn and skorch document it: ``joblib.parallel_backend("dask")`` with a
``distributed.Client``; each fold is one joblib task, so one task per Dask worker thread.
The decoded images are scattered to every worker once (``scatter=``), not sent per task.
Results come back to the parent as they finish; the parent stores them and logs MLflow.
Each worker's malloc thresholds are first put back to glibc's usual behaviour
(:func:`restore_malloc_thresholds`): with the nanny's setting, training ran twice as slow.

GPUs: each worker is given an index (its position among the cluster's workers) and fits on
``cuda:<index % number of GPUs it sees>`` when the config's device is ``auto`` or ``cuda``
and it sees more than one GPU. Workers started with one GPU each (``CUDA_VISIBLE_DEVICES``,
as ``dask-cuda`` does) simply use theirs.
"""

import ctypes
import ctypes.util
import sys

__all__ = ["restore_malloc_thresholds", "run_on_dask", "worker_gpu"]

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# glibc's own ceiling for its dynamic mmap threshold on 64-bit systems, and twice it for
# trimming: the steady state a long-running process without the environment variable reaches.
_MMAP_THRESHOLD = 32 << 20
_TRIM_THRESHOLD = 64 << 20

# Attribute set on each ``distributed.Worker`` by the parent: the worker's index.
_INDEX_ATTR = "skin_estimators_index"


def _set_worker_index(index, dask_worker=None):
    setattr(dask_worker, _INDEX_ATTR, index)


def restore_malloc_thresholds(dask_worker=None):
    """Undo the malloc setting Dask's nanny gives its workers; True when it was applied.

    The nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (so that freed memory
    goes back to the system). Setting it switches off glibc's dynamic mmap threshold: every
    allocation over 128 KiB then gets fresh pages from the kernel, zero-filled, and is
    unmapped when freed. A training step allocates hundreds of such tensors; the learnable
    scattering network's step ran 2.1x slower in CPU time (2.6 -> 5.5 s for 4 images at
    400x400, one thread). This sets the thresholds to glibc's steady state (32 MiB mmap,
    64 MiB trim), which brings it back to 2.8 s. Outside glibc (macOS, Windows, musl) it does
    nothing and returns False.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


def worker_gpu():
    """``"cuda:<k>"`` for the Dask worker this runs on when it sees several GPUs, else None."""
    if "distributed" not in sys.modules:  # never import dask for a serial run
        return None
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return None
    import torch

    n_gpus = torch.cuda.device_count()
    if n_gpus < 2:
        return None
    index = getattr(worker, _INDEX_ATTR, None)
    if index is None:  # a worker that joined after the run started
        index = worker.name if isinstance(worker.name, int) else abs(hash(worker.address))
    return f"cuda:{index % n_gpus}"


def run_on_dask(function, tasks, shared, scheduler):
    """Yield ``function(task, *shared)`` for each task, in the order they finish.

    Parameters
    ----------
    function : callable
        Importable by the workers (a module-level function of this package).
    tasks : list
        One argument per call.
    shared : tuple
        Arguments common to every call (the images, the labels): scattered once.
    scheduler : str, distributed.Client or cluster
        Scheduler address (``tcp://host:8786``), a client, or a cluster object
        (``LocalCluster``); a client made here is closed at the end.
    """
    import joblib

    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError(
            f"backend='dask' needs dask.distributed ({exc}): "
            "pip install 'skin-estimators[distributed]'.") from exc

    own = not isinstance(scheduler, Client)
    client = Client(scheduler, set_as_default=False) if own else scheduler
    try:
        workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
        for index, address in enumerate(workers):
            client.run(_set_worker_index, index, workers=[address])
        client.run(restore_malloc_thresholds, workers=workers)
        shared = list(shared)
        with joblib.parallel_backend("dask", client=client, scatter=shared):
            parallel = joblib.Parallel(n_jobs=-1, batch_size=1, pre_dispatch="all",
                                       return_as="generator_unordered")
            yield from parallel(joblib.delayed(function)(task, *shared) for task in tasks)
    finally:
        if own:
            client.close()
