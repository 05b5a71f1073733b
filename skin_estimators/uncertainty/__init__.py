"""How sure a model is: calibrated probabilities, conformal prediction sets with a coverage
guarantee, and an out-of-scope score, fitted on out-of-fold predictions of a grouped CV; and
the operating point a clinic acts on (the share answered ``confident``, their accuracy)."""

from ._metrics import classwise_ece, coverage, mean_set_size, reliability_curve, reliability_diagram
from ._operating_point import flag_shares, operating_point, risk_coverage_curve
from ._trusted import FLAGS, TrustedClassifier

__all__ = ["FLAGS", "TrustedClassifier", "classwise_ece", "coverage", "flag_shares",
           "mean_set_size", "operating_point", "reliability_curve", "reliability_diagram",
           "risk_coverage_curve"]
