"""The derivation of FDR-Net's unstated sizes (phases, process module, aux branch) from Table 5.

A closed-form parameter count is checked against the built models, then a grid search over the
free sizes shows that the defaults of ModelConfig are the best fit to all three Table 5 counts.
"""
import dataclasses
import itertools

import pytest
import torch

from fdr.config import ModelConfig
from fdr.models import build, count_parameters

TABLE5 = {"fdrnet": 1.66e6, "nofdm": 1.62e6, "noaux": 1.21e6}


def closed_form(c: int, n: int, phases: int, m: int, a: int, r: int) -> dict[str, int]:
    """Parameters of the three Table 5 variants (3x3 convs with bias; see fdr/models/fdrnet.py)."""
    conv = c * c * 9 + c
    resblock, gdn = 2 * conv, c * c + c

    def ca(ch):
        h = max(1, ch // r)
        return 2 * ch * h + h + ch

    fd, fa = conv + gdn, m * resblock + ca(c) + gdn
    fusion2, fusion1 = ca(2 * c) + 2 * c * c * 9 + c, ca(c) + conv
    t = 2 * conv
    ends = (3 * c * 9 + c) + (c * 3 * 9 + 3)
    return {
        "fdrnet": ends + phases * (n * (fd + fa) + a * resblock + fusion2 + t),
        "nofdm": ends + phases * (n * conv + n * m * resblock + a * resblock + fusion2 + t),
        "noaux": ends + phases * (n * (fd + fa) + fusion1 + t),
    }


def _built(cfg: ModelConfig) -> dict[str, int]:
    with torch.device("meta"):
        return {
            "fdrnet": count_parameters(build("fdrnet", cfg)),
            "nofdm": count_parameters(build("fdrnet", dataclasses.replace(cfg, use_fdm=False))),
            "noaux": count_parameters(build("fdrnet", dataclasses.replace(cfg, use_aux=False))),
        }


@pytest.mark.parametrize("c, n, phases, m, a, r", [(32, 3, 7, 2, 3, 16), (16, 2, 2, 1, 1, 4), (24, 5, 3, 0, 2, 8)])
def test_closed_form_matches_the_built_models(c, n, phases, m, a, r):
    cfg = ModelConfig(channels=c, n_flayers=n, phases=phases, pm_blocks=m, aux_blocks=a, ca_reduction=r)
    assert closed_form(c, n, phases, m, a, r) == _built(cfg)


def test_defaults_are_the_best_fit_to_table5():
    def worst_error(sizes):
        counts = closed_form(32, 3, *sizes)
        return max(abs(counts[k] / TABLE5[k] - 1) for k in TABLE5)

    grid = itertools.product(range(2, 13), range(0, 5), range(1, 8), (4, 8, 16))
    best = min(grid, key=worst_error)
    d = ModelConfig()
    assert best == (d.phases, d.pm_blocks, d.aux_blocks, d.ca_reduction)
    assert worst_error(best) < 0.01


@pytest.mark.parametrize("variant", [{}, {"use_fdm": False}, {"use_aux": False}])
def test_the_durn_p_phase_has_the_same_parameters_as_the_plain_one(variant):
    paper = dataclasses.replace(ModelConfig(), **variant)
    with torch.device("meta"):
        plain = build("fdrnet", dataclasses.replace(paper, phase="plain"))
        durn_p = build("fdrnet", dataclasses.replace(paper, phase="durn_p"))
    assert [(k, v.shape) for k, v in plain.state_dict().items()] == [(k, v.shape) for k, v in durn_p.state_dict().items()]
    assert count_parameters(durn_p) == count_parameters(plain)
