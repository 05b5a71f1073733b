#!/usr/bin/env python
"""Speed and memory of skin_estimators' scattering against kymatio 0.3.0, on the CPU.

Runs both in one process, on the same batches of fresh random 400x400 RGB images, and prints
three figures:

1. frozen forward time / kymatio ``Scattering2D`` forward time (median over repeats of the
   ratio measured on the same batch, so that load from other processes cancels out);
2. learnable forward + backward time / frozen forward time (same batch, same repeat);
3. peak memory per image of a learnable training step (scattering + BatchNorm + linear top,
   SGD step): the slope of the peak resident memory between a batch of 1 and a batch of
   ``--batch`` images, each measured in a fresh subprocess.

usage: python benchmarks/speed/scattering_speed.py [--batch 4] [--repeats 5] [--threads 2] \\
    [--size 400]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from _common import header


def _peak_rss_mib():
    # VmHWM, not getrusage's ru_maxrss: the latter survives exec, so a subprocess would
    # report its parent's peak.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _memory_step(batch, size, threads):
    """One learnable training step in this (fresh) process; prints peak RSS in MiB."""
    from skin_estimators.networks import ScatteringNet

    torch.set_num_threads(threads)
    net = ScatteringNet(input_shape=(3, size, size), n_classes=3)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, 3, (batch,))
    before = _peak_rss_mib()
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    print(json.dumps({"batch": batch, "peak_mib": _peak_rss_mib(), "before_mib": before}))


def _median_ratio(num, den):
    return float(np.median(np.asarray(num) / np.asarray(den)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--memory-step", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_step:
        return _memory_step(args.memory_step, args.size, args.threads)

    from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D

    from skin_estimators.networks import Scattering2D

    torch.set_num_threads(args.threads)
    shape = (args.size, args.size)
    kymatio = ScatteringTorch2D(J=2, shape=shape, L=8)
    frozen = Scattering2D(J=2, shape=shape, L=8, learnable=False)
    learnable = Scattering2D(J=2, shape=shape, L=8, learnable=True)
    times = {"kymatio": [], "frozen": [], "learnable_fwd_bwd": []}
    rng = torch.Generator().manual_seed(0)
    weight = torch.randn((1, 243, *frozen.output_shape), generator=rng)
    for rep in range(args.repeats + 1):
        x = torch.randn(args.batch, 3, *shape, generator=rng)
        with torch.no_grad():
            t = time.perf_counter()
            kymatio(x)
            t_kymatio = time.perf_counter() - t
            t = time.perf_counter()
            frozen(x)
            t_frozen = time.perf_counter() - t
        t = time.perf_counter()
        (learnable(x) * weight).sum().backward()
        t_learn = time.perf_counter() - t
        learnable.zero_grad()
        if rep:  # the first repeat warms up allocators and FFT plans
            times["kymatio"].append(t_kymatio)
            times["frozen"].append(t_frozen)
            times["learnable_fwd_bwd"].append(t_learn)

    b = args.batch
    print(header(args.threads))
    print(f"batch of {b} {args.size}x{args.size} RGB images, {args.threads} threads, "
          f"{args.repeats} repeats (medians)")
    for name, values in times.items():
        print(f"  {name:18s} {np.median(values) / b * 1e3:8.1f} ms per image")
    print(f"frozen / kymatio forward:          {_median_ratio(times['frozen'], times['kymatio']):.3f}"
          "   (goal <= 0.5)")
    print(f"learnable fwd+bwd / frozen forward: "
          f"{_median_ratio(times['learnable_fwd_bwd'], times['frozen']):.3f}   (goal <= 3)")

    # Peak RSS includes memory that malloc keeps after freeing; with a fixed mmap threshold
    # every large tensor is its own mapping, so the second figure is the tensors' own peak.
    for label, extra_env in (
        ("default malloc", {}),
        ("tensors only (MALLOC_MMAP_THRESHOLD_=131072)", {"MALLOC_MMAP_THRESHOLD_": "131072"}),
    ):
        peaks = {}
        for batch in (1, b):
            out = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--memory-step", str(batch),
                 "--size", str(args.size), "--threads", str(args.threads)],
                capture_output=True, text=True, check=True, env={**os.environ, **extra_env},
            )
            peaks[batch] = json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]
        per_image = (peaks[b] - peaks[1]) / (b - 1) if b > 1 else float("nan")
        print(f"learnable training step, peak RSS, {label}: batch 1 {peaks[1]:.0f} MiB, "
              f"batch {b} {peaks[b]:.0f} MiB -> {per_image:.0f} MiB per image")


if __name__ == "__main__":
    main()
