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

Beside the commands, the benchmark and study scripts of the repository (``benchmarks/``)
import the library's public API and this module, nothing else of it (a test checks theirs
too). What they need beyond the commands' names:

``BASELINES``
    The shortcut baselines of ``skin-estimators cv``: name -> ``(label, number of trees)``
    (imported on first use: it lives in :mod:`skin_estimators.experiments`).
``corner_features``, ``size_features``
    The audit's corner and size probes' features of loaded images.
``cv_scores``, ``shortcut_forest``
    The audit's cross-validated scores of feature tables, and its shortcut model (a
    class-balanced random forest).
``file_properties``, ``geometry_features``, ``is_large``
    The cheap file properties the audit reads (file size, geometry, JPEG tables, EXIF), the
    geometry baseline's features (log width, height, aspect), and which photos are large.
``fit_knn``, ``knn_score``, ``fit_mahalanobis``, ``mahalanobis_score``
    The out-of-scope scores' building blocks on feature tables.
``load_config_negatives``
    The file names of an experiment config's negatives (photos of other conditions), or
    None (imported on first use).
``NEGATIVE_SCORES``
    The out-of-scope scores that learn from negatives.
``restore_malloc_thresholds``
    Undo the malloc setting Dask's nanny gives its workers (imported on first use).
"""

from ._persistence._registry import type_name
from ._persistence._safe import versions as running_versions
from ._predictions import COLUMNS, csv_columns, csv_header, csv_row, stack_predictions
from ._registry import ARCHITECTURES

# What the benchmarks need beyond the commands' names (see the docstring).
from .audit._cv import cv_scores, shortcut_forest
from .audit._probes import corner_features, size_features
from .audit._properties import file_properties, geometry_features, is_large
from .inference import iter_predictions, prediction_pipeline
from .persistence import _load as load_model_file
from .preprocessing._decode import describe_error
from .uncertainty._evaluation import coverage_table, reliability_figure, trusted_file_pipeline
from .uncertainty._negatives import NEGATIVE_SCORES
from .uncertainty._out_of_scope import fit_knn, fit_mahalanobis, knn_score, mahalanobis_score
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

# The benchmarks' names (see the docstring).
__all__ += [
    "BASELINES",
    "NEGATIVE_SCORES",
    "corner_features",
    "cv_scores",
    "file_properties",
    "fit_knn",
    "fit_mahalanobis",
    "geometry_features",
    "is_large",
    "knn_score",
    "load_config_negatives",
    "mahalanobis_score",
    "restore_malloc_thresholds",
    "shortcut_forest",
    "size_features",
]


def __getattr__(name):
    if name == "FolderLock":
        from .experiments._lock import FolderLock

        return FolderLock
    # The benchmarks' names that live in skin_estimators.experiments (pydantic).
    if name == "BASELINES":
        from .experiments._baselines import BASELINES

        return BASELINES
    if name == "load_config_negatives":
        from .experiments._trust_negatives import load_config_negatives

        return load_config_negatives
    if name == "restore_malloc_thresholds":
        from .experiments._dask import restore_malloc_thresholds

        return restore_malloc_thresholds
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
