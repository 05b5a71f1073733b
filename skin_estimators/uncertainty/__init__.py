"""How sure a model is: calibrated probabilities, conformal prediction sets with a coverage
guarantee, and an out-of-scope score, fitted on out-of-fold predictions of a grouped CV."""

from ._metrics import (classwise_ece, coverage, mean_set_size, reliability_curve,
                       reliability_diagram)
from ._trusted import FLAGS, TrustedClassifier

__all__ = ["FLAGS", "TrustedClassifier", "classwise_ece", "coverage", "mean_set_size",
           "reliability_curve", "reliability_diagram"]
