"""Checking a data set for shortcuts before trusting any score measured on it.

:func:`audit_images` trains small models on what a classifier should *not* use (file size,
image geometry, JPEG tables, EXIF tags, image statistics, the corners of the photos, traces
of the original resolution) and finds near-duplicate photos; :func:`write_audit_report`
writes the result as a report with pictures. The command ``skin-estimators audit DATA --out
DIR`` does both. :func:`evaluate_model` (``skin-estimators evaluate``) scores a trained model
on labelled photos from another source, which share none of the training set's shortcuts. Optional dependencies (CleanVision, matplotlib) are imported when an audit
runs, not when this module is imported.
"""

from ._audit import audit_images
from ._duplicates import DUPLICATE_THRESHOLD
from ._evaluate import evaluate_model
from ._report import write_audit_report

__all__ = ["DUPLICATE_THRESHOLD", "audit_images", "evaluate_model", "write_audit_report"]
