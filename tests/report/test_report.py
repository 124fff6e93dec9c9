"""reports/report.md: paper vs ours, nothing invented, honest fallbacks."""
import json
import re

from PIL import Image

from fdr.report import cpu
from fdr.report import document as report
from stages.report import main as report_main
from tests.helpers import metrics_for, write_workspace


def _table_block(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_empty_workspace_says_not_run_and_invents_nothing(tmp_path):
    write_workspace(tmp_path, {})
    data = report.collect(tmp_path, count_paper_params=False)
    text = report.render(data)
    assert "Not comparable to the paper" in text
    t1 = _table_block(text, "## Table 1")
    assert "27.24 / not run" in t1 and "28.04 / n/a" in t1  # FDR-Net (ours) vs RL-Restore (not re-implemented)
    assert not re.search(r"\([+-]\d", t1)  # no deltas without numbers of ours
    assert "Not measured" in _table_block(text, "## Seed-to-seed spread")
    assert "Correlation before/after the FDM: not run" in text
    assert "No trained runs found" in text
    assert "`reports/choices.md` not found" in text


def test_report_shows_paper_ours_delta_spread_and_findings(tmp_path):
    didhy = ("didhy",)  # Tables 5-6: the ablations and their reference (didhy_fdrnet) on DID-HY
    runs = {"fdrnet": metrics_for(25.0), "dncnn": metrics_for(24.0), "owan": metrics_for(24.5),
            "input": metrics_for(20.0, ("mild", "moderate", "severe", "didhy")), "didhy_fdrnet": metrics_for(25.0, didhy),
            "seed1": metrics_for(25.2, didhy), "seed2": metrics_for(24.8, didhy), "nofdm": metrics_for(24.0, didhy),
            "noaux": metrics_for(25.1, didhy), "fl1": metrics_for(24.9, didhy)}
    summaries = {"fdrnet": {"model": "fdrnet", "params": 120000, "iterations": 300, "wall_s": 95.0, "device": "cpu"}}
    didhy_row = {"train": "didhy_train", "val": "didhy_test"}
    table = {"fdrnet": {"paper": "table1.fdrnet"}, "dncnn": {"model": "baselines.dncnn", "paper": "table1.dncnn"},
             "owan": {"model": "baselines.owan", "paper": "table1.owan"},
             "didhy_fdrnet": {**didhy_row, "paper": "table2.fdrnet"}, "seed1": {**didhy_row, "seed": 1},
             "seed2": {**didhy_row, "seed": 2}, "nofdm": {**didhy_row, "set": {"use_fdm": False}, "paper": "table5.nofdm"},
             "noaux": {**didhy_row, "set": {"use_aux": False}, "paper": "table5.noaux"}}
    write_workspace(tmp_path, runs, summaries=summaries,
                    params={"runs": table, "ablations": {"reference": "didhy_fdrnet", "flayers": [1]}})
    (tmp_path / "reports" / "choices.md").write_text("# Choices\n\n## Data\n\nSplit by scene.\n")
    (tmp_path / "reports" / "metrics" / "analysis.json").write_text(json.dumps({
        "correlation": {"before": 0.31, "after": 0.22, "phases": 4, "init": {"before": 0.3, "after": 0.28}},
        "responses": {"phase": 1, "within_type": 0.8, "between_type": 0.1}}))
    data = report.write_report(tmp_path, count_paper_params=False)
    text = (tmp_path / "reports" / "report.md").read_text()
    t1 = _table_block(text, "## Table 1")
    assert "27.24 / 25.00 (-2.24)" in t1 and "— / 20.00" in t1
    spread = _table_block(text, "## Seed-to-seed spread")
    assert "| didhy | PSNR | 3 | 26.00 | 0.20 |" in spread
    findings = _table_block(text, "## What came out on this data")
    assert "0.310 before → 0.220 after" in findings and "paper 0.272 → 0.164" in findings
    # nofdm (one run): -1.00 dB, beyond 2.83 x the pooled seed std (0.20), the paper's sign: agrees
    assert "`nofdm` vs `didhy_fdrnet` on didhy: -1.00 dB" in findings and "the paper's effect -1.06 dB: **agrees**" in findings
    # noaux (one run): +0.10 dB, within the single-run margin: no sign is claimed
    assert "`noaux` vs `didhy_fdrnet` on didhy: +0.10 dB" in findings and "-0.70 dB: **not resolved**" in findings
    assert "`fdrnet` is +5.00 dB over the distorted input" in findings and ": higher." in findings
    gains = [ln for ln in findings.splitlines() if "over the distorted input" in ln]
    assert all(("does not test the model" in ln) != (": higher." in ln) for ln in gains), gains
    effects = _table_block(text, "## Effects with intervals")
    assert "| `dncnn` − `input` | moderate | +4.00 |" in effects and "| `fdrnet` − `owan` | mild | +0.50 |" in effects
    runs_block = _table_block(text, "## Trained runs")
    assert "120,000" in runs_block and "1.6 min" in runs_block
    assert "Split by scene." in text and "[choices.md](choices.md)" in text
    assert data.figures["table1"] == "figures/report/table1.png"
    for name in ("table1", "ablations"):
        png = tmp_path / "reports" / "figures" / "report" / f"{name}.png"
        assert Image.open(png).size[0] > 600
    t5 = _table_block(text, "## Table 5")
    assert "paper: `didhy`" not in t5 and "23.91 / 25.00 (+1.09)" in t5  # ours on DID-HY itself, as the paper


def test_report_figures_dropped_when_no_numbers(tmp_path):
    write_workspace(tmp_path, {"fdrnet": metrics_for(25.0)})
    report.write_report(tmp_path, count_paper_params=False)
    assert (tmp_path / "reports" / "figures" / "report" / "table1.png").is_file()
    assert not (tmp_path / "reports" / "figures" / "report" / "ablations.png").exists()
    (tmp_path / "reports" / "metrics" / "fdrnet.json").unlink()
    report.write_report(tmp_path, count_paper_params=False)
    assert not (tmp_path / "reports" / "figures" / "report" / "table1.png").exists()
    assert "table1.png" not in (tmp_path / "reports" / "report.md").read_text()


def test_stage_main(tmp_path, monkeypatch, capsys):
    write_workspace(tmp_path, {"fdrnet": metrics_for(25.0)})
    monkeypatch.chdir(tmp_path)
    assert report_main([]) == 0
    assert "table1" in capsys.readouterr().out
    assert (tmp_path / "reports" / "report.md").is_file()
    (tmp_path / "params.yaml").write_text("model:\n  channels: -1\n")
    assert report_main([]) == 2
    assert "model.channels" in capsys.readouterr().err


def test_table6_tells_a_column_outside_our_sweep_from_a_missing_run(tmp_path):
    didhy = ("didhy",)
    runs = {"fdrnet_ref": metrics_for(25.0, didhy), "ch8": metrics_for(24.0, didhy)}
    params = {"model": {"channels": 16, "n_flayers": 3}, "ablations": {"reference": "fdrnet_ref", "flayers": [1],
              "channels": [8, 24]},
              "runs": {"fdrnet_ref": {"model": "model", "train": "didhy_train", "val": "didhy_test"}}}
    write_workspace(tmp_path, runs, params=params)
    text = report.render(report.collect(tmp_path, count_paper_params=False))
    rows = [line for line in _table_block(text, "## Table 6").splitlines() if line.startswith("| PSNR |")]
    layers, channels = ([c.strip() for c in line.strip("|").split("|")][1:] for line in rows[:2])
    # FD-layers 1..5: fl1 is in the sweep but has no numbers (not run); 3 is the reference; 2, 4, 5 are outside
    assert layers[0].endswith("/ not run") and layers[2].endswith("/ 26.00 (+1.03)")
    assert all(layers[k].endswith("/ not swept") for k in (1, 3, 4))
    # channels 16..64: 16 is the reference; 32, 48, 64 are outside the sweep 8, 16, 24
    assert channels[0].endswith("/ 26.00 (+1.53)") and all(c.endswith("/ not swept") for c in channels[1:])


def test_cpu_section_reads_the_state_file_and_names_a_flipped_verdict(tmp_path):
    (tmp_path / "reports").mkdir()
    path = tmp_path / cpu.SPREAD_FILE
    path.write_text(json.dumps(cpu.NOT_MEASURED))
    assert cpu.load_spread(tmp_path) is None
    assert "Not measured" in "\n".join(cpu.section(cpu.load_spread(tmp_path)))
    effects = [{"label": "noaux vs fdrnet", "set": "test_moderate", "a": 0.31, "b": -0.02,
                "verdict_a": "higher", "verdict_b": "not resolved"},
               {"label": "fdrnet vs input", "set": "test_moderate", "a": 3.2, "b": 3.1,
                "verdict_a": "higher", "verdict_b": "higher"}]
    path.write_text(json.dumps({"measured": True, "metrics": {}, "effects": effects, "psnr_max_abs": 0.2,
                                "effect_max_abs": 0.33, "verdicts_identical": False}))
    text = "\n".join(cpu.section(cpu.load_spread(tmp_path)))
    assert "1 of 2 verdicts differ" in text and "`noaux vs fdrnet`" in text and "not resolved" in text
    assert "Not measured" not in text
