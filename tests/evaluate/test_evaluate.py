"""Evaluation runs models in eval mode and restores their mode (fdr.evaluate.patches)."""
import numpy as np
import pytest
import torch

from fdr.config import DnCNNConfig
from fdr.evaluate.metrics import psnr
from fdr.evaluate.patches import evaluate_model
from fdr.models import build
from tests.helpers import make_patch_set


def _batch_norm_model() -> torch.nn.Module:
    """A DnCNN whose batch-norm running statistics are far from any batch's own: train and eval differ."""
    model = build("dncnn", DnCNNConfig(depth=4, channels=6), seed=0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.fill_(0.3)
                m.running_var.fill_(4.0)
    return model


def test_evaluation_uses_eval_mode_and_restores_the_mode(tmp_path):
    folder = make_patch_set(tmp_path / "set", n=10, patch=16)
    inputs, targets = np.load(folder / "input.npy"), np.load(folder / "target.npy")
    model = _batch_norm_model().train()
    x = torch.from_numpy(inputs).permute(0, 3, 1, 2).float() / 255

    def mean_psnr(train_mode: bool) -> float:
        model.train(train_mode)
        with torch.no_grad():
            y = model(x).clamp(0, 1).permute(0, 2, 3, 1).numpy()
        return float(np.mean([psnr(o, t / 255.0) for o, t in zip(y, targets)]))

    by_eval, by_train = mean_psnr(False), mean_psnr(True)
    assert abs(by_eval - by_train) > 0.1  # the model's modes really differ
    res = evaluate_model(model, folder, batch_size=4)
    assert res["psnr"] == pytest.approx(by_eval, abs=1e-6) and res["patches"] == 10
    assert model.training  # the caller's mode is restored
