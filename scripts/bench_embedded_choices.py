"""The embedded default's choices, measured: the ablation budget, what each generalisation change contributes, the
restore window, the deblurring track's blur. Made for a GPU (minutes there; hours on 2 CPU cores).

    python scripts/bench_embedded_choices.py --photos PHOTOS_DIR --out OUT_DIR --jobs 8

Sections (``--sections``, all by default), each trained by the pipeline's own trainer
(:func:`fdr.train.trainer.train`) on data built by the data stages' code, one data folder per distinct data setting:

- ``budget``: the ablations' reference and each Table 5 arm (and ``beta0``) with ``--seeds`` seed offsets, validated
  on the whole DID-HY test set every ``--every`` iterations up to ``--iterations`` (the learning-rate schedule
  counts iterations only, so iteration ``i`` of a long run is what a run with budget ``i`` ends with): the effect
  against the reference per seed, its mean, std over seeds and 95% t interval.
- ``generalise``: the main FDR-Net one change at a time (none; + flips and rotations; + recoloured copies; + the
  scikit-learn photos; + a larger budget) scored on ``--photos`` (photos no run saw) as ``fdr restore`` restores
  them, against the input and the best Gaussian filter (an oracle sigma per level on those photos); then the last
  FDR-Net and the hybrid DnCNN and OWAN restored whole, in tiles of 1, 4 and 8 training windows.
- ``deblur``: the deblurring track at the default motion-blur lengths and at longer ones, PSNR over iterations.

The DVCLive logger is replaced by an in-memory recorder, so this runs where DVC is not installed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LEVELS = ("mild", "moderate", "severe")
GENERALISE = {  # cumulative changes of the main model's training, each measured against the one before
    "A none": {"train.augment": "none", "synthesis.palettes.train": False, "synthesis.copies.hybrid_train": 1,
               "+photos": False},
    "B +flips/rotations": {"synthesis.palettes.train": False, "synthesis.copies.hybrid_train": 1, "+photos": False},
    "C +recoloured copies": {"+photos": False},
    "D +scikit-learn photos": {},
    "E +budget x2": {"train.iterations": "x2"},
}


class _Recorder:
    """Stands in for DVCLive: keeps ``(step, name, value)`` rows in memory."""

    rows: list = []

    def __init__(self, *args, **kwargs):
        self.step = 0

    def log_metric(self, name, value):
        _Recorder.rows.append((self.step, name, float(value)))

    def next_step(self):
        pass

    def end(self):
        pass


def _config(params: str, overrides: dict):
    """The config under ``overrides``; ``+photos: false`` leaves out scikit-learn's photos (in this process, where
    the download stage's code lists them; restored for the next job)."""
    from fdr import config
    from fdr.data import sources

    over = dict(overrides)
    everything = sources.__dict__.setdefault("_ALL_EMBEDDED", sources.EMBEDDED)
    sources.EMBEDDED = everything if over.pop("+photos", True) else tuple(
        i for i in everything if i.package != "scikit-learn")
    return config.load(params, overrides={k: v for k, v in over.items() if v != "x2"}), over


def build_data(job: tuple) -> str:
    """Run the data stages' code for ``overrides`` into its own ``data.root``."""
    params, overrides, workers = job
    from fdr.data.patches import crop
    from fdr.data.sources import prepare_raw
    from fdr.data.synthesize import synthesize

    cfg, _ = _config(params, overrides)
    prepare_raw(cfg, progress=False, log=lambda m: None)
    synthesize(cfg, workers=workers, progress=False, log=lambda m: None)
    crop(cfg, log=lambda m: None)
    return cfg.data.root


def train_recorded(job: tuple) -> dict:
    """Train run ``run`` (seed offset ``k``) under ``overrides``; the validation PSNR per iteration, the checkpoint."""
    params, overrides, run_name, k, every, device, keep, budget = job
    import torch

    from fdr.config.runs import resolve
    from fdr.train import trainer

    torch.set_num_threads(2)
    trainer.open_live = lambda *a, **kw: _Recorder()
    _Recorder.rows = []
    cfg, over = _config(params, overrides)
    run = resolve(cfg, run_name)
    iterations = budget or run.train_cfg.iterations * (2 if over.get("train.iterations") == "x2" else 1)
    tc = dataclasses.replace(run.train_cfg, iterations=iterations, val_every=every or iterations, log_every=100,
                             checkpoint_every=10 * iterations, val_patches=100_000, device=device)
    run = run._replace(train_cfg=tc, seed=run.seed + k)
    out = Path(keep) if keep else Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    trainer.train(cfg, run, out, progress=False)
    return {"run": run_name, "seed": k, "seconds": time.perf_counter() - t0, "checkpoint": str(out / "checkpoint.pt"),
            "psnr": {step: v for step, name, v in _Recorder.rows if name == "val/psnr"}}


