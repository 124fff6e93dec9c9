"""SVDO (Eq. 5) and the FDR-Net loss (Eq. 8)."""
import numpy as np
import pytest
import torch

from fdr.train.losses import fdr_loss, svdo


def _orthogonal_equal_energy(b=2, c=4, h=4, w=4):
    """Channels with disjoint supports and equal energy: F F^T = k I."""
    f = torch.zeros(b, c, h * w)
    for i in range(c):
        f[:, i, i::c] = 0.7
    return f.reshape(b, c, h, w)


def test_svdo_is_zero_for_orthogonal_equal_energy_channels():
    assert float(svdo(_orthogonal_equal_energy())) == pytest.approx(0.0, abs=1e-8)
    q, _ = torch.linalg.qr(torch.randn(36, 6, dtype=torch.float64))  # orthonormal columns
    f = (3.0 * q.T).float().reshape(1, 6, 6, 6)
    assert float(svdo(f)) == pytest.approx(0.0, abs=1e-6)


def test_svdo_is_positive_for_correlated_channels():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(1, 1, 5, 7, generator=g)
    f = base.repeat(1, 3, 1, 1)  # identical channels: rank-1 Gram, lambda_max = 3 |f|^2, lambda_min = 0
    expected = float((3 * base.pow(2).sum()) ** 2)
    assert float(svdo(f)) == pytest.approx(expected, rel=1e-4)
    mixed = _orthogonal_equal_energy() + 0.3 * torch.rand(2, 4, 4, 4, generator=g)
    assert float(svdo(mixed)) > 1e-3


def test_svdo_matches_numpy_reference_and_averages_over_batch():
    g = torch.Generator().manual_seed(1)
    f = torch.randn(3, 5, 6, 7, generator=g)
    per_sample = []
    for s in f.numpy().astype(np.float64):
        m = s.reshape(5, -1)
        eig = np.linalg.eigvalsh(m @ m.T)
        per_sample.append((eig[-1] - eig[0]) ** 2)
    assert float(svdo(f)) == pytest.approx(np.mean(per_sample), rel=1e-4)
    assert float(svdo(f[:1])) == pytest.approx(per_sample[0], rel=1e-4)
    assert float(svdo(f, "normalized")) == pytest.approx(np.mean(per_sample) / 42**2, rel=1e-4)


@pytest.mark.parametrize("fill", [0.0, 1.0, -2.5])
def test_svdo_gradient_is_finite_on_degenerate_features(fill):
    f = torch.full((2, 8, 9, 9), fill, requires_grad=True)
    loss = svdo(f)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(f.grad).all()


def test_svdo_rejects_wrong_rank_and_runs_under_autocast():
    with pytest.raises(ValueError, match="B x C x H x W"):
        svdo(torch.zeros(3, 4, 5))
    f = torch.randn(2, 4, 5, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = svdo(f.bfloat16())
    assert low.dtype == torch.float32 and torch.isfinite(low)


def test_fdr_loss_combines_l1_and_mean_svdo():
    g = torch.Generator().manual_seed(2)
    y, t = torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g)
    feats = {"fdm_out": [torch.randn(2, 4, 8, 8, generator=g) for _ in range(3)]}
    total, parts = fdr_loss(y, t, feats, beta=1e-3)
    reg = sum(float(svdo(f)) for f in feats["fdm_out"]) / 3
    assert float(parts["l1"]) == pytest.approx(float((y - t).abs().mean()), rel=1e-6)
    assert float(parts["svdo"]) == pytest.approx(reg, rel=1e-5)
    assert float(total) == pytest.approx(float(parts["l1"]) + 1e-3 * reg, rel=1e-5)


def test_fdr_loss_without_features_or_weight():
    y, t = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    total, parts = fdr_loss(y, t, {}, beta=1e-5)
    assert float(total) == 1.0 and float(parts["svdo"]) == 0.0
    total, parts = fdr_loss(y, t, None, beta=1e-5)
    assert float(total) == 1.0
    f = torch.randn(1, 4, 4, 4, requires_grad=True)
    total, parts = fdr_loss(y, t, {"fdm_out": [f]}, beta=0.0)
    assert float(total) == 1.0 and float(parts["svdo"]) > 0  # logged, not trained
    assert not total.requires_grad


def test_svdo_mean_is_one_solver_call_with_the_same_value_and_gradient(monkeypatch):
    from fdr.train.losses import svdo, svdo_mean

    torch.manual_seed(0)
    fs = [torch.randn(3, 8, 7, 7, requires_grad=True) for _ in range(4)]
    per_phase = torch.stack([svdo(f) for f in fs]).mean()
    calls = []
    real = torch.linalg.eigvalsh
    monkeypatch.setattr(torch.linalg, "eigvalsh", lambda a: calls.append(a.shape) or real(a))
    batched = svdo_mean(fs)
    assert calls == [(4, 3, 8, 8)]  # one call for the four phases
    torch.testing.assert_close(batched, per_phase)
    for a, b in zip(torch.autograd.grad(per_phase, fs), torch.autograd.grad(batched, fs)):
        torch.testing.assert_close(a, b)


