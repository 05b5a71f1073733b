"""Shared fixtures: quiet, reproducible, CPU-friendly tests."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

# CI passes a relative SKIN_ESTIMATORS_DATA (../shared/data); tests that change directory
# (or hand the path to subprocesses) need it absolute.
if os.environ.get("SKIN_ESTIMATORS_DATA"):
    os.environ["SKIN_ESTIMATORS_DATA"] = os.path.abspath(os.environ["SKIN_ESTIMATORS_DATA"])

# The suite must give the same results with one thread and with two: CI runs it with the
# machine's OMP_NUM_THREADS (SKIN_ESTIMATORS_TEST_THREADS overrides it), two when unset.
torch.set_num_threads(int(os.environ.get("SKIN_ESTIMATORS_TEST_THREADS")
                          or os.environ.get("OMP_NUM_THREADS") or "2"))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none visible to PyTorch)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def skin3_root():
    """Path of the study's image folder, or skip when ``SKIN_ESTIMATORS_DATA`` is not set."""
    base = os.environ.get("SKIN_ESTIMATORS_DATA")
    if not base or not (Path(base) / "skin3").is_dir():
        pytest.skip("the study's images are not available: set SKIN_ESTIMATORS_DATA=../shared/data")
    return (Path(base) / "skin3").resolve()


@pytest.fixture
def tiny_images():
    from skin_estimators.utils.estimator_checks import make_tiny_images

    return make_tiny_images(n=12, size=16)


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(scope="session")
def train_on_skin3_subset(skin3_root, tmp_path_factory):
    """A function that runs ``train`` on 8 photos per class with a given ``trust:`` section.

    ``train(trust, name)`` links the photos into a temporary class folder, writes a config
    (the recommended model without its weights, 32 px) and returns ``(run_folder, root)``.
    """
    from skin_estimators.cli import main

    def train(trust, name):
        root = tmp_path_factory.mktemp("subset")
        for cls in sorted(os.listdir(skin3_root)):
            (root / cls).mkdir()
            for image in sorted(os.listdir(skin3_root / cls))[:8]:
                os.symlink(skin3_root / cls / image, root / cls / image)
        out = tmp_path_factory.mktemp("run")
        config = out / f"{name}.yaml"
        config.write_text(
            f"data: {{path: {root}}}\nimage_size: 32\nnormalization: efficientnet_lite\n"
            f"trust: {trust}\n"
            "models:\n  - name: recommended\n    params: {pretrainedfeatures__pretrained: false}\n")
        assert main(["train", "--config", str(config), "--out", str(out / "run"), "--quiet",
                     "--test-size", "0"]) == 0
        return out / "run", root

    return train
