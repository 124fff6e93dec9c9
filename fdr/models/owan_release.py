"""The released OWAN model in this project's checkpoint format (Table 1's "OP-Attention" row without training).

OWAN's authors released their trained network (``sg-nm/Operation-wise-attention-network``,
``Trained_model/model_best.pth``: a ``state_dict`` of 980 tensors, trained on DIV2K hybrid distortions). Their
``model.py`` and our :mod:`fdr.models.owan` hold the same layers under other names; the map between them follows
from the two module trees, not from a list of names:

- ``FEB`` (feature extraction) is our ``feb``; ``conv2`` (the output convolution) our ``out``;
- their ``layers`` list interleaves each group's attention layer and operation group, ``[OALayer, GroupOLs] x G``:
  ``layers.{2g}`` is our ``attention.{g}``, ``layers.{2g+1}`` our ``groups.{g}``;
- inside: ``ca_fc`` -> ``fc``; ``preprocess.op`` -> ``pre``; a group's ``_ops.{l}`` (its operation layers) ->
  ``ops.{l}``; an operation layer's ``_ops.{o}.op`` (the wrapped ``nn.Sequential`` of operation o) -> ``ops.{o}``
  and its ``_out`` -> ``out``.

The channel count, groups and layers per group are read from the tensors' shapes. A tensor that maps to no tensor
of ours, or to one of another shape, and a tensor of ours that nothing maps to, are refused by name: the import is
all or nothing. Files saved from ``nn.DataParallel`` (every key prefixed ``module.``, which their ``test.py``
strips) are accepted. The file is read with ``torch.load(weights_only=True)``: no pickled code runs.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Mapping, Optional

import torch
from torch import Tensor

from fdr.config import OWANConfig, to_dict
from fdr.errors import InputError

from .owan import N_OPS, OWAN

SOURCE = "sg-nm/Operation-wise-attention-network, Trained_model/model_best.pth"
# (their name, ours): the structural correspondences of the module docstring; {g} is filled from layers.{i}
_SUFFIXES = (
    (re.compile(r"ca_fc\.(\d+)\.(weight|bias)"), "fc.{0}.{1}", 0),  # attention layers: even positions
    (re.compile(r"preprocess\.op\.0\.weight"), "pre.0.weight", 1),  # operation groups: odd positions
    (re.compile(r"_ops\.(\d+)\._ops\.(\d+)\.op\.(\d+)\.weight"), "ops.{0}.ops.{1}.{2}.weight", 1),
    (re.compile(r"_ops\.(\d+)\._out\.0\.weight"), "ops.{0}.out.0.weight", 1),
)
_FEB = re.compile(r"FEB\.(\d+)\.(weight|conv1\.weight|conv2\.weight)")
_LAYERS = re.compile(r"layers\.(\d+)\.(.+)")


class ReleasedWeightsError(InputError):
    """Released weights that do not map onto our model; the message names the file and the tensor."""


def our_name(key: str) -> Optional[str]:
    """Our name of the released tensor ``key`` (their ``model.py`` names), or None when nothing corresponds."""
    if key == "conv2.weight":
        return "out.weight"
    m = _FEB.fullmatch(key)
    if m:
        return f"feb.{m.group(1)}.{m.group(2)}"
    m = _LAYERS.fullmatch(key)
    if not m:
        return None
    i, rest = int(m.group(1)), m.group(2)
    for pattern, template, parity in _SUFFIXES:
        s = pattern.fullmatch(rest)
        if s and i % 2 == parity:
            module = "attention" if parity == 0 else "groups"
            return f"{module}.{i // 2}." + template.format(*s.groups())
    return None


def _state(raw, source: str) -> dict[str, Tensor]:
    if not isinstance(raw, Mapping) or not raw:
        raise ReleasedWeightsError(f"{source}: expected a state_dict of tensors (OWAN's model_best.pth), "
                                   f"got {type(raw).__name__}")
    bad = next((k for k, v in raw.items() if not isinstance(v, Tensor)), None)
    if bad is not None:
        raise ReleasedWeightsError(f"{source}: entry {bad!r} is not a tensor (expected OWAN's state_dict)")
    if all(k.startswith("module.") for k in raw):  # saved from nn.DataParallel
        raw = {k[len("module."):]: v for k, v in raw.items()}
    return dict(raw)


def infer_config(state: Mapping[str, Tensor], source: str) -> OWANConfig:
    """Channels, groups and layers per group of the released network, from its tensors' shapes."""
    try:
        channels = state["FEB.0.weight"].shape[0]
        attention = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"layers\.(\d+)\.ca_fc\.2\.weight", k)))
        layers = state[f"layers.{attention[0]}.ca_fc.2.weight"].shape[0] // N_OPS
    except (KeyError, IndexError) as exc:
        raise ReleasedWeightsError(f"{source}: not OWAN's layout (no FEB.0.weight or layers.<i>.ca_fc.2.weight)"
                                   ) from exc
    return OWANConfig(groups=len(attention), layers=layers, channels=channels)


def convert(raw, source: str, cfg: Optional[OWANConfig] = None) -> tuple[OWANConfig, dict[str, Tensor]]:
    """``(config, our state_dict)`` of the released state dict ``raw``; every tensor must map, none may be left."""
    state = _state(raw, source)
    cfg = cfg or infer_config(state, source)
    own = OWAN(cfg.channels, cfg.groups, cfg.layers).state_dict()
    out: dict[str, Tensor] = {}
    for key, tensor in state.items():
        name = our_name(key)
        if name is None or name not in own:
            raise ReleasedWeightsError(f"{source}: tensor {key} {tuple(tensor.shape)} maps to no tensor of our OWAN "
                               f"(groups {cfg.groups}, layers {cfg.layers}, channels {cfg.channels})")
        if tuple(own[name].shape) != tuple(tensor.shape):
            raise ReleasedWeightsError(f"{source}: tensor {key} has shape {tuple(tensor.shape)}, our {name} "
                               f"{tuple(own[name].shape)}")
        out[name] = tensor.detach().to(own[name].dtype).clone()
    missing = [k for k in own if k not in out]
    if missing:
        raise ReleasedWeightsError(f"{source}: no tensor for our {', '.join(missing[:4])}"
                           + (f" ({len(missing)} in all)" if len(missing) > 4 else ""))
    return cfg, out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_released(path: Path, cfg: Optional[OWANConfig] = None, pin: str = "") -> tuple[OWANConfig, dict, dict]:
    """``(config, our state_dict, provenance)`` of the released file ``path`` (``pin``: its expected SHA-256)."""
    path = Path(path)
    if not path.is_file():
        raise ReleasedWeightsError(f"{path}: released weights not found (OWAN's {SOURCE})")
    digest = sha256(path)
    if pin and digest != pin.lower():
        raise ReleasedWeightsError(f"{path}: SHA-256 {digest}, expected {pin} (a different file than the one pinned)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, or one that needs pickled code
        raise ReleasedWeightsError(f"{path}: not a readable weights-only torch file "
                                   f"({type(exc).__name__}: {exc})") from exc
    cfg, state = convert(raw, str(path), cfg)
    return cfg, state, {"source": SOURCE, "file": str(path), "sha256": digest, "tensors": len(state)}


def checkpoint_state(run: str, cfg: OWANConfig, state: dict, provenance: dict) -> dict:
    """What :func:`fdr.train.checkpoint.save` writes for an imported model (no optimiser, iteration 0)."""
    return {"run": run, "model_name": "owan", "model_cfg": to_dict(cfg), "model": state, "iteration": 0,
            "imported": provenance}
