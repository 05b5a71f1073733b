"""Fixtures for the whole suite: the tests in tests/ and the doctests in skin_estimators/."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _onnx_graphs_in_a_temporary_folder(tmp_path_factory):
    """PretrainedFeatures' exported ONNX graphs go to a temporary folder, not the user's cache
    (set in os.environ, so the commands that tests run in subprocesses use it too)."""
    previous = os.environ.get("SKIN_ESTIMATORS_ONNX_CACHE")
    os.environ["SKIN_ESTIMATORS_ONNX_CACHE"] = str(tmp_path_factory.mktemp("onnx_cache"))
    yield
    if previous is None:
        os.environ.pop("SKIN_ESTIMATORS_ONNX_CACHE", None)
    else:
        os.environ["SKIN_ESTIMATORS_ONNX_CACHE"] = previous
