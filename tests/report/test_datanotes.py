"""Each table's note says what it was measured on: the paper's own test data, data rebuilt from them, or a named
substitute; and any subset of its test sets."""
from __future__ import annotations

from fdr import config
from fdr.report import comparison
from tests.helpers import RUNS, metrics_for, write_workspace

ALL = {"data.rl_restore_testsets.url": "r.zip", "data.did_mdn.url": "d.zip", "data.gopro.url": "g.zip"}


def _note(table, **over):
    cfg = config.from_dict({"runs": RUNS}, overrides={"data.source": "div2k", **over})
    return comparison.comparability("div2k", table, comparison.datasets_used(cfg.data), cfg)


def test_the_papers_own_test_data_are_named_as_such():
    assert _note("table1", **ALL).startswith("Same test data as the paper: the released RL-Restore test patches")
    assert "not available" not in _note("table1", **ALL)
    assert _note("table3", **ALL).startswith("Same test data as the paper (GoPro)")
    assert _note("table4", **ALL).startswith("Same test data as the paper (DID-MDN): the pairs of DID-MDN-test")
    for table in ("table2", "table5", "table6"):
        assert _note(table, **ALL).startswith("Same kind of data as the paper (DID-HY built from DID-MDN), regenerated")


def test_every_table_a_substitute_touches_names_it():
    subs = {"data.substitutes": ["rl-restore", "did-mdn", "gopro"]}
    expect = {"table1": "rl-restore: test levels regenerated", "table2": "did-mdn: DIV2K images with synthetic rain",
              "table3": "gopro: DIV2K images with synthetic motion blur", "table4": "did-mdn: DIV2K images with synthetic rain",
              "table5": "did-mdn", "table6": "did-mdn"}
    for table, text in expect.items():
        note = _note(table, **subs)
        assert note.startswith(f"Substitute chosen with data.substitutes: {text}"), table
    assert "not comparable" in _note("table3", **subs) and "beyond training noise" in _note("table1", **subs)
    assert _note("table3", **{**ALL, "data.gopro.url": None}).startswith("data.gopro.url not given")


def test_a_test_subset_is_named_in_the_tables_it_touches():
    cut = {**ALL, "crop.max_test_patches.didhy": 1000, "evaluate.max_patches": 500}
    assert "at most 1,000 patches of each test set (crop.max_test_patches.didhy)" in _note("table5", **cut)
    assert "at most 500 patches per set scored (evaluate.max_patches)" in _note("table1", **cut)
    assert "crop.max_test_patches" not in _note("table1", **cut) and "Per-patch" not in _note("table3", **ALL)


def test_the_report_and_compare_read_the_notes_from_params(tmp_path):
    write_workspace(tmp_path, {"deblur_fdrnet": {"deblur": metrics_for(30.0)["moderate"]}}, source="div2k",
                    params={"data": {"source": "div2k", "substitutes": ["gopro"]}})
    tables = comparison.load(tmp_path).to_dict()["tables"]
    assert tables["table3"]["note"].startswith("Substitute chosen with data.substitutes: gopro")
