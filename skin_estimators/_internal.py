"""The documented internal API: what the command line needs beyond the public API.

The modules of ``skin_estimators._commands`` import the library's public modules and this
module, nothing else of the library (a test checks their imports). Its names are internal:
they may change in any release; code outside the library should use the public API
(:func:`skin_estimators.load_model`, :func:`skin_estimators.inference.predict_files`, ...).

``ARCHITECTURES``
    The architecture table (``skin_estimators._registry``): config name -> entry.
``atomic_open``, ``atomic_savefig``
    Write a file or a figure so that a reader never sees half of it.
``coverage_table``, ``reliability_figure``, ``trusted_file_pipeline``
    The trust parts of ``evaluate`` and ``predict`` (prediction sets, out-of-scope scores).
``iter_predictions``, ``prediction_pipeline``
    The one loop that predicts image files: a record per file holding every column of
    ``COLUMNS`` (:mod:`skin_estimators.inference`), and the pipeline it runs a model as.
``COLUMNS``, ``csv_columns``, ``csv_header``, ``csv_row``, ``stack_predictions``
    The columns of those records (``skin_estimators._predictions``; a column added to
    ``COLUMNS`` is in every record and in the CSV files of ``predict`` and ``evaluate``),
    the one formatter of their CSV cells, and the records as arrays over the files.
``describe_error``
    One line saying why an image file cannot be decoded.
``entry_kind``, ``open_image``, ``scan_folder``
    Listing folders and opening image files alike in every command: links followed, loops,
    FIFOs and other odd entries named, Pillow's bomb warning made an error
    (``skin_estimators.utils._image_files``).
``FolderLock``
    The lock an experiment's output folder is held with (imported on first use: it lives
    in :mod:`skin_estimators.experiments`, which needs pydantic).
``data_hash``
    The SHA-256 of a set of images' contents and labels, as ``train`` stores it.
``load_model_file``
    ``(model, metadata)`` of a model file, refusing pickles unless ``trust_pickle``.
``running_versions``
    The versions of the library and its dependencies that are running now.
``type_name``
    The name a safe model file gives a class passed as a parameter.
"""

from ._persistence._registry import type_name
from ._persistence._safe import versions as running_versions
from ._predictions import COLUMNS, csv_columns, csv_header, csv_row, stack_predictions
from ._registry import ARCHITECTURES
from .inference import iter_predictions, prediction_pipeline
from .persistence import _load as load_model_file
from .preprocessing._decode import describe_error
from .uncertainty._evaluation import coverage_table, reliability_figure, trusted_file_pipeline
from .utils._atomic import atomic_open, atomic_savefig
from .utils._data_hash import data_hash
from .utils._image_files import entry_kind, open_image, scan_folder

__all__ = [
    "ARCHITECTURES",
    "COLUMNS",
    "FolderLock",
    "atomic_open",
    "atomic_savefig",
    "coverage_table",
    "csv_columns",
    "csv_header",
    "csv_row",
    "data_hash",
    "describe_error",
    "entry_kind",
    "iter_predictions",
    "load_model_file",
    "open_image",
    "prediction_pipeline",
    "reliability_figure",
    "running_versions",
    "scan_folder",
    "stack_predictions",
    "trusted_file_pipeline",
    "type_name",
]


def __getattr__(name):
    if name == "FolderLock":
        from .experiments._lock import FolderLock

        return FolderLock
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
