"""A tiny seeded end-to-end run of the pipeline's stages, for the CI regression of the reported PSNR.

``run(workdir)`` copies the code into ``workdir``, applies ``tests/reference/e2e_params.yaml`` on top of
``params.yaml`` and runs download -> synthesize -> crop -> train (the hybrid track's main FDR-Net and its baselines,
DnCNN and OWAN, from the run table) -> evaluate (the input and the three models) through the same ``python -m stages.*`` entry points that ``dvc.yaml`` calls. It returns
``{run: {level: {"psnr", "ssim", "patches"}}}`` for every test level.

**Kernels.** Float kernels differ between CPUs (oneDNN, ATen and MKL pick them by instruction set), and so do the
trained weights: unpinned, the 150 iterations of FDR-Net end 0.06 dB apart on an AVX-512 and an AVX2 machine. The
stages therefore run under one kernel pin (:data:`PINS`): oneDNN capped at AVX2, ATen's AVX2 kernels, MKL's AVX2
code path (conditional numerical reproducibility) and two threads, which every x86-64 CPU with AVX2 runs alike; a
CPU without AVX2 runs the SSE4.1 pin, with its own reference. Whatever kernels the calling environment asks for
(``ONEDNN_MAX_CPU_ISA``, ``ATEN_CPU_CAPABILITY``, ``MKL_CBWR``), the pin replaces them.

Updating the committed reference is deliberate (both pins)::

    python -m tests.e2e --update      # rewrites tests/reference/e2e.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from fdr import config
from fdr.config.runs import main_run, with_role

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference" / "e2e.json"
OVERLAY = ROOT / "tests" / "reference" / "e2e_params.yaml"
# Under a pin, the same seed gives the same numbers to the last bit (deterministic CPU algorithms), whatever the
# kernels the environment asks for (measured: tests/reference/e2e.json, "measured"). The tolerance is kept for
# what no pin reaches (libm, a cache-size dependent blocking); a wiring bug moves the PSNR by more
# (scripts/mutations.py --e2e lists what each mutation does).
TOLERANCE_DB = 0.01
PINS = {
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"},
    "sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"},
}
THREADS = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
# Least gain over the distorted input at every level (set below what each healthy model reaches, above what a
# broken one does). Measured on the reference: FDR-Net +1.40, DnCNN +0.55, OWAN +0.64 dB at the weakest level.
MARGIN_DB = {"fdrnet": 0.5, "dncnn": 0.3, "owan": 0.3}  # by architecture
# fdr restore must not shift a photo's colours: per channel, the restored photo's mean shift may not exceed the
# distorted input's own (noise clipped at 0 and 255 shifts saturated photos: red R -6.7, G +4.2, B +12.2) or, where
# that is smaller, COLOUR_SHIFT_MAX (0-255). Measured on the reference: green -1.8, -2.3, -1.1 (input +1.5, -0.4,
# +0.6); red -5.3, +3.0, +8.4.
COLOUR_SHIFT_MAX = 3.0


def configuration() -> config.Config:
    """``params.yaml`` with the overlay applied."""
    return config.from_dict(yaml.safe_load((ROOT / "params.yaml").read_text()), yaml.safe_load(OVERLAY.read_text()))


def tested_runs(cfg: config.Config) -> dict[str, str]:
    """``{run: architecture}``: the hybrid track's main FDR-Net run and its baselines."""
    runs = [main_run(cfg, "hybrid")] + [r for r in with_role(cfg, "baseline") if cfg.runs[r].track == "hybrid"]
    return {r: cfg.runs[r].arch for r in runs}


