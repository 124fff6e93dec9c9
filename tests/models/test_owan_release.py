"""Importing OWAN's released weights (fdr.models.owan_release, fdr.train.imported, ``python -m fdr import-weights``).

The released file is a state_dict of the authors' ``model.py`` / ``operations.py`` (``sg-nm/Operation-wise-attention-
network``). :func:`released_skeleton` rebuilds *their* module tree from their module names, without any forward
code, so that its ``state_dict()`` has exactly their key layout:

    Network.FEB = Sequential(Conv2d, ResBlock(conv1, conv2) x 4)
    Network.layers = ModuleList([OALayer, GroupOLs] x layer_num)      (interleaved)
    OALayer.ca_fc = Sequential(Linear, ReLU, Linear)
    GroupOLs.preprocess = ReLUConv(op = Sequential(Conv2d, ReLU)); GroupOLs._ops = ModuleList(OperationLayer x steps)
    OperationLayer._ops = ModuleList(SepConv 1/3/5/7, DilConv 3/5/7, AvgPool2d); OperationLayer._out = Sequential(Conv2d, ReLU)
    SepConv.op = Sequential(dw, pw, ReLU, dw, pw); DilConv.op = Sequential(dw dilated, pw)
    Network.conv2 = Conv2d(C, 3)
"""
from __future__ import annotations

import json

import pytest
import torch
import yaml
from torch import nn

from fdr.config import OWANConfig
from fdr.models import build, count_parameters
from fdr.models.owan_release import ReleasedWeightsError, convert, our_name
from fdr.train import checkpoint as ckpt
from fdr.train.imported import import_weights


def _named(**children) -> nn.Module:
    m = nn.Module()
    for k, v in children.items():
        setattr(m, k, v)
    return m


def _sep(c, k):
    return _named(op=nn.Sequential(nn.Conv2d(c, c, k, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False), nn.ReLU(),
                                   nn.Conv2d(c, c, k, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False)))


def _dil(c, k):
    return _named(op=nn.Sequential(nn.Conv2d(c, c, k, dilation=2, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False)))


def _operation_layer(c):
    ops = [_sep(c, k) for k in (1, 3, 5, 7)] + [_dil(c, k) for k in (3, 5, 7)] + [nn.AvgPool2d(3, 1, 1)]
    return _named(_ops=nn.ModuleList(ops), _out=nn.Sequential(nn.Conv2d(8 * c, c, 1, bias=False), nn.ReLU()))


def released_skeleton(c=16, layer_num=10, steps=4, seed=0) -> nn.Module:
    """The authors' Network(C, layer_num, steps) as a module tree (names only, seeded weights)."""
    torch.manual_seed(seed)
    feb = nn.Sequential(nn.Conv2d(3, c, 3, bias=False), *[
        _named(conv1=nn.Conv2d(c, c, 3, groups=c, bias=False), conv2=nn.Conv2d(c, c, 3, groups=c, bias=False))
        for _ in range(4)])
    layers = []
    for _ in range(layer_num):
        layers.append(_named(ca_fc=nn.Sequential(nn.Linear(c, 2 * steps * 8), nn.ReLU(), nn.Linear(2 * steps * 8, steps * 8))))
        layers.append(_named(preprocess=_named(op=nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.ReLU())),
                             _ops=nn.ModuleList(_operation_layer(c) for _ in range(steps))))
    return _named(FEB=feb, layers=nn.ModuleList(layers), conv2=nn.Conv2d(c, 3, 3, bias=False))


def test_the_released_layout_maps_tensor_for_tensor_onto_our_owan():
    theirs = released_skeleton()
    state = theirs.state_dict()
    cfg, ours = convert(state, "skeleton")
    assert cfg == OWANConfig(groups=10, layers=4, channels=16)
    assert len(state) == len(ours) == 980 and sum(v.numel() for v in ours.values()) == 391_456
    model = build("owan", cfg)
    model.load_state_dict(ours)  # strict: every tensor of ours was filled
    assert count_parameters(model) == 391_456
    # the same modules, reached through each tree by meaning
    pairs = [(theirs.FEB[2].conv1, model.feb[2].conv1), (theirs.layers[6].ca_fc[2], model.attention[3].fc[2]),
             (theirs.layers[7].preprocess.op[0], model.groups[3].pre[0]),
             (theirs.layers[19]._ops[3]._ops[2].op[3], model.groups[9].ops[3].ops[2][3]),
             (theirs.layers[1]._ops[0]._ops[6].op[0], model.groups[0].ops[0].ops[6][0]),
             (theirs.layers[5]._ops[2]._out[0], model.groups[2].ops[2].out[0]), (theirs.conv2, model.out)]
    for a, b in pairs:
        assert torch.equal(a.weight, b.weight)
    assert torch.equal(theirs.layers[6].ca_fc[2].bias, model.attention[3].fc[2].bias)


