"""Page faults of 1 MiB allocations under the Dask nanny's malloc setting, before and after
``restore_malloc_thresholds``.

Dask's nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which switches off
glibc's dynamic mmap threshold: every allocation over 128 KiB then gets fresh zero-filled
pages (256 faults per MiB). The library undoes it on each worker. This measures both, each in
a fresh process, and prints faults per allocation and their ratio (Linux and glibc only).

Usage: python benchmarks/speed/dask_malloc_faults.py [--allocations 200]
"""

import argparse
import os
import platform
import subprocess
import sys

_CODE = """
import resource, sys
import numpy as np
from skin_estimators._internal import restore_malloc_thresholds

def faults(n):
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        np.ones(1 << 18, np.float32)  # 1 MiB, allocated, written and freed
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start

n = int(sys.argv[1])
faults(n)  # warm up
before = faults(n)
applied = restore_malloc_thresholds()
faults(n)
print(before, faults(n), applied)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allocations", type=int, default=200)
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        sys.exit("glibc's mallopt: Linux only")
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    out = subprocess.run([sys.executable, "-c", _CODE, str(args.allocations)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    before, after, applied = int(out[0]), int(out[1]), out[2]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"commit {commit}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, python {platform.python_version()}")
    n = args.allocations
    print(f"MALLOC_TRIM_THRESHOLD_=65536 (nanny):   {before / n:8.1f} faults per 1 MiB allocation")
    print(f"after restore_malloc_thresholds ({applied}): {after / n:8.1f} faults per 1 MiB allocation")
    ratio = f"{before / after:.1f}x" if after else f"{before} faults against none"
    print(f"ratio nanny / restored: {ratio}")


if __name__ == "__main__":
    main()