def cpu_pin() -> str:
    """The pin this CPU runs: ``avx2`` where the processor has AVX2 (Linux: /proc/cpuinfo), else ``sse41``."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        import torch

        return "avx2" if torch.backends.cpu.get_cpu_capability() != "DEFAULT" else "sse41"
    return "avx2" if " avx2" in flags else "sse41"


def pinned_env(pin: str, base: dict | None = None) -> dict:
    """``base`` (the process environment) with the kernel pin ``pin`` and two threads in place of its own choice."""
    return {**(os.environ if base is None else base), **PINS[pin], **THREADS}


def run(workdir: Path, pin: str | None = None, base_env: dict | None = None) -> dict:
    """The stages on the tiny configuration under kernel pin ``pin`` (default: this CPU's) in ``base_env``."""
    workdir = Path(workdir)
    for name in ("fdr", "stages"):
        shutil.copytree(ROOT / name, workdir / name, ignore=shutil.ignore_patterns("__pycache__"))
    cfg = configuration()
    (workdir / "params.yaml").write_text(yaml.safe_dump(config.to_dict(cfg), sort_keys=False))
    runs = tuple(tested_runs(cfg))
    env = dict(pinned_env(pin or cpu_pin(), base_env), PYTHONPATH=str(workdir))
    steps = [["download"], ["synthesize"], ["crop"]] + [["train", r] for r in runs]
    steps += [["evaluate", r] for r in ("input",) + runs]
    for step in steps:
        proc = subprocess.run([sys.executable, "-m", f"stages.{step[0]}", *step[1:], "--no-progress"], cwd=workdir,
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"stage {' '.join(step)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    metrics = workdir / "reports" / "metrics"
    out = {}
    for name in ("input",) + runs:
        levels = json.loads((metrics / f"{name}.json").read_text())
        out[name] = {lvl: {k: m[k] for k in ("psnr", "ssim", "patches")} for lvl, m in levels.items()}
    out["colour"] = colour_shifts(workdir, runs[0], env)
    return out


def colour_photos() -> dict:
    """A saturated green and a saturated red photo: a held-out photo (coffee) recoloured."""
    import skimage.data

    from fdr.data import palette
    from fdr.data.imageio import quantize, to_float

    coffee = to_float(skimage.data.coffee())
    return {"green": quantize(palette.apply(coffee, palette.Palette(hue=120.0, saturation=1.6))),
            "red": quantize(palette.apply(coffee, palette.Palette(saturation=1.6)))}


def distorted_colour_photos() -> dict:
    """``{name: (distorted, clean)}``: the photos of :func:`colour_photos` distorted at moderate as ``fdr degrade``
    does (seed 7, 8)."""
    from fdr.evaluate import photos

    syn = configuration().synthesis
    return {name: (photos.distort_photo(img, "moderate", 7 + k, syn), img)
            for k, (name, img) in enumerate(colour_photos().items())}


def input_shifts() -> dict:
    """Mean colour shift per channel (distorted - clean, 0-255) of :func:`distorted_colour_photos`: what the
    distortions themselves do (noise clipped at 0 and 255, JPEG's chroma subsampling of saturated colours)."""
    from fdr.evaluate import photos

    return {name: [round(255 * float(v), 4) for v in photos.colour_shift(d / 255.0, c / 255.0)]
            for name, (d, c) in distorted_colour_photos().items()}


def colour_shifts(workdir: Path, run: str, env: dict) -> dict:
    """Mean colour shift per channel (restored - clean, 0-255) of :func:`distorted_colour_photos` restored by
    ``fdr restore`` with ``run``'s model."""
    from fdr.data.imageio import read_rgb, write_png
    from fdr.evaluate import photos

    folder, pairs = workdir / "colour", distorted_colour_photos()
    clean = {name: c for name, (_, c) in pairs.items()}
    for name, (distorted, _) in pairs.items():
        write_png(folder / "in" / f"{name}.png", distorted)
    proc = subprocess.run([sys.executable, "-m", "fdr", "restore", str(folder / "in"), "-o", str(folder / "out"),
                           "--checkpoint", str(workdir / "models" / run / "checkpoint.pt"), "--quiet"], cwd=workdir,
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"fdr restore failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return {name: [round(255 * float(v), 4) for v in photos.colour_shift(read_rgb(folder / "out" / f"{name}.png") / 255.0,
                                                                         img / 255.0)] for name, img in clean.items()}


SETTINGS = {  # kernel choices of other CPUs, emulated on this one (--spread)
    "default": {}, "onednn-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"}, "onednn-sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
}


def spread() -> dict:
    """FDR-Net's PSNR per level under each of :data:`SETTINGS`, unpinned and pinned: how far the kernels move it."""
    out = {}
    for name, extra in SETTINGS.items():
        base = {k: v for k, v in os.environ.items() if k not in PINS["avx2"]} | extra
        for pinned in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                env = pinned_env(cpu_pin(), base) if pinned else {**base, **THREADS}
                res = run(Path(tmp), base_env=env) if pinned else _unpinned(Path(tmp), env)
            out[f"{name} {'pinned' if pinned else 'unpinned'}"] = {k: v["psnr"] for k, v in res["fdrnet"].items()}
            print(name, "pinned" if pinned else "unpinned", out[f"{name} {'pinned' if pinned else 'unpinned'}"],
                  flush=True)
    return out


def _unpinned(workdir: Path, env: dict) -> dict:
    saved = dict(PINS)
    PINS.update({k: {} for k in PINS})  # the environment's own kernels
    try:
        return run(workdir, base_env=env)
    finally:
        PINS.update(saved)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e", description=__doc__.split("\n")[0])
    parser.add_argument("--update", action="store_true", help=f"rewrite {REFERENCE.relative_to(ROOT)} (both pins)")
    parser.add_argument("--spread", action="store_true", help="measure FDR-Net's PSNR under other CPUs' kernels")
    args = parser.parse_args(argv)
    if args.spread:
        print(json.dumps(spread(), indent=2))
        return 0
    pins = list(PINS) if args.update else [cpu_pin()]
    result = {}
    for pin in pins:
        with tempfile.TemporaryDirectory() as tmp:
            result[pin] = run(Path(tmp), pin)
    print(json.dumps(result, indent=2))
    if args.update:
        old = json.loads(REFERENCE.read_text()) if REFERENCE.is_file() else {}
        tmp_path = REFERENCE.with_suffix(".tmp")
        tmp_path.write_text(json.dumps({"measured": old.get("measured", ""), "pins": result}, indent=2) + "\n")
        os.replace(tmp_path, REFERENCE)
        print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
