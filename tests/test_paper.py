"""The paper's Tables 1-6 as data, and the comparison of our metrics with them (``fdr compare``)."""
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from fdr import comparison, paper
from fdr.cli import main as cli_main
from fdr.config import from_dict
from fdr.runs import resolve
from tests.conftest import metrics_for, write_workspace

REPO = Path(__file__).resolve().parents[1]


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


def test_ablation_and_baseline_keys_are_our_run_names():
    cfg = from_dict({})
    tables = paper.load_tables(REPO / "reports" / "paper")
    for name in ("table5", "table6"):
        for run in tables[name].rows:
            resolve(cfg, run)  # raises for a name the training stage would not know
    for run in ("fdrnet", "dncnn", "owan"):
        assert run in tables["table1"].rows and run in tables["table2"].rows


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


def test_compare_deltas_missing_and_aliases():
    tables = paper.load_tables(REPO / "reports" / "paper")
    ours = {"fdrnet": metrics_for(25.0), "dncnn": metrics_for(24.0), "input": metrics_for(20.0),
            "fl1": metrics_for(24.5)}
    rows = comparison.compare_table(tables["table1"], ours)
    idx = {(r.run, r.set, r.metric): r for r in rows}
    assert idx["fdrnet", "moderate", "psnr"].delta == pytest.approx(25.0 - 27.24)
    assert idx["dncnn", "mild", "psnr"].ours == 25.0
    assert idx["owan", "mild", "psnr"].ours is None and idx["owan", "mild", "psnr"].delta is None
    assert idx["input", "mild", "psnr"].paper is None and idx["input", "mild", "psnr"].ours == 21.0
    assert comparison.missing_text("owan") == "not run" and comparison.missing_text("rl_restore") == "n/a"

    # Table 6: fl3/ch32 are the main run; no DID-HY numbers -> compared on moderate, effects vs full model
    rows6 = comparison.compare_table(tables["table6"], ours, alias=comparison.aliases(3, 32))
    idx6 = {(r.run, r.metric): r for r in rows6}
    assert idx6["fl3", "psnr"].ours == 25.0 and idx6["fl3", "psnr"].ours_run == "fdrnet"
    fl1 = idx6["fl1", "psnr"]
    assert fl1.substituted and fl1.ours_set == "moderate" and fl1.set == "didhy"
    assert fl1.ours_effect == pytest.approx(-0.5)
    assert fl1.paper_effect == pytest.approx(24.63 - 24.97)
    assert idx6["fl4", "psnr"].ours is None
    # a different main configuration moves the alias: fl2 is then the main run
    rows6b = comparison.compare_table(tables["table6"], ours, alias=comparison.aliases(2, 16))
    idx6b = {(r.run, r.metric): r for r in rows6b}
    assert idx6b["fl2", "psnr"].ours == 25.0 and idx6b["fl3", "psnr"].ours is None


def test_compare_uses_didhy_when_we_have_it_and_params_from_summaries():
    tables = paper.load_tables(REPO / "reports" / "paper")
    ours = {"fdrnet": {"didhy": {"psnr": 22.0, "ssim": 0.6}}, "nofdm": {"didhy": {"psnr": 21.5, "ssim": 0.58}}}
    rows = comparison.compare_table(tables["table5"], ours, {"fdrnet": {"params": 1671753}})
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
    rows = {(r.run, r.metric): r for r in comparison.compare_table(tables["table2"], ours)}
    assert rows["fdrnet", "psnr"].ours == 21.0 and rows["fdrnet", "psnr"].ours_run == "didhy_fdrnet"
    assert rows["dncnn", "psnr"].ours is None
    table1 = {(r.run, r.set, r.metric): r for r in comparison.compare_table(tables["table1"], ours)}
    assert table1["fdrnet", "moderate", "psnr"].ours == 25.0
    assert comparison.is_ours("didhy_owan") and not comparison.is_ours("didhy_rl_restore")


