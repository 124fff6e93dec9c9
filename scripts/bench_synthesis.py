"""Benchmark: hybrid-distortion synthesis throughput vs the bare JPEG codec on the same images.

For every embedded photo at every scale (x1, x2/3, x1/3 after ``--base-scale``) one moderate-level draw is
timed, single-threaded:

- synthesis: blur (21 x 21, replicate) -> noise (clip) -> quantise -> JPEG encode + decode
  (``fdr.data.degrade.distort_planar``, what the synthesize stage runs per image and scale);
- codec (same images): Pillow JPEG encode + decode of exactly the arrays the synthesis encodes, at the same
  qualities; codec (clean): the same on the undistorted images;
- naive: the straightforward port (``scipy.ndimage`` 2-D correlation in float64, ``Generator.standard_normal``),
  to show what the optimised path buys.

patches/s counts the 63 x 63 patches (stride 56) the timed images yield. Usage:
``python scripts/bench_synthesis.py [--repeats 7] [--base-scale 1.0]``. Not a test: the figures depend on the
machine and its load; reports/benchmarks.md records measured runs.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from scipy import ndimage

from fdr.config import SynthConfig
from fdr.data import degrade
from fdr.data.imageio import quantize, read_rgb
from fdr.data.patches import grid
from fdr.data.sources import EMBEDDED, embedded_file
from fdr.data.synthesize import planar01, scaled


def naive(img_hwc: np.ndarray, p: degrade.DistortionParams, rng: np.random.Generator) -> np.ndarray:
    g = degrade.gaussian_kernel1d(p.blur_sigma, 21)
    b = ndimage.correlate(img_hwc.astype(np.float64), np.outer(g, g)[..., None], mode="nearest")
    n = np.clip(b + rng.standard_normal(b.shape) * (p.noise_sigma / 255.0), 0, 1)
    return degrade.jpeg_roundtrip(np.floor(n * 255 + 0.5).astype(np.uint8), p.jpeg_quality)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--base-scale", type=float, default=1.0)
    ap.add_argument("--naive", action="store_true", help="also time the naive port (slow)")
    args = ap.parse_args()
    cfg = SynthConfig()
    rng = np.random.default_rng(0)
    items = []  # (what distort_planar gets, params, pre-JPEG uint8, clean uint8, float planes)
    t_resize = time.perf_counter()
    for img in EMBEDDED:
        u8 = read_rgb(embedded_file(img))
        x = scaled(planar01(u8), args.base_scale)
        prev = 1.0
        for s in cfg.scales:
            x, prev = scaled(x, s / prev), s
            # what the synthesize stage passes: the 8-bit photo itself at x1, float planes after a resize
            xin = np.ascontiguousarray(u8.transpose(2, 0, 1)) if s == 1.0 and args.base_scale == 1.0 else x
            p = degrade.draw_params("moderate", rng, cfg)
            pre = degrade.blur_noise_u8(xin, p, np.random.default_rng(1), cfg)
            items.append((xin, p, pre, quantize(x.transpose(1, 2, 0)), x))
    t_resize = time.perf_counter() - t_resize
    pixels = sum(i[4].shape[1] * i[4].shape[2] for i in items)
    patches = sum(len(grid(i[4].shape[1], i[4].shape[2], 63, 56)[0]) for i in items)

    def run_synth():
        r = np.random.default_rng(1)
        for xin, p, *_ in items:
            degrade.distort_planar(xin, p, r, cfg)

    def run_codec_same():
        for _, p, pre, *_ in items:
            degrade.jpeg_roundtrip(pre, p.jpeg_quality)

    def run_codec_clean():
        for _, p, _, clean, _ in items:
            degrade.jpeg_roundtrip(clean, p.jpeg_quality)

    def run_naive():
        r = np.random.default_rng(1)
        for _, p, _, _, x in items:
            naive(x.transpose(1, 2, 0), p, r)

    runs = {"synthesis": run_synth, "codec_same": run_codec_same, "codec_clean": run_codec_clean}
    if args.naive:
        runs["naive"] = run_naive
    times = {k: [] for k in runs}
    with degrade.single_thread():
        for f in runs.values():
            f()  # warm-up
        for _ in range(args.repeats):  # interleaved, so load changes hit all alike
            for k, f in runs.items():
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load avg {os.getloadavg()[0]:.2f}; single thread; {args.repeats} repeats (median)")
    print(f"images: {len(items)} (10 photos x {len(cfg.scales)} scales, base scale {args.base_scale}), "
          f"{pixels / 1e6:.2f} Mpixel, {patches} patches of 63x63 at stride 56; resize chain {t_resize:.2f} s")
    for k, v in med.items():
        print(f"{k:12s} {v * 1000:8.1f} ms  {pixels / v / 1e6:7.1f} Mpixel/s  {patches / v:9.0f} patches/s")
    print(f"ratio synthesis / codec on the same images:  {med['synthesis'] / med['codec_same']:.2f}x")
    print(f"ratio synthesis / codec on the clean images: {med['synthesis'] / med['codec_clean']:.2f}x")
    if "naive" in med:
        print(f"naive port / synthesis: {med['naive'] / med['synthesis']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
