"""Skip the doctests that need the real skin3 images when no local copy is found.

Doctests must run offline; ``fetch_skin3()`` would otherwise try to download the archive.
CI sets ``SKIN_ESTIMATORS_DATA`` so that they run there.
"""

import pytest

_NEEDS_SKIN3 = ("fetch_skin3",)


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


def pytest_runtest_setup(item):
    if isinstance(item, pytest.DoctestItem) and item.name.endswith(_NEEDS_SKIN3):
        if not _skin3_found():
            pytest.skip(
                "needs the skin3 images: set SKIN_ESTIMATORS_DATA to a folder containing skin3/"
            )