def test_seed_spread():
    ours = {"fdrnet": metrics_for(25.0), "seed1": metrics_for(25.2), "fdrnet_seed2": metrics_for(24.8),
            "dncnn": metrics_for(10.0)}
    spread = comparison.seed_spread(ours)
    assert spread["runs"] == ["fdrnet", "fdrnet_seed2", "seed1"]
    m = spread["sets"]["moderate"]["psnr"]
    assert m["n"] == 3 and m["mean"] == pytest.approx(25.0) and m["std"] == pytest.approx(0.2)
    assert comparison.seed_spread({"fdrnet": metrics_for(25.0)})["sets"] == {}


def test_comparability_notes():
    assert "NOT comparable" in comparison.comparability("embedded")
    assert "NOT comparable" in comparison.comparability("embedded", "table1")
    assert "not comparable" in comparison.comparability("div2k", "table3")
    assert "unknown" in comparison.comparability(None)


def test_read_metrics_through_dvc_and_files(tmp_path):
    write_workspace(tmp_path, {"fdrnet": metrics_for(25.0), "input": metrics_for(20.0)})
    ours, how = comparison.read_metrics(cwd=tmp_path, use_dvc=False)
    assert how.startswith("files") and ours["fdrnet"]["moderate"]["psnr"] == 25.0
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    ours_dvc, how = comparison.read_metrics(cwd=tmp_path)
    assert how == "dvc metrics show"
    assert ours_dvc == ours


def test_compare_command_text_json_md(tmp_path, monkeypatch, capsys):
    write_workspace(tmp_path, {"fdrnet": metrics_for(25.0), "dncnn": metrics_for(24.0)})
    monkeypatch.chdir(tmp_path)
    assert cli_main(["compare", "--no-dvc"]) == 0
    out = capsys.readouterr().out
    assert "NOT comparable" in out and "Table 1" in out
    assert "-2.24" in out  # fdrnet moderate: 25.00 - 27.24
    assert "Table 3" not in out  # no numbers of ours there
    assert cli_main(["compare", "--no-dvc", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["comparable"] is False and data["data_source"] == "embedded"
    rows = data["tables"]["table1"]["rows"]
    assert any(r["run"] == "fdrnet" and r["set"] == "mild" and r["metric"] == "psnr" and r["ours"] == 26.0 for r in rows)
    assert data["tables"]["table3"]["have_ours"] is False
    assert cli_main(["compare", "--no-dvc", "--md", "--all"]) == 0
    md = capsys.readouterr().out
    assert "| method | set | metric | paper | ours |" in md and "Not comparable" in md
    assert "### Table 3" in md


def test_compare_command_on_paper_data_has_no_embedded_warning(tmp_path, monkeypatch, capsys):
    write_workspace(tmp_path, {"fdrnet": metrics_for(27.0)}, source="div2k")
    monkeypatch.chdir(tmp_path)
    assert cli_main(["compare", "--no-dvc"]) == 0
    out = capsys.readouterr().out
    assert "NOT comparable" not in out and "regenerated" in out


def test_compare_command_bad_params(tmp_path, monkeypatch, capsys):
    write_workspace(tmp_path, {}, params={"model": {"channels": -1}})
    monkeypatch.chdir(tmp_path)
    assert cli_main(["compare", "--no-dvc"]) == 2
    assert "model.channels" in capsys.readouterr().err


def test_tables_are_comparable_when_their_data_set_was_used():
    from fdr import config

    cfg = config.from_dict({"data": {"source": "div2k", "gopro": {"url": "g.zip"}}})
    used = comparison.datasets_used(cfg.data)
    assert used == {"div2k", "gopro"}
    assert comparison.comparability("div2k", "table3", used).startswith("Same kind of data as the paper (GoPro)")
    assert "not comparable" in comparison.comparability("div2k", "table4", used)
    assert "not comparable" in comparison.comparability("div2k", "table3")  # the source alone
