"""The paper's Tables 1-6 as data, and the comparison of our metrics with them (``fdr compare``)."""
import json

import pytest

from fdr.cli import main as cli_main
from fdr.config import ConfigError, from_dict
from fdr.config.runs import answers, replicas, role
from fdr.report import comparison, paper
from tests.helpers import PARAMS, REPO, metrics_for, write_workspace


def test_tables_hold_the_papers_numbers_with_sources():
    tables = paper.load_tables(REPO / "reports" / "paper")
    assert set(tables) == {f"table{i}" for i in range(1, 7)}
    for name, table in tables.items():
        assert f"Table {name[-1]}" in table.source
    t1 = tables["table1"].rows
    assert t1["fdrnet"]["moderate"] == {"psnr": 27.24, "ssim": 0.6846}
    assert t1["owan"]["severe"]["psnr"] == 25.88 and t1["rl_restore"]["mild"]["ssim"] == 0.7313
    assert tables["table2"].rows["owan"]["didhy"]["psnr"] == 23.1768
    assert tables["table3"].rows["fdrnet"]["deblur"]["ssim"] == 0.938
    assert tables["table4"].rows["fdrnet"]["derain"]["psnr"] == 32.96
    assert tables["table5"].rows["nofdm"] == {"params": 1620000, "didhy": {"psnr": 23.91, "ssim": 0.646}}
    assert tables["table6"].rows["fl3"] == tables["table6"].rows["ch32"] == {"didhy": {"psnr": 24.97, "ssim": 0.680}}
    assert tables["table6"].rows["ch64"]["didhy"]["ssim"] == 0.683


def test_the_run_table_answers_existing_paper_rows_on_their_own_track():
    """Every paper row params.yaml says a run answers exists in reports/paper; every row of the paper we
    implement in Tables 1, 2 and 5 is answered; a row of another track or an unknown table is refused."""
    cfg = from_dict(PARAMS)
    tables = paper.load_tables(REPO / "reports" / "paper")
    mine = answers(cfg)
    assert all(cfg.runs[run].paper_row[1] in tables[cfg.runs[run].paper_row[0]].rows
               for run in cfg.runs if cfg.runs[run].paper)
    for name in ("table1", "table2", "table5"):
        implemented = [r for r in tables[name].rows if comparison.IMPLEMENTED.fullmatch(r)]
        assert all((name, r) in mine for r in implemented), name
    assert mine["table2", "fdrnet"] == "didhy_fdrnet" and mine["table5", "fdrnet"] == cfg.ablations.reference
    with pytest.raises(ConfigError, match="runs.x.paper"):
        from_dict({"runs": {"x": {"paper": "table2.fdrnet"}}})  # a hybrid-trained row cannot answer DID-HY's table
    with pytest.raises(ConfigError, match="runs.x.paper"):
        from_dict({"runs": {"x": {"paper": "table9.fdrnet"}}})


@pytest.mark.parametrize("content, match", [
    ("{", "not valid JSON"),
    (json.dumps({"fdrnet": {"mild": {"psnr": 1}}}), "source"),
    (json.dumps({"source": "Table 9", "fdrnet": {"mild": {"psnr": "high"}}}), "fdrnet.mild.psnr"),
    (json.dumps({"source": "Table 9", "fdrnet": {"mild": {"lpips": 0.1}}}), "unknown metric"),
    (json.dumps({"source": "Table 9"}), "no rows"),
])
def test_bad_paper_table_names_file_and_key(tmp_path, content, match):
    path = tmp_path / "table9.json"
    path.write_text(content)
    with pytest.raises(paper.PaperDataError, match=match) as err:
        paper.load_table(path)
    assert "table9.json" in str(err.value)


