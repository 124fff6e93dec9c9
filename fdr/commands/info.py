"""``python -m fdr info``: parameters and GFLOPs of every paper variant and of the current configuration.

The paper variants (Table 5 rows, Table 6 columns, the DnCNN and OWAN baselines) are always the
paper's configuration, whatever ``params.yaml`` holds; the second part shows the models the
pipeline would build from ``params.yaml`` now. GFLOPs: one forward pass of one 63x63 patch, counted
by ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add of convolutions and
matrix products; element-wise operations are not counted). Models are built on the ``meta``
device, so nothing is computed or allocated.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from fdr import config
from fdr.config.runs import resolve
from fdr.models import VARIANT_LABELS, build, count_parameters, paper_variants

HELP = "print parameters and GFLOPs (63x63 patch) of the paper's variants and of params.yaml's models"
PATCH = 63
DEFAULT_PARAMS = "params.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--params", default=None, help=f"parameter file (default: {DEFAULT_PARAMS}, skipped if absent)")


def measure(name: str, cfg, patch: int = PATCH) -> dict:
    """Parameters and forward GFLOPs of model ``name`` on a 1 x 3 x patch x patch input."""
    with torch.device("meta"):
        model = build(name, cfg)
        x = torch.empty(1, 3, patch, patch)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return {"params": count_parameters(model), "gflops": counter.get_total_flops() / 1e9}


def _row(key: str, name: str, cfg, label: str) -> dict:
    return {"key": key, "label": label, "model": name, **measure(name, cfg), "config": config.to_dict(cfg)}


def current_variants(cfg: config.Config) -> dict[str, tuple[str, object]]:
    """Every run of ``params.yaml``'s run table and Table 6 sweeps, as it would be built now."""
    names = list(cfg.runs) + [f"fl{n}" for n in cfg.ablations.flayers] + [f"ch{c}" for c in cfg.ablations.channels]
    specs = {run: resolve(cfg, run) for run in names}
    return {run: (spec.model_name, spec.model_cfg) for run, spec in specs.items()}


def _describe(cfg, name: str) -> str:
    if name == "dncnn":
        return f"{cfg.depth} layers x {cfg.channels} ch"
    if name == "owan":
        return f"{cfg.groups} groups x {cfg.layers} layers, {cfg.channels} ch"
    parts = [f"C={cfg.channels}", f"FD-layers={cfg.n_flayers}", f"phases={cfg.phases}",
             f"PM={cfg.pm_blocks}", f"aux={cfg.aux_blocks if cfg.use_aux else 'off'}"]
    if not cfg.use_fdm:
        parts.append("FDM off")
    return ", ".join(parts)


def collect(params: str | None) -> dict:
    """Everything ``info`` prints, as plain data."""
    out: dict = {"patch": PATCH, "paper": [], "current": None}
    for key, (name, cfg) in paper_variants().items():
        out["paper"].append(_row(key, name, cfg, VARIANT_LABELS[key]))
    path = Path(params or DEFAULT_PARAMS)
    if params is None and not path.is_file():
        return out
    cfg = config.load(path)
    out["current"] = {
        "params_file": str(path),
        "variants": [_row(k, n, c, _describe(c, n)) for k, (n, c) in current_variants(cfg).items()],
    }
    return out


def _table(rows: list[dict]) -> list[str]:
    lines = [f"  {'run':<8} {'params':>11} {'GFLOPs':>8}  description"]
    for r in rows:
        lines.append(f"  {r['key']:<8} {r['params']:>11,d} {r['gflops']:>8.3f}  {r['label']}")
    return lines


def run(args: argparse.Namespace) -> int:
    data = collect(args.params)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    lines = [f"Paper configuration (Tables 5-6 and baselines; GFLOPs per {PATCH}x{PATCH} patch, forward):"]
    lines += _table(data["paper"])
    if data["current"] is None:
        lines.append(f"\n({DEFAULT_PARAMS} not found: current configuration not shown)")
    else:
        lines.append(f"\nCurrent configuration ({data['current']['params_file']}):")
        lines += _table(data["current"]["variants"])
    print("\n".join(lines))
    return 0
