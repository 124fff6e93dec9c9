"""Checkpoint files: one ``checkpoint.pt`` per training run, written atomically, read safely.

A checkpoint is a plain dict (tensors, numbers, strings, lists, dicts only), so it loads with
``torch.load(weights_only=True)``: no pickled code runs when a file is opened. Keys:

- ``format`` / ``version``: ``"fdr-checkpoint"`` / :data:`VERSION`;
- ``run``, ``model_name``, ``model_cfg`` (plain dict of :class:`fdr.config.ModelConfig`), ``window`` (the side of
  the square patches or crops the model was trained on: :func:`fdr.evaluate.restore.window_of`);
- ``model``, ``optimizer``, ``scheduler``, ``scaler``: ``state_dict()``s;
- ``iteration``: optimisation steps completed;
- ``rng``: python / numpy / torch (CPU and CUDA) generator states, ``data_order``: where the
  training batch sequence stands (seed, epoch, position);
- ``config`` (the whole parameter tree), ``fingerprint`` (what must match to resume),
  ``git_revision``, ``log`` (running training statistics), ``wall_s``.

Resuming (:func:`resumable`): a rerun continues from ``checkpoint.pt`` only when its :func:`fingerprint`
(seed, architecture, every setting that shapes the weights, training data, source code) is the same and it
has not gone past the budget; otherwise it starts from scratch and says why.
"""
from __future__ import annotations

import random
import zipfile
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import torch
from torch import nn

from fdr.atomic import atomic_write
from fdr.errors import InputError

FORMAT = "fdr-checkpoint"
VERSION = 2  # 2: model_cfg holds the architecture's own section (baselines have their own config classes)
DEFAULT_CHECKPOINT = Path("models/fdrnet/checkpoint.pt")  # written by `dvc repro` (stage train@fdrnet)
MAX_PARAMETERS = 100_000_000  # weights of one model: 60x the paper's 1.67M; a larger one is refused unbuilt


class CheckpointError(InputError):
    """A checkpoint file is missing, unreadable, of another format, or does not fit the model."""


def remove_stale_temporaries(folder: Path, name: str) -> None:
    """Delete temporary files a killed :func:`atomic_write` of ``folder/name`` left behind."""
    for tmp in Path(folder).glob(f".{name}.*.tmp"):
        try:
            tmp.unlink()
        except OSError:
            pass


def save(path: Path, state: Mapping[str, Any]) -> None:
    """Write checkpoint ``state`` to ``path`` atomically."""
    state = {"format": FORMAT, "version": VERSION, **state}
    atomic_write(Path(path), lambda f: torch.save(state, f))


def check_archive(path: Path) -> None:
    """Before anything is loaded: ``torch.save``'s zip stores its members uncompressed, so together they declare no
    more bytes than the file holds. ``weights_only`` stops code, not size: a small file whose members declare
    gigabytes (compressed) would be inflated into memory by ``torch.load``."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint (not the zip file torch.save writes: {exc})") from exc
    size, declared = path.stat().st_size, sum(m.file_size for m in members)
    packed = sum(m.compress_type != zipfile.ZIP_STORED for m in members)
    if declared > size or packed:
        raise CheckpointError(f"{path}: its members declare {declared:,} bytes in a file of {size:,} bytes ({packed} "
                              "compressed; torch.save compresses none); not loaded")


def check_model_size(name: str, cfg: Any, source: str, weights: Optional[Mapping[str, Any]] = None,
                     error: type = CheckpointError) -> int:
    """The number of weights (parameters and buffers) the architecture ``cfg`` has, counted without allocating any
    (``meta`` device); above :data:`MAX_PARAMETERS`, or unequal to the count in ``weights`` (a checkpoint's),
    refused before the model is built. Errors (``error``) name ``source`` and the configuration."""
    from fdr.config import to_dict
    from fdr.models import build

    with torch.device("meta"):
        n = sum(t.numel() for t in build(name, cfg).state_dict().values())
    shown = ", ".join(f"{k} {v}" for k, v in to_dict(cfg).items() if isinstance(v, int) and not isinstance(v, bool))
    if n > MAX_PARAMETERS:
        raise error(f"{source}: {name} with {shown} has {n:,} weights, above the limit of "
                              f"{MAX_PARAMETERS:,} (fdr.train.checkpoint.MAX_PARAMETERS); not built")
    if weights is not None:
        held = sum(t.numel() for t in weights.values() if isinstance(t, torch.Tensor))
        if held != n:
            raise error(f"{source}: its configuration ({name} with {shown}) has {n:,} weights but the file "
                                  f"holds {held:,}; not built")
    return n


def read(path: Path, map_location: Any = "cpu") -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)`` after :func:`check_archive`; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    check_archive(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated file, foreign pickle, ...
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an fdr checkpoint (no 'format: {FORMAT}' entry)")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {state.get('version')!r}, this code reads {VERSION}")
    return state


def _listing(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_state_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    """``model.load_state_dict(state_dict)``, failing with a message that lists every mismatch
    (missing keys, unexpected keys, shape differences) when the architectures differ."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [
        f"{k} {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in own.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing in checkpoint: {_listing(missing)}")
        if unexpected:
            parts.append(f"not in model: {_listing(unexpected)}")
        if shapes:
            parts.append(f"shape mismatch: {_listing(shapes)}")
        raise CheckpointError(f"{source}: checkpoint does not fit the model architecture; " + "; ".join(parts))
    model.load_state_dict(state_dict, strict=True)


