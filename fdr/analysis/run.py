"""The whole interpretative analysis on the trained runs (paper §4.5, Fig. 6-8), as one function.

Inputs: the checkpoint of the hybrid track's main FDR-Net run (required; ``fdrnet`` in ``params.yaml``), those of
its baselines (optional: "not run" tiles when absent), ``models/*/live`` (training curves) and the test patches
``<data.root>/patches/test_<level>/{input,target}.npy``. Which run is which comes from the run table
(:func:`fdr.config.runs.role`).

Choices (the paper is silent): the correlation uses ``analysis.patches`` evenly spaced patches of the
training level's test set (``synthesis.train_level``, moderate), the level the model was trained on,
and the channel responses ``analysis.response_patches`` evenly spaced ones of those (clean); the response
figure shows phase 1, whose FDM sees the distortions least processed (every phase's numbers are in
the metrics). The same architecture at its seeded initialisation is measured too, so a reader can
tell what training (and SVDO) changed from what the gain-control layers do by construction. The same clean
patches feed the disentanglement probes (:mod:`fdr.analysis.probe`) of the main run, the ablations' reference
and the runs trained like it without the FDM or without SVDO (:func:`probe_runs`: ``nofdm`` and ``beta0``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from fdr.atomic import write_json
from fdr.config.runs import main_run, resolve, with_role
from fdr.evaluate.patches import open_set, subset_indices
from fdr.tensors import choose_device

from . import correlation, curves, grids, probe, responses
from .photo import restore_example


def _load_optional(models_dir: Path, run: str, loader: Callable, device) -> Optional[torch.nn.Module]:
    path = models_dir / run / "checkpoint.pt"
    if not path.is_file():
        print(f"analysis: {path} not found; its grid tiles read 'not run'")
        return None
    return loader(path, map_location=device)[0]


def analyze(cfg, models_dir: Path, figures_dir: Path, metrics_path: Path, paper_fig8: Optional[dict] = None,
            loader: Optional[Callable] = None, builder: Optional[Callable] = None,
            distort: responses.Distort = responses.degrade_distort) -> dict:
    """Run every analysis; write figures, ``details.json`` and the metrics file; return the metrics."""
    if loader is None:
        from fdr.train.checkpoint import load_model as loader
    if builder is None:
        from fdr.models import build as builder
    models_dir, figures_dir = Path(models_dir), Path(figures_dir)
    device = choose_device(cfg.train.device)
    batch = max(1, min(cfg.evaluate.batch_size, 32))
    patches = Path(cfg.data.root) / "patches"

    main = main_run(cfg, "hybrid")
    if main is None:
        raise FileNotFoundError("runs: no main FDR-Net row on the hybrid track (paper: table1.fdrnet); the analysis "
                                "needs one")
    main_ckpt = models_dir / main / "checkpoint.pt"
    if not main_ckpt.is_file():
        raise FileNotFoundError(f"{main_ckpt}: the trained FDR-Net is required for the analysis (train stage)")
    model, meta = loader(main_ckpt, map_location=device)
    inputs, targets = open_set(patches / f"test_{cfg.synthesis.train_level}")
    idx = subset_indices(len(inputs), cfg.analysis.patches)
    x_in, x_gt = np.asarray(inputs[idx]), np.asarray(targets[idx])

    metrics: dict = {}
    details: dict = {}
    try:
        metrics, details = _fdm_analyses(cfg, model, meta, builder, distort, x_in, x_gt, batch, device,
                                         figures_dir, paper_fig8)
    except correlation.NoFDMFeatures as exc:  # e.g. model.use_fdm=false: nothing to disentangle
        print(f"analysis: {exc}; correlation and channel responses skipped")
        for name in ("correlation.png", "responses.png"):
            (figures_dir / name).unlink(missing_ok=True)
        metrics = {"correlation": {"skipped": "the main model has no FDM"},
                   "responses": {"skipped": "the main model has no FDM"}}

    metrics["disentanglement"] = _disentanglement(cfg, models_dir, x_gt, loader, device, batch)
    grid_summary = _grids(cfg, model, models_dir, figures_dir, patches, loader, device)
    highlight = [main] + [r for r in with_role(cfg, "baseline") if cfg.runs[r].track == "hybrid"]
    metrics["restore_example"] = restore_example(cfg, model, meta, device, figures_dir / "restore_example.png")

    # Training curves of every run
    last = curves.plot_curves(curves.discover(models_dir), figures_dir / "curves.png",
                              title="Training curves of every trained run (DVCLive)", highlight=highlight)

    details.update({
        "grids": grid_summary,
        "curves_last": last,
        "patch_indices": [int(i) for i in idx],
        "set": f"test_{cfg.synthesis.train_level}",
    })
    write_json(figures_dir / "details.json", details, sort_keys=True)
    write_json(metrics_path, metrics, sort_keys=True)
    return metrics


def probe_runs(cfg) -> list[str]:
    """The runs the probes compare: the hybrid main run, the ablations' reference, and the rows trained like the
    reference without what the paper credits with disentangling (the FDM: ``set.use_fdm: false``; SVDO:
    ``training.beta: 0``)."""
    ref = cfg.ablations.reference
    track = cfg.runs[ref].track if ref else None
    controls = [r for r in with_role(cfg, "ablation", "control") if r in cfg.runs and cfg.runs[r].track == track
                and (cfg.runs[r].set.get("use_fdm") is False or resolve(cfg, r).train_cfg.beta == 0)]
    return [r for r in dict.fromkeys([main_run(cfg, "hybrid"), ref, *controls]) if r]


def _disentanglement(cfg, models_dir: Path, clean: np.ndarray, loader: Callable, device, batch: int) -> dict:
    """The linear probes of :mod:`fdr.analysis.probe` on :func:`probe_runs`, on the same clean patches as the
    correlation."""
    models = {}
    for run in probe_runs(cfg):
        path = models_dir / run / "checkpoint.pt"
        if path.is_file():
            net, meta = loader(path, map_location=device)
            if meta.get("model_name") == "fdrnet":
                models[run] = (net, getattr(meta.get("model_cfg_obj"), "n_flayers", 0))
    result = probe.disentanglement(models, clean, cfg.synthesis, cfg.ablations.reference, cfg.seed, batch, device)
    return result if result is not None else {"skipped": "no trained FDR-Net run"}


def _grids(cfg, model, models_dir: Path, figures_dir: Path, patches: Path, loader: Callable, device) -> dict:
    """Fig. 6: visual comparison grids (input, DnCNN, OWAN, FDR-Net, target), one per test level; the baselines
    are the hybrid track's baseline rows, by architecture."""
    baselines = {cfg.runs[r].arch: r for r in with_role(cfg, "baseline") if cfg.runs[r].track == "hybrid"}
    grid_models = {arch: _load_optional(models_dir, run, loader, device) for arch, run in baselines.items()}
    grid_models["fdrnet"] = model
    summary = {}
    for k, level in enumerate(cfg.synthesis.test_levels):
        set_dir = patches / f"test_{level}"
        if not (set_dir / "input.npy").is_file():
            print(f"analysis: {set_dir} not found; no grid for {level}")
            continue
        g_in, g_gt = open_set(set_dir)
        chosen = grids.pick(len(g_in), cfg.analysis.grid_crops, seed=cfg.seed + k)
        rows = grids.build_tiles(np.asarray(g_in[chosen]), np.asarray(g_gt[chosen]), grid_models, device)
        grids.plot_grid(rows, figures_dir / f"grid_{level}.png",
                        f"{level.capitalize()} test level: {len(chosen)} crops drawn with seed {cfg.seed + k}")
        summary[level] = {"crops": [int(i) for i in chosen]}
    return summary


