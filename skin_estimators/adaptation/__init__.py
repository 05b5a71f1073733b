"""Adapting a fitted model to a new clinic from the clinic's own unlabelled photos.

:class:`DomainAdapter` is the pipeline step between the frozen features and the classifier;
:func:`adapt_model` fits it on a clinic's photos and refits what follows it, trust layer
included. The alignments come from skada (``_methods.py``).
"""

from ..exceptions import AdaptationError
from ._adapter import MIN_TARGET, DomainAdapter
from ._methods import METHODS
from ._model import adapt_model, adaptation_info, adapter_of, file_keys

__all__ = ["METHODS", "MIN_TARGET", "AdaptationError", "DomainAdapter", "adapt_model",
           "adaptation_info", "adapter_of", "file_keys"]
