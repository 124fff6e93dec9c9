"""The paper profile measures what the paper measured: DuRN-P phases, Eq. 5 as printed with the default reading
beside it, Tables 2-6 on whole images, and OWAN's released model in Table 1 (profiles/paper.yaml)."""
import dataclasses

from fdr import config
from fdr.commands.profile import load_profile
from fdr.config.runs import TABLE_TRACK, imported, resolve, role, sweep_runs

CFG = config.load("params.yaml", overrides=load_profile("paper"))


def test_the_faithful_readings_and_the_default_beside_them():
    assert CFG.model.phase == "durn_p" and CFG.train.svdo == "literal"
    control = CFG.runs["didhy_fdrnet_unsquared"]
    assert role(CFG, "didhy_fdrnet_unsquared") == "control"
    assert dataclasses.replace(control, training={}) == dataclasses.replace(CFG.runs["didhy_fdrnet"], paper="",
                                                                            training={})
    assert resolve(CFG, "didhy_fdrnet_unsquared").train_cfg.svdo == "unsquared"


def test_every_row_of_tables_2_to_6_and_every_sweep_is_scored_on_whole_images():
    answering = [n for n, row in CFG.runs.items() if row.paper_row and row.paper_row[0] != "table1"]
    assert {r for r in answering if TABLE_TRACK[CFG.runs[r].paper_row[0]] != "hybrid"} <= set(CFG.evaluate.whole.runs)
    assert set(sweep_runs(CFG)) <= set(CFG.evaluate.whole.runs)
    assert CFG.ablations.reference in CFG.evaluate.whole.runs and "didhy_fdrnet_unsquared" in CFG.evaluate.whole.runs


def test_table_1_gets_the_released_owan_model_pinned():
    assert imported(CFG) == {"owan_released": ("table1", "owan")}
    row = CFG.runs["owan_released"]
    assert row.weights.endswith("model_best.pth") and len(row.weights_sha256) == 64
    assert resolve(CFG, "owan_released").model_cfg == config.OWANConfig(groups=10, layers=4, channels=16)


def test_the_profile_sets_leaves_one_by_one():
    """DVC's -S merges a mapping into the one already there; new rows are therefore given key by key."""
    assert not any(isinstance(v, dict) for v in load_profile("paper").values())