def _fdm_analyses(cfg, model, meta, builder, distort, x_in, x_gt, batch, device, figures_dir: Path,
                  paper_fig8: Optional[dict]) -> tuple[dict, dict]:
    """Fig. 8a/b (correlation, trained and at initialisation) and Fig. 8c (channel responses)."""
    corr = correlation.correlation_analysis(model, x_in, batch, device, label="trained")
    correlation.plot_correlation(corr, figures_dir / "correlation.png", paper=paper_fig8)
    c = corr.summary()
    metrics = {"correlation": c}
    init_cfg = meta.get("model_cfg_obj")
    if init_cfg is not None:
        init_model = builder(meta.get("model_name", "fdrnet"), init_cfg, seed=cfg.seed)
        init = correlation.correlation_analysis(init_model, x_in, batch, device, label="init").summary()
        metrics["correlation"]["init"] = {k: init[k] for k in ("before", "after", "change", "change_low", "change_high")}

    resp_clean = x_gt[subset_indices(len(x_gt), cfg.analysis.response_patches)]
    resp = responses.channel_responses(model, resp_clean, cfg.synthesis, seed=cfg.seed, batch_size=batch,
                                       device=device, distort=distort)
    responses.plot_responses(resp, figures_dir / "responses.png", phase=0)
    summary = responses.summarize(resp, 0)
    summary["per_phase"] = {
        f"phase{p + 1}": {k: v for k, v in responses.summarize(resp, p).items() if k in ("within_type", "between_type")}
        for p in range(resp["clean"].shape[0])
    }
    metrics["responses"] = summary
    details = {
        "correlation": {"before": [m.tolist() for m in corr.before], "after": [m.tolist() for m in corr.after],
                        "samples": corr.samples},
        "responses": {"distortions": list(responses.DISTORTIONS), "levels": list(responses.LEVELS),
                      "values": resp["values"].tolist(), "clean": resp["clean"].tolist(),
                      "responses": resp["responses"].tolist()},
    }
    return metrics, details
