"""Skip the doctests that need the real skin3 (or SD-198) images when no local copy is found.

Doctests must run offline; ``fetch_skin3()`` and ``fetch_sd198()`` would otherwise try to download the archive.
CI sets ``SKIN_ESTIMATORS_DATA`` so that they run there.
"""

import os

import pytest

_NEEDS_SKIN3 = ("fetch_skin3",)
_NEEDS_SD198 = ("fetch_sd198",)


def _skin3_found():
    from skin_estimators.datasets._manifest import read_manifest
    from skin_estimators.datasets._skin3 import (
        _MANIFEST_PATH,
        _class_names,
        _dataset_in,
        _search_bases,
    )

    class_names = _class_names(read_manifest(_MANIFEST_PATH))
    return any(
        base is not None and _dataset_in(base, class_names) is not None
        for base, _ in _search_bases(None)
    )


def _sd198_found():
    from skin_estimators.datasets._sd198 import SUBSETS
    from skin_estimators.datasets._skin3 import _search_bases

    return any(base is not None and all(os.path.isdir(os.path.join(base, f))
                                        for f in SUBSETS.values())
               for base, _ in _search_bases(None))


def pytest_runtest_setup(item):
    if isinstance(item, pytest.DoctestItem) and item.name.endswith(_NEEDS_SKIN3):
        if not _skin3_found():
            pytest.skip(
                "needs the skin3 images: set SKIN_ESTIMATORS_DATA to a folder containing skin3/"
            )
    if isinstance(item, pytest.DoctestItem) and item.name.endswith(_NEEDS_SD198):
        if not _sd198_found():
            pytest.skip("needs the SD-198 images: set SKIN_ESTIMATORS_DATA to a folder "
                        "containing sd198/ and sd198_other/")
