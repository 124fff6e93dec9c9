"""Helpers shared by the tests: synthetic patch sets, a tiny FDR-Net configuration and checkpoint, a fake workspace
of metrics files, a PNG writer, a zip builder and an HTTP server on 127.0.0.1."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import os
import shutil
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import numpy as np
import torch
import yaml
from numpy.lib.format import open_memmap
from PIL import Image

from fdr import config
from fdr.config import ModelConfig, to_dict
from fdr.config.runs import resolve
from fdr.models import build
from fdr.train import checkpoint as ckpt

REPO = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
RUNS = PARAMS["runs"]  # the one run table
TINY_MODEL = {"channels": 8, "phases": 1, "n_flayers": 1, "pm_blocks": 0, "aux_blocks": 1}


# ------------------------------------------------------------------------------------------ training


def make_patch_set(folder: Path, n: int = 48, patch: int = 16, seed: int = 0) -> Path:
    """Write ``input.npy`` / ``target.npy`` (uint8 N x P x P x 3, open_memmap) and a manifest:
    smooth colour gratings as targets, noisy copies as inputs."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    inp = open_memmap(folder / "input.npy", mode="w+", dtype=np.uint8, shape=(n, patch, patch, 3))
    tgt = open_memmap(folder / "target.npy", mode="w+", dtype=np.uint8, shape=(n, patch, patch, 3))
    yy, xx = np.mgrid[0:patch, 0:patch]
    rows = ["source,scale,y,x"]
    for k in range(n):
        freq, phase = rng.uniform(0.1, 0.6, 3), rng.uniform(0, 6, 3)
        clean = 0.5 + 0.4 * np.sin(freq * (xx[..., None] + 0.7 * yy[..., None]) + phase)
        tgt[k] = np.round(clean * 255)
        inp[k] = np.clip(np.round(clean * 255 + rng.normal(0, 20, clean.shape)), 0, 255)
        rows.append(f"synthetic{k},1.0,0,0")
    inp.flush()
    tgt.flush()
    del inp, tgt
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder


def tiny_params(root: Path, **train) -> dict:
    """A parameter tree for a tiny, fast FDR-Net run on data below ``root``."""
    t = {"iterations": 12, "batch_size": 4, "log_every": 2, "val_every": 6, "checkpoint_every": 5,
         "val_patches": 8, "device": "cpu", **train}
    return {"seed": 3, "data": {"root": str(root)}, "model": dict(TINY_MODEL), "train": t,
            "evaluate": {"batch_size": 8}, "runs": {"fdrnet": {"paper": "table1.fdrnet"},
            "didhy_fdrnet": {"train": "didhy_train", "val": "didhy_test", "paper": "table2.fdrnet"}}}


def write_params(tmp: Path, **train) -> Path:
    data = tmp / "data"
    if not (data / "patches" / "train").exists():
        make_patch_set(data / "patches" / "train", n=48)
        make_patch_set(data / "patches" / "test_moderate", n=12, seed=1)
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_params(data, **train)))
    return path


def subprocess_env(threads: int = 1) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    return env


def run_inprocess(tmp: Path, out: str = "out", iterations=None, run: str = "fdrnet", **settings) -> dict:
    """Train ``run`` of the tiny configuration in this process (``iterations`` overrides the budget)."""
    from fdr.train import trainer

    cfg = config.load(write_params(tmp, **settings))
    spec = resolve(cfg, run)
    if iterations is not None:
        spec = spec._replace(train_cfg=dataclasses.replace(spec.train_cfg, iterations=iterations))
    return trainer.train(cfg, spec, tmp / out, progress=False)


def weights(path: Path) -> dict:
    return ckpt.read(path)["model"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def tiny_checkpoint(path, **model):
    """A checkpoint of a seeded, untrained tiny FDR-Net; returns the network."""
    cfg = ModelConfig(**{**TINY_MODEL, **model})
    net = build("fdrnet", cfg, seed=0)
    ckpt.save(path, {"run": "fdrnet", "model_name": "fdrnet", "model_cfg": to_dict(cfg),
                     "model": net.state_dict(), "iteration": 3})
    return net


# ------------------------------------------------------------------------------ comparison / report


def metrics_for(base: float, levels=("mild", "moderate", "severe")) -> dict:
    return {lvl: {"psnr": base + d, "ssim": 0.5 + 0.01 * d, "psnr_y": base + d + 0.3, "ssim_y": 0.6, "patches": 10}
            for lvl, d in zip(levels, (1.0, 0.0, -1.0))}


def write_workspace(root: Path, runs: dict, source: str = "embedded", summaries: dict | None = None,
                    params: dict | None = None, patches: int = 10) -> Path:
    """A fake repository: params.yaml (the repository's run table and ablations unless ``params`` gives them), the
    paper tables, reports/metrics/<run>.json, models/<run>/summary.json, and per-patch values (``patches`` per set,
    scattered around each mean with a run-specific seed)."""
    from fdr.evaluate.patches import write_per_patch

    shutil.copytree(REPO / "reports" / "paper", root / "reports" / "paper")
    (root / "reports" / "metrics").mkdir(parents=True)
    for k, (run, data) in enumerate(runs.items()):
        (root / "reports" / "metrics" / f"{run}.json").write_text(json.dumps(data))
        rng = np.random.default_rng(k)
        values = {}
        for set_, m in data.items():
            noise = {metric: rng.normal(0, 0.3 if metric == "psnr" else 0.003, patches) for metric in ("psnr", "ssim")}
            values[set_] = {metric: m[metric] + v - v.mean() for metric, v in noise.items()}
        write_per_patch(root / "reports" / "per_patch" / f"{run}.npz", values)
    for run, summary in (summaries or {}).items():
        (root / "models" / run).mkdir(parents=True)
        (root / "models" / run / "summary.json").write_text(json.dumps(summary))
    tree = {"data": {"source": source}, "runs": RUNS, "ablations": PARAMS["ablations"], **(params or {})}
    (root / "params.yaml").write_text(yaml.safe_dump(tree))
    return root




# ------------------------------------------------------------------------------------------- files and servers


def png_bytes(arr: np.ndarray) -> bytes:
    """``arr`` (H x W x 3 or H x W uint8) as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def zip_archive(path: Path, members: Mapping[str, bytes] | Iterable[tuple], compression=zipfile.ZIP_STORED) -> Path:
    """A zip of ``members``: a mapping of names to bytes, or ``(name, data)`` / ``(name, data, st_mode)`` tuples
    (st_mode goes to external_attr's high word). Names are kept exactly as given (no '/' stripping)."""
    items = list(members.items()) if isinstance(members, Mapping) else list(members)
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data, *mode in items:
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if mode:
                info.external_attr = mode[0] << 16
            zf.writestr(info, data)
    with zipfile.ZipFile(path) as zf:  # the names survive the round trip unchanged
        assert [i.filename for i in zf.infolist()] == [m[0] for m in items]
    return path


@contextlib.contextmanager
def http_server(handler) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 with request ``handler``; yields its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def folder_handler(folder: Path):
    """A quiet handler serving the files under ``folder``."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    return handler