def test_svdo_gradient_reaches_the_fd_convolutions_and_gdn_but_not_the_fam():
    """Eq. 5 acts on the FDM output: its gradient must reach every FD-layer's conv and GDN parameters (and the
    head that feeds them), and nothing after the FDM (a term computed without gradient would reach nothing)."""
    from fdr.config import ModelConfig
    from fdr.models import build

    model = build("fdrnet", ModelConfig(channels=6, n_flayers=2, phases=1, pm_blocks=1, aux_blocks=1), seed=0)
    x = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(3))
    y, feats = model(x, return_features=True)
    loss, parts = fdr_loss(y.detach(), x, feats, beta=1.0)  # the L1 part carries no gradient here
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    fd = [n for n in grads if ".fdm." in n]
    assert fd and all(grads[n] is not None and float(grads[n].abs().sum()) > 0 for n in fd), fd
    assert {n.rsplit(".", 1)[-1] for n in fd} >= {"weight", "bias", "beta", "gamma"}
    assert float(grads["head.weight"].abs().sum()) > 0
    after = [n for n in grads if ".fam." in n or n.startswith("tail.") or ".fusion." in n]
    assert after and all(grads[n] is None or float(grads[n].abs().sum()) == 0 for n in after)
    assert float(parts["svdo"]) > 0


def test_each_svdo_reading_on_hand_computed_matrices():
    """F (one sample, 2 channels, 2 pixels) = [[3, 0], [0, 1]]: F F^T = diag(9, 1), so lambda_max - lambda_min = 8;
    divided by H W = 2 for the normalized readings: 4."""
    f = torch.tensor([[3.0, 0.0], [0.0, 1.0]]).reshape(1, 2, 1, 2)
    expected = {"literal": 64.0, "unsquared": 8.0, "normalized": 16.0, "unsquared_normalized": 4.0}
    for reading, value in expected.items():
        assert float(svdo(f, reading)) == pytest.approx(value, rel=1e-6), reading
    g = torch.tensor([[1.0, 1.0], [1.0, -1.0]]).reshape(1, 2, 1, 2)  # orthogonal rows of equal norm: 0
    assert all(float(svdo(g, r)) == pytest.approx(0.0, abs=1e-6) for r in expected)
    with pytest.raises(ValueError, match="train.svdo"):
        svdo(f, "squared")


def test_svdo_gradient_flows_for_every_reading():
    """d(lambda_max - lambda_min)/dF is nonzero for non-orthogonal features under every reading."""
    from fdr.train.losses import READINGS

    for reading in READINGS:
        f = torch.tensor([[3.0, 0.5], [0.2, 1.0]]).reshape(1, 2, 1, 2).requires_grad_()
        svdo(f, reading).backward()
        assert f.grad is not None and float(f.grad.abs().sum()) > 0, reading


def test_abdnet_reading_is_its_batch_sum_normalised_to_32_samples_unsquared():
    """ABD-Net's of_penalty.py restated with exact eigenvalues: (l_max - l_min) per sample, not squared, summed over
    the batch and divided by B / 32."""
    g = torch.Generator().manual_seed(3)
    f = torch.randn(3, 5, 6, 7, generator=g)
    spreads = []
    for s in f.numpy().astype(np.float64):
        eig = np.linalg.eigvalsh(s.reshape(5, -1) @ s.reshape(5, -1).T)
        spreads.append(eig[-1] - eig[0])
    abd = sum(spreads) / (len(spreads) / 32.0)
    assert float(svdo(f, "abdnet")) == pytest.approx(abd, rel=1e-4)
    assert float(svdo(f, "unsquared")) == pytest.approx(np.mean(spreads), rel=1e-4)
    assert float(svdo(f, "literal")) == pytest.approx(np.mean(np.square(spreads)), rel=1e-4)
    assert float(svdo(f, "unsquared_normalized")) == pytest.approx(np.mean(spreads) / 42, rel=1e-4)


def test_every_reading_is_a_value_of_train_svdo_and_others_are_refused():
    from fdr.config import TrainConfig, from_dict
    from fdr.config.base import ConfigError
    from fdr.train.losses import READINGS

    for reading in READINGS:
        assert from_dict({"train": {"svdo": reading}}).train.svdo == reading
    assert TrainConfig().svdo == "unsquared"  # the default is unchanged
    with pytest.raises(ConfigError, match="train.svdo"):
        from_dict({"train": {"svdo": "abd"}})
    with pytest.raises(ValueError, match="train.svdo: expected one of literal, unsquared, normalized"):
        svdo(torch.zeros(1, 2, 3, 3), "abd")
