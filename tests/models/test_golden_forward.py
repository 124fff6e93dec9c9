"""Golden forward tests: every model, with seeded (and deliberately non-trivial) weights, against an
independent re-statement of its equations written here with ``torch.nn.functional``.

The references read the weights from ``state_dict()`` by name and never call a module's forward.
Everything runs in float64; FDR-Net's GDN computes its pool in float32 by design (see
``fdr/models/gdn.py``), so tests that pass through a GDN compare at float32 accuracy (``GDN_TOL``),
the others at 1e-10. The structural bugs these tests guard against change outputs by far more.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from fdr.config import DnCNNConfig, ModelConfig, OWANConfig
from fdr.models import build

TIGHT = dict(rtol=1e-10, atol=1e-10)
GDN_TOL = dict(rtol=1e-5, atol=1e-6)  # GDN pool in float32 (documented); float64 elsewhere
PEDESTAL = (2.0**-18) ** 2  # NonNegative offset**2
BETA_MIN = 1e-6

FDR = ModelConfig(channels=6, n_flayers=3, phases=2, pm_blocks=1, aux_blocks=1, ca_reduction=2)


# ------------------------------------------------------------------------------------------ fixtures


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randomise_gdn(model: torch.nn.Module, seed: int) -> None:
    """Raw GDN parameters -> random positive values (non-symmetric w, unequal b), plus one raw gamma
    entry per GDN below the bound (its effective weight must be clamped to 0)."""
    g = _gen(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gdn.gamma") or name.endswith("igdn.gamma"):
                p.copy_(0.2 + 0.5 * torch.rand(p.shape, generator=g, dtype=p.dtype))
                p[0, 1] = -0.3
            elif name.endswith("gdn.beta") or name.endswith("igdn.beta"):
                p.copy_(0.8 + 0.6 * torch.rand(p.shape, generator=g, dtype=p.dtype))


def _fdrnet(cfg: ModelConfig = FDR, seed: int = 11):
    model = build("fdrnet", cfg, seed=seed).double().eval()
    _randomise_gdn(model, seed + 1)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return model, sd


def _image(shape=(2, 3, 9, 12), seed: int = 5) -> torch.Tensor:
    return torch.rand(shape, generator=_gen(seed), dtype=torch.float64)


def _features(c: int, seed: int, shape=(2, 9, 12)) -> torch.Tensor:
    return torch.randn((shape[0], c) + shape[1:], generator=_gen(seed), dtype=torch.float64)


# ------------------------------------------------------------------- FDR-Net reference (paper §3)


def conv(sd, name, x, dilation=1, groups=1):
    """'Same' zero-padded convolution with the stored weight (and bias, if any) of ``name``."""
    w = sd[f"{name}.weight"]
    pad = dilation * (w.shape[-1] // 2)
    return F.conv2d(x, w, sd.get(f"{name}.bias"), padding=pad, dilation=dilation, groups=groups)


def nonneg(p, minimum=0.0):
    """Effective value of a NonNegative-stored parameter: max(p, sqrt(min + ped))^2 - ped."""
    return torch.clamp_min(p, (minimum + PEDESTAL) ** 0.5) ** 2 - PEDESTAL


def gdn_pool(sd, name, s):
    """sum_j w[i, j] * s_j^2 + b_i (Eq. 4 / 7 denominator), w and b from the stored parameters."""
    w, b = nonneg(sd[f"{name}.gamma"]), nonneg(sd[f"{name}.beta"], BETA_MIN)
    return torch.einsum("ij,bjhw->bihw", w, s * s) + b[None, :, None, None]


def res_block(sd, name, x, convs=2):
    """x + conv(relu(conv(x))), or x + relu(conv(x)) for the one-conv block."""
    h = F.relu(conv(sd, f"{name}.body.0", x))
    return x + (conv(sd, f"{name}.body.2", h) if convs == 2 else h)


def channel_attention(sd, name, x):
    """CA: x * sigmoid(conv1x1(relu(conv1x1(mean_hw(x)))))."""
    z = x.mean(dim=(2, 3), keepdim=True)
    z = F.relu(conv(sd, f"{name}.gate.1", z))
    return x * torch.sigmoid(conv(sd, f"{name}.gate.3", z))


def fd_layer(sd, name, f_in):
    """Eq. 3: S = conv(F_in); Eq. 4: D_i = S_i / sqrt(sum_j w_ji S_j^2 + b_i)."""
    s = conv(sd, f"{name}.conv", f_in)
    return s / torch.sqrt(gdn_pool(sd, f"{name}.gdn", s))


def fa_layer(sd, name, d, pm_blocks):
    """Eq. 6: F_p = CA(PM(D)); Eq. 7: F_c,i = F_p,i * sqrt(sum_j w_ji F_p,j^2 + b_i)."""
    for k in range(pm_blocks):
        d = res_block(sd, f"{name}.process.{k}", d)
    fp = channel_attention(sd, f"{name}.attention", d)
    return fp * torch.sqrt(gdn_pool(sd, f"{name}.igdn", fp))


def phase(sd, name, cfg, x, res):
    """Fig. 5 / §3.5: lower = FAM(FDM(x)) with mirror skips (or plain ResBlocks without the FDM),
    upper = aux ResBlocks, fusion = conv(CA(cat)), dual residual res = relu(T1(f) + res), x = T2(res) + x.
    Returns (x, res, fdm_in, fdm_out)."""
    n, fdm_in, fdm_out = cfg.n_flayers, None, None
    if cfg.use_fdm:
        d = [x]
        for i in range(n):
            d.append(fd_layer(sd, f"{name}.fdm.layers.{i}", d[-1]))
        fdm_in, fdm_out = x, d[n]
        h = d[n]  # FA-layer 1 reads D_n; FA-layer j reads its predecessor + D_{n+1-j}
        for j in range(n):
            h = fa_layer(sd, f"{name}.fam.layers.{j}", h if j == 0 else h + d[n - j], cfg.pm_blocks)
        lower = h
    else:
        lower = x
        for k in range(n):
            lower = res_block(sd, f"{name}.lower.{k}", lower, convs=1)
        for k in range(n, n + n * cfg.pm_blocks):
            lower = res_block(sd, f"{name}.lower.{k}", lower)
    branches = [lower]
    if cfg.use_aux:
        upper = x
        for k in range(cfg.aux_blocks):
            upper = res_block(sd, f"{name}.aux.{k}", upper)
        branches.append(upper)
    f = conv(sd, f"{name}.fusion.conv", channel_attention(sd, f"{name}.fusion.attention", torch.cat(branches, 1)))
    durn_p = cfg.phase == "durn_p"  # DuRN-P's DuRB_p: relu(body + x) before T1, relu after T2
    if durn_p:
        f = F.relu(f + x)
    res = F.relu(conv(sd, f"{name}.t1", f) + res)
    out = conv(sd, f"{name}.t2", res) + x
    return (F.relu(out) if durn_p else out), res, fdm_in, fdm_out


def fdrnet(sd, cfg, img):
    """head conv, phases (x, res start at the head output), tail conv, global residual y = img + tail(x)."""
    x = res = conv(sd, "head", img)
    fdm_in, fdm_out = [], []
    for p in range(cfg.phases):
        x, res, fi, fo = phase(sd, f"phases.{p}", cfg, x, res)
        if cfg.use_fdm:
            fdm_in.append(fi)
            fdm_out.append(fo)
    return img + conv(sd, "tail", x), {"fdm_in": fdm_in, "fdm_out": fdm_out}


# --------------------------------------------------------------------------------- FDR-Net tests


def test_fixture_gdn_weights_are_not_symmetric_and_b_not_constant():
    _, sd = _fdrnet()
    for name in ("phases.0.fdm.layers.0.gdn", "phases.1.fam.layers.2.igdn"):
        w, b = nonneg(sd[f"{name}.gamma"]), nonneg(sd[f"{name}.beta"], BETA_MIN)
        assert (w - w.t()).abs().max() > 0.1 and b.std() > 0.05 and w[0, 1] == 0


def test_fd_layer_eq3_eq4():
    model, sd = _fdrnet()
    x = _features(FDR.channels, seed=1)
    with torch.no_grad():
        got = model.phases[1].fdm.layers[2](x)
    assert_close(got, fd_layer(sd, "phases.1.fdm.layers.2", x), **GDN_TOL)


def test_fa_layer_eq6_eq7():
    model, sd = _fdrnet()
    d = _features(FDR.channels, seed=2)
    with torch.no_grad():
        got = model.phases[0].fam.layers[1](d)
    assert_close(got, fa_layer(sd, "phases.0.fam.layers.1", d, FDR.pm_blocks), **GDN_TOL)


def test_phase_dual_residual_with_mirror_skips():
    model, sd = _fdrnet()
    x, res = _features(FDR.channels, seed=3), _features(FDR.channels, seed=4)
    with torch.no_grad():
        got_x, got_res = model.phases[1](x, res)
    want_x, want_res, _, _ = phase(sd, "phases.1", FDR, x, res)
    assert_close(got_res, want_res, **GDN_TOL)
    assert_close(got_x, want_x, **GDN_TOL)


def test_durn_p_phase_joins_like_duRB_p_and_plain_does_not():
    model, sd = _fdrnet(dataclasses.replace(FDR, phase="durn_p"))
    x, res = _features(FDR.channels, seed=3), _features(FDR.channels, seed=4)
    with torch.no_grad():
        got_x, got_res = model.phases[0](x, res)
        plain_x, plain_res = _fdrnet(FDR)[0].phases[0](x, res)  # the same seeded weights, plain joins
    want_x, want_res, _, _ = phase(sd, "phases.0", dataclasses.replace(FDR, phase="durn_p"), x, res)
    assert_close(got_res, want_res, **GDN_TOL)
    assert_close(got_x, want_x, **GDN_TOL)
    assert got_x.min() >= 0 and plain_x.min() < 0  # the ReLU after T2
    assert (got_res - plain_res).abs().max() > 1e-3  # the inner relu(body + x) reaches T1


VARIANTS = {
    "fdrnet": FDR,
    "fdrnet_2fl": dataclasses.replace(FDR, channels=4, n_flayers=2, pm_blocks=2, aux_blocks=2),
    "nofdm": dataclasses.replace(FDR, use_fdm=False),
    "noaux": dataclasses.replace(FDR, use_aux=False),
    "durn_p": dataclasses.replace(FDR, phase="durn_p"),
    "durn_p_noaux": dataclasses.replace(FDR, phase="durn_p", use_aux=False),
}


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_fdrnet_whole_network_and_features(key):
    cfg = VARIANTS[key]
    model, sd = _fdrnet(cfg)
    img = _image()
    with torch.no_grad():
        y, feats = model(img, return_features=True)
        y_plain = model(img)
    want_y, want_feats = fdrnet(sd, cfg, img)
    tol = GDN_TOL if cfg.use_fdm else TIGHT
    assert_close(y, want_y, **tol)
    assert_close(y_plain, want_y, **tol)
    assert set(feats) == {"fdm_in", "fdm_out"}
    for k in ("fdm_in", "fdm_out"):
        assert len(feats[k]) == (cfg.phases if cfg.use_fdm else 0)
        for got, want in zip(feats[k], want_feats[k]):
            assert_close(got, want, **tol)


# ------------------------------------------------------------------------------------------- DnCNN


def dncnn(sd, depth, x, eps=1e-5):
    """conv+ReLU, (depth-2) x (conv, eval batch norm (x-mean)/sqrt(var+eps)*g+b, ReLU), conv; y = x - body."""
    h = F.relu(conv(sd, "body.0", x))
    for m in range(depth - 2):
        h = conv(sd, f"body.{2 + 3 * m}", h)
        bn = f"body.{3 + 3 * m}"
        scale = sd[f"{bn}.weight"] / torch.sqrt(sd[f"{bn}.running_var"] + eps)
        h = F.relu((h - sd[f"{bn}.running_mean"][:, None, None]) * scale[:, None, None] + sd[f"{bn}.bias"][:, None, None])
    return x - conv(sd, f"body.{3 * (depth - 2) + 2}", h)


def test_dncnn_eval_with_batch_norm_statistics():
    cfg = DnCNNConfig(depth=5, channels=6)
    model = build("dncnn", cfg, seed=3).double().eval()
    g = _gen(4)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                c = mod.num_features
                mod.running_mean.copy_(0.3 * torch.randn(c, generator=g, dtype=torch.float64))
                mod.running_var.copy_(0.5 + torch.rand(c, generator=g, dtype=torch.float64))
                mod.weight.copy_(0.5 + torch.rand(c, generator=g, dtype=torch.float64))
                mod.bias.copy_(0.2 * torch.randn(c, generator=g, dtype=torch.float64))
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    img = _image(seed=6)
    with torch.no_grad():
        y, feats = model(img, return_features=True)
    assert feats == {}
    assert_close(y, dncnn(sd, cfg.depth, img), **TIGHT)
    assert_close(model(img), y, **TIGHT)


# -------------------------------------------------------------------------------------------- OWAN


def avg_pool3(x):
    """3x3 stride-1 mean over the in-image neighbours only (count_include_pad=False)."""
    ones = torch.ones_like(x[:, :1])
    box = torch.ones(1, 1, 3, 3, dtype=x.dtype)
    c = x.shape[1]
    sums = F.conv2d(x, box.expand(c, 1, 3, 3), padding=1, groups=c)
    return sums / F.conv2d(ones, box, padding=1)


def owan_op(sd, name, k, x):
    """Operation k: separable conv 1/3/5/7 (dw, pw, relu, dw, pw), dilated(2) conv 3/5/7 (dw, pw), avg pool."""
    c = x.shape[1]
    if k < 4:
        h = F.relu(conv(sd, f"{name}.1", conv(sd, f"{name}.0", x, groups=c)))
        return conv(sd, f"{name}.4", conv(sd, f"{name}.3", h, groups=c))
    if k < 7:
        return conv(sd, f"{name}.1", conv(sd, f"{name}.0", x, dilation=2, groups=c))
    return avg_pool3(x)


def owan(sd, cfg, img):
    """feb (conv + 4 depthwise ResBlocks); per group: attention softmax over the 8 ops (per layer),
    1x1 conv + ReLU, layers x relu(relu(conv1x1(cat_k(w_k op_k(h)))) + h); output conv, no residual."""
    c = cfg.channels
    h = conv(sd, "feb.0", img)
    for r in range(1, 5):
        h = F.relu(h + conv(sd, f"feb.{r}.conv2", F.relu(conv(sd, f"feb.{r}.conv1", h, groups=c)), groups=c))
    for g in range(cfg.groups):
        a = F.linear(h.mean(dim=(2, 3)), sd[f"attention.{g}.fc.0.weight"], sd[f"attention.{g}.fc.0.bias"])
        a = F.linear(F.relu(a), sd[f"attention.{g}.fc.2.weight"], sd[f"attention.{g}.fc.2.bias"])
        a = a.view(-1, cfg.layers, 8)
        att = torch.exp(a) / torch.exp(a).sum(dim=2, keepdim=True)  # softmax over the operations
        h = F.relu(conv(sd, f"groups.{g}.pre.0", h))
        for i in range(cfg.layers):
            name = f"groups.{g}.ops.{i}"
            states = [owan_op(sd, f"{name}.ops.{k}", k, h) * att[:, i, k, None, None, None] for k in range(8)]
            h = F.relu(F.relu(conv(sd, f"{name}.out.0", torch.cat(states, 1))) + h)
    return conv(sd, "out", h)


@pytest.mark.parametrize("groups", [1, 2])
def test_owan_released_architecture(groups):
    cfg = OWANConfig(groups=groups, layers=2, channels=4)
    model = build("owan", cfg, seed=7 + groups).double().eval()
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    img = _image(shape=(2, 3, 10, 11), seed=8)
    with torch.no_grad():
        y, feats = model(img, return_features=True)
    assert feats == {}
    assert_close(y, owan(sd, cfg, img), **TIGHT)
