"""Image-statistics properties (brightness, blur, information) computed by CleanVision.

CleanVision is imported here, when the audit runs, never at package import time. Its own
issue flags (``is_dark_issue``...) say whether an image is unusual; the audit only takes the
scores, and asks whether they tell the classes apart.
"""

import contextlib
import io
import os

import numpy as np

__all__ = ["IMAGE_STATISTICS", "image_statistics"]

#: CleanVision issue types whose scores become properties (the score column of each).
IMAGE_STATISTICS = {
    "brightness": ["dark", "light"],
    "blurriness": ["blurry"],
    "low_information": ["low_information"],
}


def image_statistics(filenames, n_jobs=1):
    """``{property: (n, k) array}`` of CleanVision's scores, in the order of ``filenames``."""
    try:
        from cleanvision import Imagelab
    except ImportError as exc:  # a core dependency, but say what to do if it is missing
        raise ImportError(
            "the audit's image statistics need CleanVision: pip install cleanvision"
        ) from exc

    paths = [os.path.abspath(os.fspath(f)) for f in filenames]
    issue_types = {t: {} for types in IMAGE_STATISTICS.values() for t in types}
    # CleanVision prints and draws progress bars even with verbose=False; the audit has its
    # own report.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        lab = Imagelab(filepaths=paths, verbose=False)
        lab.find_issues(issue_types, n_jobs=n_jobs, verbose=False)
    issues = lab.issues.reindex(paths)
    return {
        name: np.column_stack([issues[f"{t}_score"].to_numpy(dtype=float) for t in types])
        for name, types in IMAGE_STATISTICS.items()
    }
