"""Experiments: YAML configs, cross-validated results tables, MLflow tracking, Dask, resume.

A config names the data, the image size and the cross-validation protocol, and lists the
models with their parameters and grids. :func:`run_experiment` cross-validates every row
(decoding each image once), stores each fold as it finishes (``resume=True`` continues an
interrupted run), writes ``results.csv`` and ``results.md`` and logs to MLflow. The command
``skin-estimators cv --config FILE`` runs it.
:func:`fit_final` fits one row on a stratified training split (``skin-estimators train``);
:meth:`Row.make_pipeline` is the one place a row becomes ImageLoader -> ChannelNormalizer ->
estimator.

Config schema (YAML; unknown keys and wrong types are errors that name the file and the key)::

    name: study                # MLflow experiment name (default: the file's stem)
    data: fetch_skin3          # the skin3 images (via $SKIN_ESTIMATORS_DATA), or:
    # data:
    #   path: ../images        # a class-per-folder tree, relative to THIS file
    #   images_per_class: 10   # optional: an evenly spread subset (quick trials, tests)
    #   groups: atlas_page     # atlas_page (default) or null (then no grouped CV)
    image_size: 400            # int, or [height, width]
    resize: stretch            # stretch | pad | crop (ImageLoader)
    color_constancy: null      # null | shades_of_gray | grey_world (ImageLoader), all inputs
    normalization: auto        # auto | fold | study | imagenet | bit | efficientnet_lite
    cv:
      protocol: stratified     # stratified | group | controlled | both | all
      n_splits: 5
      seeds: [42]              # one CV run per seed; the table pools all their folds
    device: auto               # auto | cpu | cuda | cuda:1 ...
    threads: null              # torch threads per fit (null: torch's default)
    trust: {confidence_level: 0.9}   # optional: TrustedClassifier's parameters (see below)
    models:                    # one entry per model; each grid combination is one row
      - name: cnn              # cnn | scattering | resnet50 | bit | efficientnet_lite | recommended | package.module:Class
        label: cnn (study)     # optional name in the tables
        normalization: fold    # optional, overrides the top-level one for this entry
        params: {batch_size: 4, lr: 0.0001, max_epochs: 26}   # estimator parameters
        grid: {lr: [0.01, 0.001]}                            # lists, expanded as a product
        reference: {recall: 0.731, precision: 0.750, f1: 0.714, total_time_s: 200.3}
      - name: ensemble         # a soft vote (VotingClassifier) of its members: one estimator
        label: lite0+lite1     # and one safe model file
        members:               # inline entries, or labels of other entries (rows of their own)
          - {name: recommended, label: lite0}
          - name: recommended
            label: lite1
            params: {pretrainedfeatures__model: efficientnet_lite1}
        params: {weights: [1, 1]}   # optional: the members' weights (else equal)

``normalization``: ``fold`` fits a ``ChannelNormalizer`` on each training fold (no test
statistics leak into training); ``study`` uses skin3's fixed per-channel values;
``imagenet``, ``bit`` and ``efficientnet_lite`` the statistics of the pretrained weights.
``auto`` means ``fold`` for ``cnn`` and ``scattering``, ``imagenet`` for ``resnet50``, ``bit``
for ``bit``, ``efficientnet_lite`` for ``efficientnet_lite`` and ``study`` for ``recommended``
(:func:`~skin_estimators.make_recommended_classifier`).
An ``ensemble`` entry averages its members' class probabilities; the members share the
row's ImageLoader and ChannelNormalizer, so their normalisations must agree.
``train --model ensemble`` copies the referenced entries into the ensemble.
Each row's estimator gets ``random_state`` = the CV seed and ``device`` = the config's
device unless its ``params`` say otherwise.

Protocols: ``stratified`` is ``StratifiedKFold(n_splits, shuffle=True,
random_state=seed)``. ``group`` is ``StratifiedGroupKFold`` with the same arguments on the
atlas pages: photographs of one page (often one patient) never fall on both sides of a
split. ``controlled`` is the grouped protocol on controlled inputs (the ImageLoader gets
:data:`~skin_estimators.preprocessing.CONTROLLED_INPUTS`: no file size, aspect or watermark
to learn from). ``both`` is stratified and group, ``all`` the three. **The controlled figure
is the one to trust**; the others let a model read the image file and overestimate. Every
table holds the *shortcut baselines* (a forest on the files' width, height and aspect, and
one on the corners of the inputs) under the same splits as the models.

``trust``: each fold wraps the row's estimator in a
:class:`~skin_estimators.TrustedClassifier` fitted on its training part (the inner
calibration CV grouped under ``group`` and ``controlled``), and the table gets the coverage
(overall and per class), mean set size, classwise ECE and log loss (calibrated and raw) and
flag shares of each seed's pooled out-of-fold predictions, averaged over the seeds
(``coverage_pooled``, ``set_size_pooled``, ``ece_pooled``, ...). ``train`` stores the same
parts in the model file.
"""

from ._config import ConfigError, ExperimentConfig
from ._final import FinalFit, fit_final, select_row
from ._loading import load_config, validate_config
from ._registry import MODELS, available_models, resolve_model
from ._rows import Row
from ._runner import ExperimentResult, run_experiment

__all__ = [
    "MODELS",
    "ConfigError",
    "ExperimentConfig",
    "ExperimentResult",
    "FinalFit",
    "Row",
    "available_models",
    "fit_final",
    "load_config",
    "resolve_model",
    "run_experiment",
    "select_row",
    "validate_config",
]