def budget_table(results: list[dict], reference: str) -> list[str]:
    from scipy import stats

    by = {}
    for r in results:
        by.setdefault(r["run"], {})[r["seed"]] = r["psnr"]
    ref, lines = by[reference], ["arm | iterations | per seed (dB) | mean | std | 95% t interval | resolved"]
    for arm, seeds in by.items():
        for it in sorted(next(iter(seeds.values()))) if arm != reference else []:
            d = np.array([seeds[k][it] - ref[k][it] for k in sorted(seeds) if k in ref])
            half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
            lines.append(f"{arm} | {it} | {' '.join(f'{v:+.3f}' for v in d)} | {d.mean():+.3f} | {d.std(ddof=1):.3f}"
                         f" | [{d.mean() - half:+.3f}, {d.mean() + half:+.3f}] | {abs(d.mean()) > half}")
    for it in sorted(next(iter(ref.values()))):
        lines.append(f"reference std over seeds at {it}: {np.std([ref[k][it] for k in ref], ddof=1):.3f}")
    return lines


def photo_scores(job: tuple) -> tuple:
    """``(name, {window: {level: summary}})`` of a checkpoint on the photos (window ``None``: its own; ``w``: tiles
    of ``w`` training windows; 0: whole)."""
    name, checkpoint, photos_dir, device, windows = job
    from bench_photos import load_photos  # scripts/ is on sys.path: the script's own folder

    return name, _photo_scores(checkpoint, load_photos(Path(photos_dir), 1.0), device, windows)


