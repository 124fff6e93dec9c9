"""Stage ``evaluate``: ``python -m stages.evaluate RUN [--params params.yaml]``.

RUN is a trained run (``models/RUN/checkpoint.pt``) or ``input`` (the distorted input itself).
The run's test sets (:func:`fdr.runs.test_sets`: ``test_<level>`` for every ``synthesis.test_levels``
entry, or ``<track>_test`` for a track run; ``input`` takes all of them) that are present under
``<data.root>/patches`` are evaluated with the OWAN metrics (plus the labelled Y-channel variant)
and the result is written to ``reports/metrics/RUN.json``::

    {"mild": {"psnr": .., "ssim": .., "psnr_y": .., "ssim_y": .., "patches": N}, "moderate": {...}, ...}
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fdr.checkpoint import CheckpointError, atomic_write, load_state_strict, read
from fdr.config import ConfigError, load
from fdr.distributed import choose_device
from fdr.evaluate import evaluate_identity, evaluate_model
from fdr.models import build
from fdr.runs import resolve, test_sets

def evaluate_run(cfg, run: str, models: Path, progress: bool = True) -> dict:
    """``{set key: metrics}`` for every test set of ``run`` that is present."""
    patches = Path(cfg.data.root) / "patches"
    spec = None if run == "input" else resolve(cfg, run)
    wanted = test_sets(cfg, run) if spec is None else spec.test_sets
    present = {key: patches / name for key, name in wanted.items() if (patches / name / "input.npy").is_file()}
    if not present:
        raise FileNotFoundError(f"{patches}: none of the test sets of {run!r} found "
                                f"({', '.join(wanted.values())}); run the crop stage")
    ec = cfg.evaluate
    if spec is None:
        return {key: evaluate_identity(path, ec.batch_size, ec.max_patches, progress) for key, path in present.items()}
    path = models / run / "checkpoint.pt"
    state = read(path)
    # The architecture params.yaml gives must fit the checkpoint; fields a model does not read (FDR-Net's
    # channels for DnCNN, say) may differ without retraining.
    stale = f"{path} (run {run!r}: trained with another architecture than params.yaml gives; run the train stage first)"
    if state.get("model_name") != spec.model_name:
        raise CheckpointError(f"{stale}: trained as {state.get('model_name')!r}, params.yaml gives {spec.model_name!r}")
    model = build(spec.model_name, spec.model_cfg)
    load_state_strict(model, state["model"], stale)
    model.eval()
    del state
    device = choose_device(cfg.train.device)
    model.to(device)
    return {key: evaluate_model(model, p, ec.batch_size, device, ec.max_patches, progress, desc=f"{run} {key}")
            for key, p in present.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("run", help="trained run name, or 'input' for the distorted input")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--models", default="models", help="folder of trained runs (default: models)")
    parser.add_argument("--out", default="reports/metrics", help="output folder (default: reports/metrics)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        cfg = load(args.params)
        results = evaluate_run(cfg, args.run, Path(args.models), progress=not args.no_progress)
    except (ConfigError, CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(results, indent=2) + "\n"
    out = Path(args.out) / f"{args.run}.json"
    atomic_write(out, lambda f: f.write(text.encode()))
    for key, res in results.items():
        print(f"{args.run} {key}: PSNR {res['psnr']:.2f} dB, SSIM {res['ssim']:.4f} ({res['patches']} patches)",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
