"""FDR-Net, its Table 5-6 variants and the baselines: shapes, parameter counts, dtypes, training."""
import dataclasses
import json

import pytest
import torch

from fdr import config
from fdr.config import ConfigError, DnCNNConfig, ModelConfig, OWANConfig
from fdr.models import build, count_parameters, paper_variants
from fdr.models.gdn import GDN
from fdr.train.losses import fdr_loss

SMALL = ModelConfig(channels=8, phases=2, pm_blocks=1, aux_blocks=1)
SMALL_DNCNN, SMALL_OWAN = DnCNNConfig(depth=5, channels=8), OWANConfig(groups=1, layers=2, channels=8)
SMALL_VARIANTS = {
    "fdrnet": ("fdrnet", SMALL),
    "nofdm": ("fdrnet", dataclasses.replace(SMALL, use_fdm=False)),
    "noaux": ("fdrnet", dataclasses.replace(SMALL, use_aux=False)),
    "dncnn": ("dncnn", SMALL_DNCNN),
    "owan": ("owan", SMALL_OWAN),
}


def _params(key: str) -> int:
    name, cfg = paper_variants()[key]
    with torch.device("meta"):
        return count_parameters(build(name, cfg))


@pytest.mark.parametrize("key, paper", [("fdrnet", 1.66e6), ("nofdm", 1.62e6), ("noaux", 1.21e6)])
def test_table5_parameter_counts(key, paper):
    assert abs(_params(key) / paper - 1) <= 0.03


def test_owan_matches_released_count():
    assert abs(_params("owan") / 391_456 - 1) <= 0.01
    assert _params("owan") == 391_456  # layer-for-layer rebuild of the released model


def test_table6_trend_and_defaults():
    fl = [_params(f"fl{n}") for n in range(1, 6)]
    ch = [_params(f"ch{c}") for c in (16, 32, 48, 64)]
    assert fl == sorted(fl) and len(set(fl)) == 5
    assert ch == sorted(ch) and len(set(ch)) == 4
    assert _params("fl3") == _params("ch32") == _params("fdrnet")
    assert _params("dncnn") == 558_400  # 17 layers, 64 channels, BN
    assert paper_variants()["fdrnet"][1] == ModelConfig()  # the defaults are the paper's model


@pytest.mark.parametrize("key", sorted(SMALL_VARIANTS))
@pytest.mark.parametrize("shape", [(2, 3, 17, 23), (1, 3, 63, 63), (1, 3, 9, 30)])
def test_output_shape_any_size(key, shape):
    name, cfg = SMALL_VARIANTS[key]
    model = build(name, cfg, seed=0).eval()
    x = torch.rand(shape)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_paper_model_runs_on_a_63_patch():
    name, cfg = paper_variants()["fdrnet"]
    model = build(name, cfg, seed=0).eval()
    with torch.no_grad():
        y, feats = model(torch.rand(1, 3, 63, 63), return_features=True)
    assert y.shape == (1, 3, 63, 63)
    assert len(feats["fdm_in"]) == len(feats["fdm_out"]) == cfg.phases
    assert all(f.shape == (1, cfg.channels, 63, 63) for f in feats["fdm_out"])


def test_features_are_the_fdm_boundaries():
    model = build("fdrnet", SMALL, seed=0).eval()
    seen = {"in": [], "out": []}
    for phase in model.phases:
        phase.fdm.layers[0].register_forward_hook(lambda m, i, o: seen["in"].append(i[0]))
        phase.fdm.layers[-1].register_forward_hook(lambda m, i, o: seen["out"].append(o))
    with torch.no_grad():
        _, feats = model(torch.rand(2, 3, 12, 14), return_features=True)
    for key in ("in", "out"):
        assert len(feats[f"fdm_{key}"]) == SMALL.phases
        for got, want in zip(feats[f"fdm_{key}"], seen[key]):
            assert torch.equal(got, want)


def test_features_of_variants_without_fdm_and_baselines():
    x = torch.rand(1, 3, 10, 10)
    with torch.no_grad():
        _, feats = build("fdrnet", dataclasses.replace(SMALL, use_fdm=False))(x, return_features=True)
        assert feats == {"fdm_in": [], "fdm_out": []}
        for name, cfg in (("dncnn", SMALL_DNCNN), ("owan", SMALL_OWAN)):
            y, feats = build(name, cfg)(x, return_features=True)
            assert feats == {} and y.shape == x.shape


def test_seeded_init_is_deterministic_and_leaves_global_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build("fdrnet", SMALL, seed=5).state_dict()
    b = build("fdrnet", SMALL, seed=5).state_dict()
    c = build("fdrnet", SMALL, seed=6).state_dict()
    assert torch.equal(torch.rand(1), before)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("key", sorted(SMALL_VARIANTS))