def test_compare_deltas_missing_and_the_reference_standing_in():
    tables = paper.load_tables(REPO / "reports" / "paper")
    ours = {"fdrnet": metrics_for(25.0), "dncnn": metrics_for(24.0), "input": metrics_for(20.0),
            "fl1": metrics_for(24.5)}
    rows = comparison.compare_table(tables["table1"], ours, {"fdrnet": "fdrnet", "dncnn": "dncnn", "owan": "owan"})
    idx = {(r.run, r.set, r.metric): r for r in rows}
    assert idx["fdrnet", "moderate", "psnr"].delta == pytest.approx(25.0 - 27.24)
    assert idx["dncnn", "mild", "psnr"].ours == 25.0
    assert idx["owan", "mild", "psnr"].ours is None and idx["owan", "mild", "psnr"].delta is None
    assert idx["input", "mild", "psnr"].paper is None and idx["input", "mild", "psnr"].ours == 21.0
    assert comparison.missing_text("owan") == "not run" and comparison.missing_text("rl_restore") == "n/a"

    # Table 6: fl3/ch32 are the reference run; no DID-HY numbers -> compared on moderate, effects vs full model
    rows6 = comparison.compare_table(tables["table6"], ours, {"fl3": "fdrnet", "ch32": "fdrnet", "fl1": "fl1"},
                                     reference="fdrnet")
    idx6 = {(r.run, r.metric): r for r in rows6}
    assert idx6["fl3", "psnr"].ours == 25.0 and idx6["fl3", "psnr"].ours_run == "fdrnet"
    fl1 = idx6["fl1", "psnr"]
    assert fl1.substituted and fl1.ours_set == "moderate" and fl1.set == "didhy"
    assert fl1.ours_effect == pytest.approx(-0.5)
    assert fl1.paper_effect == pytest.approx(24.63 - 24.97)
    assert idx6["fl4", "psnr"].ours is None
    # another reference configuration moves the stand-in: with 2 FD-layers the reference answers fl2, not fl3
    cfg = from_dict({**PARAMS, "model": {**PARAMS["model"], "n_flayers": 2}})
    assert answers(cfg)["table6", "fl2"] == "fdrnet_ref" and ("table6", "fl3") not in answers(cfg)


def test_compare_uses_didhy_when_we_have_it_and_params_from_summaries():
    tables = paper.load_tables(REPO / "reports" / "paper")
    ours = {"fdrnet": {"didhy": {"psnr": 22.0, "ssim": 0.6}}, "nofdm": {"didhy": {"psnr": 21.5, "ssim": 0.58}}}
    mine = {"fdrnet": "fdrnet", "nofdm": "nofdm", "noaux": "noaux"}
    rows = comparison.compare_table(tables["table5"], ours, mine, {"fdrnet": {"params": 1671753}}, reference="fdrnet")
    idx = {(r.run, r.metric): r for r in rows}
    assert not idx["nofdm", "psnr"].substituted
    assert idx["nofdm", "psnr"].ours_effect == pytest.approx(-0.5)
    assert idx["fdrnet", "params"].ours == 1671753 and idx["fdrnet", "params"].delta == pytest.approx(11753)
    assert idx["noaux", "params"].ours is None


def test_track_tables_read_track_runs():
    """Table 2 is answered by the runs trained on DID-HY, never by the hybrid-trained ones."""
    tables = paper.load_tables(REPO / "reports" / "paper")
    ours = {"fdrnet": {"didhy": {"psnr": 99.0, "ssim": 0.9}, "moderate": {"psnr": 25.0, "ssim": 0.7}},
            "didhy_fdrnet": {"didhy": {"psnr": 21.0, "ssim": 0.6}}}
    mine = answers(from_dict(PARAMS))
    by_table = {t: {row: run for (tt, row), run in mine.items() if tt == t} for t in ("table1", "table2")}
    rows = {(r.run, r.metric): r for r in comparison.compare_table(tables["table2"], ours, by_table["table2"])}
    assert rows["fdrnet", "psnr"].ours == 21.0 and rows["fdrnet", "psnr"].ours_run == "didhy_fdrnet"
    assert rows["dncnn", "psnr"].ours is None
    table1 = {(r.run, r.set, r.metric): r for r in comparison.compare_table(tables["table1"], ours, by_table["table1"])}
    assert table1["fdrnet", "moderate", "psnr"].ours == 25.0
    assert comparison.missing_text("owan") == "not run" and comparison.missing_text("rl_restore") == "n/a"


def test_a_seed_replica_is_the_same_row_but_for_its_seed_whatever_its_name():
    didhy = {"train": "didhy_train", "val": "didhy_test", "training": {"iterations": 5}}
    cfg = from_dict({"runs": {"ref": didhy, "rep1": {**didhy, "seed": 1}, "seed2": {**didhy, "seed": 2},
                              "other": {**didhy, "seed": 3, "training": {"iterations": 6}},
                              "nofdm": {**didhy, "set": {"use_fdm": False}},
                              "nofdm_s1": {**didhy, "set": {"use_fdm": False}, "seed": 1}},
                     "ablations": {"reference": "ref"}})
    assert replicas(cfg, "ref") == ["ref", "rep1", "seed2"]
    assert replicas(cfg, "nofdm") == ["nofdm", "nofdm_s1"] and role(cfg, "nofdm_s1") == "replica"
    assert role(cfg, "other") == "control" and role(cfg, "rep1") == "replica"