def _photo_scores(checkpoint: str, clean: dict, device, windows) -> dict:
    from fdr import config
    from fdr.evaluate import photos
    from fdr.evaluate.restore import restore_array, window_of
    from fdr.train.checkpoint import load_model

    syn = config.from_dict({}).synthesis
    model, meta = load_model(checkpoint, map_location=device)
    model.to(device)
    own = window_of(meta)
    out, done = {}, set()
    for w in windows:
        tile, overlap = own if w is None else ((0, 0) if w == 0 else (w * meta["window"], w * meta["window"] // 4))
        if (tile, overlap) in done:
            continue
        done.add((tile, overlap))
        out[str(w)] = {}
        for i, level in enumerate(LEVELS):
            pairs = photos.as_float_pairs([(photos.distort_photo(img, level, 1 + 1000 * i + k, syn), img)
                                           for k, img in enumerate(clean.values())])
            ident = photos.score(lambda d: d, pairs)
            s = photos.score(lambda d: restore_array(model, d, tile, overlap, device) / 255.0, pairs)
            out[str(w)][level] = {**photos.summarize(s, ident), "input": float(ident["psnr"].mean()),
                                  "tile": tile, "per_image": s["psnr"].tolist()}
    return out


def gaussian_oracle(clean: dict) -> dict:
    from fdr import config
    from fdr.evaluate import photos

    syn, out = config.from_dict({}).synthesis, {}
    for i, level in enumerate(LEVELS):
        pairs = photos.as_float_pairs([(photos.distort_photo(img, level, 1 + 1000 * i + k, syn), img)
                                       for k, img in enumerate(clean.values())])
        sigma = photos.choose_sigma(pairs)
        s = photos.score(lambda d: photos.gaussian(d, sigma), pairs)
        out[level] = {"sigma": sigma, "psnr": float(s["psnr"].mean()), "per_image": s["psnr"].tolist()}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--photos", type=Path, default=None, help="photos no run saw (generalise section)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--sections", default="budget,generalise,deblur")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--iterations", type=int, default=2000, help="budget section: the longest budget")
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument("--workers", type=int, default=4, help="synthesis workers per data build")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    return run_sections(args)


def run_sections(args) -> int:
    from fdr import config
    from fdr.config.runs import with_role

    sections, out = args.sections.split(","), args.out
    out.mkdir(parents=True, exist_ok=True)
    cfg = config.load(args.params)
    root = Path(tempfile.mkdtemp(prefix="choices-"))
    hybrid_only = {"synthesis.didhy": False, "synthesis.single": False}
    data = {"main": {"data.root": str(root / "D")}}  # the default configuration: D of the generalise section
    if "generalise" in sections:
        data["A"] = {**hybrid_only, "synthesis.palettes.train": False, "synthesis.copies.hybrid_train": 1,
                     "+photos": False, "data.root": str(root / "A")}
        data["C"] = {**hybrid_only, "+photos": False, "data.root": str(root / "C")}
    if "deblur" in sections:
        data["long blur"] = {"data.root": str(root / "longblur"), "synthesis.motion_length": [15.0, 45.0],
                             "synthesis.didhy": False}
    ctx = multiprocessing.get_context("spawn")
    t0 = time.perf_counter()
    for o in data.values():  # one after the other: each build runs its own pool of synthesis workers
        build_data((args.params, o, args.workers))
    print(f"data: {len(data)} builds in {time.perf_counter() - t0:.0f} s", flush=True)
    jobs = []
    if "budget" in sections:
        ref = cfg.ablations.reference
        arms = [ref] + [r for r in with_role(cfg, "ablation", "control") if r in cfg.runs and cfg.runs[r].seed == 0]
        jobs += [("budget", (args.params, data["main"], a, k, args.every, args.device, None, args.iterations))
                 for k in range(args.seeds) for a in arms]
    if "generalise" in sections:
        for name, o in GENERALISE.items():
            root_of = {"B": "A", "E": "D"}.get(name[0], name[0])
            over = {**o, "data.root": str(root / root_of)}
            jobs.append((name, (args.params, over, "fdrnet", 0, 0, args.device, str(root / "models" / name[0]), None)))
        for base in ("dncnn", "owan"):
            jobs.append((base, (args.params, {"data.root": str(root / "D")}, base, 0, 0, args.device,
                                str(root / "models" / base), None)))
    if "deblur" in sections:
        for name in ("main", "long blur"):
            over = {k: v for k, v in data[name].items() if k != "+blur"}
            jobs += [(f"deblur {name}", (args.params, over, "deblur_fdrnet", k, args.every, args.device, None,
                                         args.iterations)) for k in range(2)]
    results = _train_all(ctx, jobs, args.jobs, out)
    _report(results, args, cfg, root, out)
    return 0


def _train_all(ctx, jobs: list, n: int, out: Path) -> dict:
    results: dict = {}
    t0 = time.perf_counter()
    with ctx.Pool(n) as pool:
        for (section, _), r in zip(jobs, pool.imap(train_recorded, [j for _, j in jobs])):
            results.setdefault(section, []).append(r)
            print(f"{section}: {r['run']} +{r['seed']} {r['seconds']:.0f} s, last PSNR "
                  f"{r['psnr'][max(r['psnr'])] if r['psnr'] else float('nan'):.3f}", flush=True)
            (out / "runs.json").write_text(json.dumps(results, indent=1))
    print(f"{len(jobs)} runs in {time.perf_counter() - t0:.0f} s", flush=True)
    return results


def _report(results: dict, args, cfg, root: Path, out: Path) -> None:
    lines = []
    if "budget" in results:
        lines += ["## budget"] + budget_table(results["budget"], cfg.ablations.reference)
    if args.photos and any(k[0] in "ABCDE" and k[1] == " " for k in results):
        from bench_photos import load_photos

        jobs = [(n, results[n][0]["checkpoint"], str(args.photos), args.device,
                 (None, 0, 1, 4, 8) if n in ("E +budget x2", "dncnn", "owan") else (None,))
                for n in [*GENERALISE, "dncnn", "owan"]]
        scores = {}
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            pending = pool.imap_unordered(photo_scores, jobs)
            gauss = gaussian_oracle(load_photos(args.photos, 1.0))
            for name, by_window in pending:
                scores[name] = by_window
                (out / "photos.json").write_text(json.dumps({"gaussian": gauss, "scores": scores}, indent=1))
                print(f"photos scored: {name}", flush=True)
        lines += ["## generalise (photos no run saw)"] + [
            f"{name} | window {w} | {level} | input {s['input']:.2f} | restored {s['psnr']:.2f} | gain {s['gain']:+.2f} "
            f"| worse {s['worse']} | worst {s['worst_gain']:+.2f} | vs Gaussian {s['psnr'] - gauss[level]['psnr']:+.2f}"
            f" | shift {[round(255 * v, 1) for v in s['shift']]} | max {255 * s['shift_max']:.1f}"
            for name, by_w in scores.items() for w, levels in by_w.items() for level, s in levels.items()]
    for key in [k for k in results if k.startswith("deblur")]:
        lines += [f"## {key}"] + [f"seed {r['seed']}: " + " ".join(f"{it}:{v:.3f}" for it, v in sorted(r["psnr"].items()))
                                  for r in results[key]]
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