def test_a_smaller_release_and_data_parallel_prefixes_are_read_from_the_shapes():
    state = {f"module.{k}": v for k, v in released_skeleton(c=8, layer_num=2, steps=3).state_dict().items()}
    cfg, ours = convert(state, "skeleton")
    assert cfg == OWANConfig(groups=2, layers=3, channels=8)
    build("owan", cfg).load_state_dict(ours)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update({"layers.3.extra.weight": torch.zeros(2)}), r"layers.3.extra.weight \(2,\) maps to no tensor"),
    (lambda s: s.update({"layers.1.ca_fc.0.bias": torch.zeros(64)}), r"layers.1.ca_fc.0.bias \(64,\) maps to no"),
    (lambda s: s.update({"conv2.weight": torch.zeros(3, 16, 5, 5)}), r"conv2.weight has shape \(3, 16, 5, 5\), our out"),
    (lambda s: s.pop("layers.5.preprocess.op.0.weight"),
     r"no tensor for our groups.2.pre.0.weight"),
    (lambda s: s.update({"meta": "x"}), "entry 'meta' is not a tensor"),
    (lambda s: s.update({"layers.13._ops.2._ops.7.op.0.weight": torch.zeros(1)}),  # the average pool has no weights
     r"layers.13._ops.2._ops.7.op.0.weight \(1,\) maps to no tensor"),
])
def test_any_tensor_that_does_not_map_is_refused_by_name(change, message):
    state = dict(released_skeleton().state_dict())
    change(state)
    with pytest.raises(ReleasedWeightsError, match=message):
        convert(state, "model_best.pth")


def test_names_follow_the_interleaved_layers_list():
    assert our_name("layers.0.ca_fc.0.weight") == "attention.0.fc.0.weight"
    assert our_name("layers.13._ops.2._ops.4.op.1.weight") == "groups.6.ops.2.ops.4.1.weight"
    assert our_name("layers.2.preprocess.op.0.weight") is None  # a group module at an attention position
    assert our_name("FEB.4.conv2.weight") == "feb.4.conv2.weight" and our_name("conv2.weight") == "out.weight"


def test_import_writes_our_checkpoint_and_checks_the_pin(tmp_path):
    theirs = released_skeleton(seed=1)
    path = tmp_path / "model_best.pth"
    torch.save(theirs.state_dict(), path)
    out = tmp_path / "models" / "owan_released" / "checkpoint.pt"
    summary = import_weights(path, out, "owan_released")
    model, meta = ckpt.load_model(out)
    assert meta["model_name"] == "owan" and meta["iteration"] == 0 and summary["params"] == 391_456
    assert meta["imported"]["tensors"] == 980 and len(meta["imported"]["sha256"]) == 64
    assert torch.equal(model.groups[9].ops[3].ops[2][3].weight, theirs.layers[19]._ops[3]._ops[2].op[3].weight)
    with pytest.raises(ReleasedWeightsError, match="SHA-256 .* expected 0000"):
        import_weights(path, out, "owan_released", pin="0" * 64)
    with pytest.raises(ReleasedWeightsError, match="maps to no tensor of our OWAN \\(groups 2"):
        import_weights(path, out, "owan_released", cfg=OWANConfig(groups=2))  # the row's architecture must fit
    torch.save({"net": theirs}, tmp_path / "pickled.pth")  # a module, not a state_dict: refused unread
    with pytest.raises(ReleasedWeightsError, match="not a readable weights-only torch file"):
        import_weights(tmp_path / "pickled.pth", out, "x")


def test_command_line(tmp_path, capsys):
    from fdr.cli import main

    torch.save(released_skeleton(c=8, layer_num=2).state_dict(), tmp_path / "m.pth")
    out = tmp_path / "owan_released" / "checkpoint.pt"
    assert main(["import-weights", "owan", str(tmp_path / "m.pth"), "-o", str(out)]) == 0
    assert "32,240 parameters from 204 tensors" in capsys.readouterr().out
    assert ckpt.load_model(out)[1]["run"] == "owan_released"
    assert main(["import-weights", "owan", str(tmp_path / "missing.pth"), "-o", str(out)]) == 2
    assert "missing.pth: released weights not found" in capsys.readouterr().err


def test_a_row_with_weights_is_imported_by_its_train_stage_and_shown_beside_the_trained_row(tmp_path):
    from fdr import config
    from fdr.config import ConfigError
    from fdr.report import document as report
    from stages.train import main as train_main
    from tests.helpers import metrics_for, write_workspace

    torch.save(released_skeleton(c=8, layer_num=2).state_dict(), tmp_path / "m.pth")
    row = {"model": "baselines.owan", "paper": "table1.owan", "weights": str(tmp_path / "m.pth")}
    tree = {"baselines": {"owan": {"groups": 2, "layers": 4, "channels": 8}},
            "runs": {"owan": {"model": "baselines.owan", "paper": "table1.owan"}, "owan_released": row}}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tree))
    assert train_main(["owan_released", "--params", str(params), "--models", str(tmp_path / "models")]) == 0
    summary = json.loads((tmp_path / "models" / "owan_released" / "summary.json").read_text())
    assert summary["iterations"] == 0 and summary["imported"]["tensors"] == 204
    cfg = config.load(params)
    assert config.runs.answers(cfg)[("table1", "owan")] == "owan"  # the trained row still answers OWAN's
    for bad, message in (({"model": "model"}, "only on an OWAN row"), ({"training": {"lr": 1.0}}, "trains nothing"),
                         ({"weights_sha256": "abc"}, "64 lower-case hex")):
        tree["runs"]["owan_released"] = {**row, **bad}
        with pytest.raises(ConfigError, match=message):
            config.from_dict(tree)
    # the report: the released model's row beside the trained one, against OWAN's published numbers
    root = tmp_path / "ws"
    write_workspace(root, {"owan": metrics_for(26.0), "owan_released": metrics_for(27.0)},
                    params={"runs": {"owan": tree["runs"]["owan"], "owan_released": row}, "ablations": {}})
    t1 = report.render(report.collect(root, count_paper_params=False))
    t1 = t1[t1.index("## Table 1"):t1.index("## Table 2")]
    line = next(x for x in t1.splitlines() if "released weights" in x)
    assert line.startswith("| OP-Attention [28], released weights (`owan_released`) | 28.33 / 28.00 (-0.33)")
