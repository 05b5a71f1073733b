"""Where downloaded datasets are kept."""

import os

__all__ = ["get_data_home"]

DEFAULT_DATA_HOME = os.path.join("~", "skin_estimators_data")


def get_data_home(data_home=None):
    """Return the folder where skin-estimators keeps downloaded datasets, creating it.

    By default this is ``~/skin_estimators_data``; each dataset lives in its own sub-folder
    (``skin3/`` for :func:`fetch_skin3`). ``~`` is expanded.

    Unlike scikit-learn's ``SCIKIT_LEARN_DATA``, the environment variable
    ``SKIN_ESTIMATORS_DATA`` does not move this folder: :func:`fetch_skin3` only *reads* an
    existing copy there (such folders are often shared and read-only) and downloads into the
    folder returned here.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use instead of ``~/skin_estimators_data``.

    Returns
    -------
    data_home : str
        The path of the data folder.

    Examples
    --------
    >>> import os, tempfile
    >>> from skin_estimators.datasets import get_data_home
    >>> home = get_data_home(os.path.join(tempfile.mkdtemp(), "data"))
    >>> os.path.isdir(home)
    True
    """
    if data_home is None:
        data_home = DEFAULT_DATA_HOME
    data_home = os.path.expanduser(os.fspath(data_home))
    os.makedirs(data_home, exist_ok=True)
    return data_home