def model_config(state: Mapping[str, Any], source: str):
    """The architecture configuration stored in a checkpoint (``ModelConfig``, ``DnCNNConfig`` or ``OWANConfig``)."""
    from fdr.config import ConfigError
    from fdr.config.base import build
    from fdr.models import CONFIGS

    try:
        return build(CONFIGS[state["model_name"]], dict(state["model_cfg"]), "model")
    except (KeyError, ConfigError) as exc:
        raise CheckpointError(f"{source}: stored model configuration is not usable ({exc})") from exc


def load_model(path: Path, map_location: Any = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the trained model stored in ``path``; returns ``(model in eval mode, meta)`` where
    ``meta`` is the checkpoint without the optimiser/scheduler/RNG states. A checkpoint without weights or
    with non-finite weights is refused (:class:`CheckpointError` naming the file)."""
    from fdr.models import build

    state = read(path, map_location)
    if not isinstance(state.get("model"), Mapping):
        raise CheckpointError(f"{path}: no 'model' entry with the weights (not a checkpoint written by training)")
    cfg = model_config(state, str(path))
    check_model_size(state["model_name"], cfg, str(path), state["model"])
    model = build(state["model_name"], cfg)
    load_state_strict(model, state["model"], str(path))
    bad = [name for name, t in [*model.named_parameters(), *model.named_buffers()]
           if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} weight tensor(s) hold NaN or infinite values (first: {bad[0]}); "
                              "the run that wrote it diverged")
    model.eval()
    meta = {k: v for k, v in state.items() if k not in ("model", "optimizer", "scheduler", "scaler", "rng")}
    meta["model_cfg_obj"] = cfg
    return model, meta


# ---------------------------------------------------------------- RNG state (weights_only-safe form)

def rng_state() -> dict:
    """Python, numpy (legacy global) and torch generator states as plain data and tensors."""
    version, mt, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": [version, list(mt), gauss],
        "numpy": [np_name, torch.from_numpy(np_keys.astype(np.int64)), int(np_pos), int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda)


# ---------------------------------------------------------------- resuming


def data_identity(folder: Path) -> dict:
    """Cheap identity of a patch set: array shapes, the manifest's hash and the first/last patches' bytes."""
    import hashlib

    from fdr.data.imageio import sha256_file

    folder = Path(folder)
    ident: dict[str, Any] = {}
    for name in ("input", "target"):
        arr = np.load(folder / f"{name}.npy", mmap_mode="r")
        h = hashlib.sha256(np.ascontiguousarray(arr[0]).tobytes())
        h.update(np.ascontiguousarray(arr[-1]).tobytes())
        ident[name] = {"shape": list(arr.shape), "ends_sha256": h.hexdigest()}
    manifest = folder / "manifest.csv"
    ident["manifest_sha256"] = sha256_file(manifest) if manifest.is_file() else None
    return ident


def code_identity() -> dict:
    """Hashes of the source files a trained model depends on (models, the training package, data loading)."""
    import fdr
    from fdr.data.imageio import sha256_file

    root = Path(fdr.__file__).parent
    files = sorted((root / "models").glob("*.py")) + sorted((root / "train").glob("*.py"))
    files += [root / "tensors.py", root / "data" / "dataset.py"]
    return {f.relative_to(root.parent).as_posix(): sha256_file(f) for f in files}


# Training settings that do not change the weights after a given iteration (the rest are fingerprinted).
NOT_WEIGHTS = ("iterations", "checkpoint_every", "log_every", "val_every", "val_patches", "device", "num_workers")


def fingerprint(cfg, model_name: str, model: nn.Module, train_dir: Path, model_cfg: Any = None) -> dict:
    """Everything the weights after a given iteration depend on: seed, architecture (tensor names and shapes, and
    the settings ``model_cfg``, some of which change no shape: ``model.phase``), every training setting except
    :data:`NOT_WEIGHTS` (so raising ``train.iterations`` continues a run), training data and source code."""
    from fdr.config import to_dict

    return {
        "seed": cfg.seed,
        "model": model_name,
        "architecture": {k: list(v.shape) for k, v in model.state_dict().items()},
        "settings": to_dict(model_cfg) if model_cfg is not None else None,
        "train": {k: v for k, v in to_dict(cfg.train).items() if k not in NOT_WEIGHTS},
        "data": data_identity(train_dir),
        "code": code_identity(),
    }


def restore(state: dict, source: str, model: nn.Module, optimizer, scheduler, scaler) -> None:
    """Put a resumable checkpoint's weights, optimiser, schedule, loss scale and RNG states back."""
    load_state_strict(model, state["model"], source)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])


def differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys where two nested dicts differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += differences(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [] if old == new else [prefix.rstrip(".")]


def resumable(path: Path, fp: dict, total: int) -> tuple[Optional[dict], str]:
    """``(state, message)``: the checkpoint at ``path`` when a run with fingerprint ``fp`` and budget ``total``
    may continue from it, else ``(None, why not)`` (``""`` when there is no checkpoint)."""
    if not Path(path).is_file():
        return None, ""
    state = read(path, map_location="cpu")
    diff = differences(state.get("fingerprint"), fp)
    if diff:
        return None, f"{path}: trained with other settings ({', '.join(diff[:6])}); training from scratch"
    if state["iteration"] > total:
        return None, f"{path}: already at iteration {state['iteration']} > budget {total}; training from scratch"
    return state, f"resuming from {path} at iteration {state['iteration']}"
