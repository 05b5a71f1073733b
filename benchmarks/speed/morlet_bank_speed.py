#!/usr/bin/env python
"""Forward + backward time and peak memory of the learnable Morlet bank, for any wavelet shape.

The old bank built every filter on one spatial window sized by the most elongated wavelet, so
its cost exploded as learning pushed a slant towards its floor 0.01 (33.9 s and 7.5 GB per
forward + backward at 416x416). This prints, for a J=2, L=8 bank at ``--size``:

* ``bank/<case>``: forward + backward of the 16 filters (and their coarser level), for the
  initial (kymatio) values, every slant = 0.01, sigma = 5 with slant = 0.01, and sigma = 0.2
  (goal: each <= 0.3 s and <= 1 GB), each also as a ratio to the initial values;
* ``network/<case>``: forward + backward of the whole learnable ``ScatteringNet`` (BatchNorm +
  linear top) on one RGB image, initial values and every slant = 0.01 (goal: ratio <= 2).

Each case runs in a fresh subprocess, so its peak resident memory (``VmHWM``, which includes
the ~0.3 GB of an imported torch) is its own; times are medians over ``--repeats`` after one
warm-up, wall-clock and CPU time of the process (on a shared machine the CPU time is the
steadier figure). One torch thread by default (``--threads``).

usage: python benchmarks/speed/morlet_bank_speed.py [--size 416] [--repeats 5] [--threads 1]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from _common import header

BANK_CASES = {
    "initial": {},
    "slant=0.01": {"slant": 0.01},
    "sigma=5,slant=0.01": {"sigma": 5.0, "slant": 0.01},
    "sigma=0.2": {"sigma": 0.2},
}
NETWORK_CASES = {"initial": {}, "slant=0.01": {"slant": 0.01}}


def _peak_rss_mib():
    # VmHWM of this process only (getrusage's ru_maxrss survives exec).
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _set(bank, values):
    with torch.no_grad():
        for name, value in values.items():
            getattr(bank, name).fill_(value)


def _run_case(kind, case, size, repeats, threads):
    """One case in this (fresh) process; prints a JSON line."""
    from skin_estimators.networks import MorletFilterBank, ScatteringNet

    torch.set_num_threads(threads)
    rng = torch.Generator().manual_seed(0)
    if kind == "bank":
        bank = MorletFilterBank((size, size), J=2, L=8)
        _set(bank, BANK_CASES[case])
        weights = [
            torch.randn(16, size // 2**r, size // 2**r, generator=rng) for r in range(bank.n_levels)
        ]

        def step():
            levels = bank()
            sum((level * w).sum() for level, w in zip(levels, weights, strict=True)).backward()
            bank.zero_grad()
    else:
        net = ScatteringNet(input_shape=(3, size, size), n_classes=3)
        _set(net.scattering.filters, NETWORK_CASES[case])
        x = torch.randn(1, 3, size, size, generator=rng)
        y = torch.tensor([1])
        net.train()

        def step():
            torch.nn.functional.cross_entropy(net(x), y).backward()
            net.zero_grad()

    before = _peak_rss_mib()
    times, cpu = [], []
    for _ in range(repeats + 1):
        t, c = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print(
        json.dumps(
            {
                "kind": kind,
                "case": case,
                "median_s": float(np.median(times[1:])),
                "cpu_s": float(np.median(cpu[1:])),
                "first_s": times[0],
                "peak_mib": _peak_rss_mib(),
                "before_mib": before,
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=416)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--case", nargs=2, metavar=("KIND", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        return _run_case(*args.case, args.size, args.repeats, args.threads)

    print(header(args.threads))
    print(
        f"{args.size}x{args.size}, J=2, L=8, {args.threads} torch thread(s), "
        f"median of {args.repeats} forward + backward after one warm-up; peak RSS of a fresh process"
    )
    results = {}
    for kind, cases in (("bank", BANK_CASES), ("network", NETWORK_CASES)):
        for case in cases:
            out = subprocess.run(
                [
                    sys.executable,
                    os.path.abspath(__file__),
                    "--case",
                    kind,
                    case,
                    "--size",
                    str(args.size),
                    "--repeats",
                    str(args.repeats),
                    "--threads",
                    str(args.threads),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results[kind, case] = r
            print(
                f"  {kind:8s} {case:20s} {r['median_s']:7.3f} s wall, {r['cpu_s']:7.3f} s CPU  "
                f"(first {r['first_s']:.3f} s)  "
                f"peak RSS {r['peak_mib']:6.0f} MiB (before the first step {r['before_mib']:.0f} MiB)"
            )
    ratio = results["network", "slant=0.01"]["median_s"] / results["network", "initial"]["median_s"]
    worst = max(r["median_s"] for (kind, _), r in results.items() if kind == "bank")
    peak = max(r["peak_mib"] for (kind, _), r in results.items() if kind == "bank")
    print(
        f"bank: slowest case {worst:.3f} s (goal <= 0.3 s), largest peak RSS {peak:.0f} MiB (goal <= 1024)"
    )
    for case in list(BANK_CASES)[1:]:
        bank_ratio = results["bank", case]["median_s"] / results["bank", "initial"]["median_s"]
        print(f"bank fwd+bwd, {case} / initial: {bank_ratio:.2f}")
    print(f"network fwd+bwd, every slant = 0.01 / initial: {ratio:.2f} (goal <= 2)")


if __name__ == "__main__":
    main()