def test_seed_spread():
    ours = {"fdrnet": metrics_for(25.0), "seed1": metrics_for(25.2), "fdrnet_seed2": metrics_for(24.8),
            "dncnn": metrics_for(10.0)}
    spread = comparison.seed_spread(ours, ["fdrnet", "fdrnet_seed2", "seed1", "missing"])
    assert spread["runs"] == ["fdrnet", "fdrnet_seed2", "seed1"]
    m = spread["sets"]["moderate"]["psnr"]
    assert m["n"] == 3 and m["mean"] == pytest.approx(25.0) and m["std"] == pytest.approx(0.2)
    assert comparison.seed_spread({"fdrnet": metrics_for(25.0)}, ["fdrnet"])["sets"] == {}


def test_comparability_notes():
    assert "NOT comparable" in comparison.comparability("embedded")
    assert "NOT comparable" in comparison.comparability("embedded", "table1")
    assert "not comparable" in comparison.comparability("div2k", "table3")
    assert "unknown" in comparison.comparability(None)


def test_read_metrics_from_the_files_and_a_malformed_value_names_the_file(tmp_path):
    write_workspace(tmp_path, {"fdrnet": metrics_for(25.0), "input": metrics_for(20.0)})
    ours = comparison.read_metrics(cwd=tmp_path)
    assert set(ours) == {"fdrnet", "input"} and ours["fdrnet"]["moderate"]["psnr"] == 25.0
    (tmp_path / "reports" / "metrics" / "owan.json").write_text(json.dumps({"mild": {"psnr": "abc"}}))
    with pytest.raises(paper.PaperDataError, match=r"owan.json: mild.psnr: expected a number, got 'abc'"):
        comparison.read_metrics(cwd=tmp_path)


def test_compare_command_text_json_md(tmp_path, monkeypatch, capsys):
    write_workspace(tmp_path, {"fdrnet": metrics_for(25.0), "dncnn": metrics_for(24.0)})
    monkeypatch.chdir(tmp_path)
    assert cli_main(["compare"]) == 0
    out = capsys.readouterr().out
    assert "NOT comparable" in out and "Table 1" in out
    assert "-2.24" in out  # fdrnet moderate: 25.00 - 27.24
    assert "Table 3" not in out  # no numbers of ours there
    assert cli_main(["compare", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["comparable"] is False and data["data_source"] == "embedded"
    rows = data["tables"]["table1"]["rows"]
    assert any(r["run"] == "fdrnet" and r["set"] == "mild" and r["metric"] == "psnr" and r["ours"] == 26.0 for r in rows)
    assert data["tables"]["table3"]["have_ours"] is False
    assert cli_main(["compare", "--md", "--all"]) == 0
    md = capsys.readouterr().out
    assert "| method | set | metric | paper | ours |" in md and "Not comparable" in md
    assert "### Table 3" in md


def test_compare_command_on_paper_data_has_no_embedded_warning(tmp_path, monkeypatch, capsys):
    write_workspace(tmp_path, {"fdrnet": metrics_for(27.0)}, source="div2k")
    monkeypatch.chdir(tmp_path)
    assert cli_main(["compare"]) == 0
    out = capsys.readouterr().out
    assert "NOT comparable" not in out and "regenerated" in out


def test_compare_command_bad_params(tmp_path, monkeypatch, capsys):
    write_workspace(tmp_path, {}, params={"model": {"channels": -1}})
    monkeypatch.chdir(tmp_path)
    assert cli_main(["compare"]) == 2
    assert "model.channels" in capsys.readouterr().err


def test_tables_are_comparable_when_their_data_set_was_used():
    from fdr import config

    cfg = config.from_dict({"data": {"source": "div2k", "gopro": {"url": "g.zip"}}})
    used = comparison.datasets_used(cfg.data)
    assert used == {"div2k", "gopro"}
    assert comparison.comparability("div2k", "table3", used).startswith("Same kind of data as the paper (GoPro)")
    assert "not comparable" in comparison.comparability("div2k", "table4", used)
    assert "not comparable" in comparison.comparability("div2k", "table3")  # the source alone