def test_bf16_autocast_and_channels_last_match_float32(key):
    name, cfg = SMALL_VARIANTS[key]
    model = build(name, cfg, seed=1).eval()
    x = torch.rand(2, 3, 21, 19, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
        cl_model = build(name, cfg, seed=1).eval().to(memory_format=torch.channels_last)
        cl = cl_model(x.contiguous(memory_format=torch.channels_last))
    assert torch.isfinite(low).all()
    assert (low.float() - ref).abs().max() < 0.05
    assert torch.allclose(cl, ref, atol=1e-5)


@pytest.mark.parametrize("key", sorted(SMALL_VARIANTS))
def test_a_few_training_steps_reduce_the_loss(key):
    name, cfg = SMALL_VARIANTS[key]
    model = build(name, cfg, seed=0)
    g = torch.Generator().manual_seed(0)
    target = torch.rand(4, 3, 24, 24, generator=g)
    x = (target + 0.1 * torch.randn(4, 3, 24, 24, generator=g)).clamp(0, 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(12):
        y, feats = model(x, return_features=True)
        loss, parts = fdr_loss(y, target, feats, beta=1e-5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(parts["l1"]))
    assert all(torch.isfinite(torch.tensor(losses)))
    assert min(losses[-3:]) < losses[0]


def test_gdn_initial_values_and_equation():
    gdn = GDN(4)
    assert torch.allclose(gdn.beta_param(gdn.beta), torch.ones(4))
    assert torch.allclose(gdn.gamma_param(gdn.gamma), 0.1 * torch.eye(4))
    x = torch.randn(2, 4, 5, 6)
    expected = x / torch.sqrt(1 + 0.1 * x**2)  # Eq. 4 at init: w = 0.1 I, b = 1
    assert torch.allclose(gdn(x), expected, atol=1e-6)
    inv = GDN(4, inverse=True)
    assert torch.allclose(inv(x), x * torch.sqrt(1 + 0.1 * x**2), atol=1e-5)  # Eq. 7


def test_gdn_parameters_stay_non_negative_and_can_leave_the_bound():
    gdn = GDN(3)
    with torch.no_grad():
        gdn.beta.fill_(-1.0)
        gdn.gamma.fill_(-1.0)
    assert (gdn.beta_param(gdn.beta) >= 1e-6 - 1e-12).all()
    assert (gdn.gamma_param(gdn.gamma) >= 0).all()
    x = torch.rand(1, 3, 4, 4) + 0.5  # positive, so the sign of each gradient is known
    gdn(x).sum().neg().backward()  # descent wants a smaller denominator: pushes below the bound
    assert torch.all(gdn.beta.grad == 0) and torch.all(gdn.gamma.grad == 0)  # blocked
    gdn.zero_grad()
    gdn(x).sum().backward()  # descent wants a larger denominator: passes
    assert torch.all(gdn.beta.grad < 0) and torch.all(gdn.gamma.grad < 0)


def test_gdn_keeps_dtype_and_memory_format():
    gdn = GDN(4)
    x = torch.randn(1, 4, 6, 6, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
    y = gdn(x)
    assert y.dtype == torch.bfloat16 and torch.isfinite(y.float()).all()


@pytest.mark.parametrize("section, key, value", [
    ("model", "pm_blocks", -1), ("model", "aux_blocks", 0), ("model", "phases", 0), ("model", "ca_reduction", 0),
    ("baselines.dncnn", "depth", 1), ("baselines.owan", "groups", 0), ("baselines.owan", "channels", 0)])
def test_model_config_errors_name_the_key(section, key, value):
    tree: dict = {key: value}
    for part in reversed(section.split(".")):
        tree = {part: tree}
    with pytest.raises(ConfigError) as err:
        config.from_dict(tree)
    assert str(err.value).startswith(f"{section}.{key}:")


def test_build_rejects_unknown_name():
    with pytest.raises(ValueError, match="model name"):
        build("unet", SMALL)


def test_info_command(tmp_path, capsys):
    from fdr.cli import main

    params = tmp_path / "params.yaml"
    params.write_text("model:\n  channels: 16\n  phases: 2\nruns:\n  fdrnet: {paper: table1.fdrnet}\n")
    assert main(["info", "--json", "--params", str(params)]) == 0
    data = json.loads(capsys.readouterr().out)
    paper = {row["key"]: row for row in data["paper"]}
    assert set(paper) == set(paper_variants())
    assert paper["owan"]["params"] == 391_456
    assert paper["dncnn"]["gflops"] == pytest.approx(2 * 558_400 * 63 * 63 / 1e9, rel=0.01)
    assert paper["ch64"]["gflops"] > paper["ch32"]["gflops"] > paper["ch16"]["gflops"] > 0
    current = {row["key"]: row for row in data["current"]["variants"]}
    assert current["fdrnet"]["config"]["channels"] == 16 and current["fdrnet"]["params"] < paper["fdrnet"]["params"]
    assert main(["info", "--params", str(tmp_path / "missing.yaml")]) == 2
