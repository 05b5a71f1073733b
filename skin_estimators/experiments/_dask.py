"""Running the folds on a Dask cluster through joblib's Dask backend.

The way scikit-learn and skorch document it: ``joblib.parallel_backend("dask")`` with a
``distributed.Client``; each fold is one joblib task, so one task per Dask worker thread.
The decoded images are scattered to every worker once (``scatter=``), not sent per task.
Results come back to the parent as they finish; the parent stores them and logs MLflow.

GPUs: each worker is given an index (its position among the cluster's workers) and fits on
``cuda:<index % number of GPUs it sees>`` when the config's device is ``auto`` or ``cuda``
and it sees more than one GPU. Workers started with one GPU each (``CUDA_VISIBLE_DEVICES``,
as ``dask-cuda`` does) simply use theirs.
"""

import sys

__all__ = ["run_on_dask", "worker_gpu"]

# Attribute set on each ``distributed.Worker`` by the parent: the worker's index.
_INDEX_ATTR = "skin_estimators_index"


def _set_worker_index(index, dask_worker=None):
    setattr(dask_worker, _INDEX_ATTR, index)


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
        shared = list(shared)
        with joblib.parallel_backend("dask", client=client, scatter=shared):
            parallel = joblib.Parallel(n_jobs=-1, batch_size=1, pre_dispatch="all",
                                       return_as="generator_unordered")
            yield from parallel(joblib.delayed(function)(task, *shared) for task in tasks)
    finally:
        if own:
            client.close()
