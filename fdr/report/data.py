"""Everything the report shows, gathered once from the files the pipeline wrote (:func:`collect`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from fdr.provenance import git_revision, machine
from fdr.report import budget, cpu, photos
from fdr.report.comparison import Comparison
from fdr.report.comparison import load as load_comparison
from fdr.report.paper import PAPER_DIR, load_fig8


@dataclass
class ReportData:
    """Everything the report shows, gathered once (see :func:`collect`)."""

    comparison: Comparison
    fig8: Optional[dict] = None  # the paper's correlation averages
    choices: Optional[str] = None  # reports/choices.md
    git_revision: str = "unknown"
    machine: dict = field(default_factory=dict)
    paper_config_params: dict = field(default_factory=dict)  # run -> parameter count at the paper's configuration
    figures: dict = field(default_factory=dict)  # name -> path relative to the report
    effects: list = field(default_factory=list)  # fdr.report.effects.Effect rows: every stated difference
    photos: dict = field(default_factory=dict)  # the held-out photo test per row (fdr.report.photos)
    cpu_spread: Optional[dict] = None  # two runs under other float kernels compared (fdr.report.cpu)
    budget: Optional[dict] = None  # the ablation effects against training budget and seeds (fdr.report.budget)

    @property
    def summaries(self) -> dict:
        return self.comparison.summaries

    @property
    def params(self) -> Optional[dict]:
        return self.comparison.params

    @property
    def analysis(self) -> Optional[dict]:
        return self.comparison.analysis


def paper_config_params() -> dict:
    """Parameter counts of our architecture at the paper's configurations (Table 5 rows, Table 6 columns)."""
    from fdr.models import build, count_parameters, paper_variants

    return {run: count_parameters(build(name, cfg)) for run, (name, cfg) in paper_variants().items()}


def collect(root: str | Path = ".", params_path: str = "params.yaml", count_paper_params: bool = True) -> ReportData:
    """Read every input of the report below ``root``."""
    root = Path(root)
    choices_path = root / "reports" / "choices.md"
    data = ReportData(
        comparison=load_comparison(root, params_path),
        fig8=load_fig8(root / PAPER_DIR / "fig8.json"),
        choices=choices_path.read_text() if choices_path.is_file() else None,
        git_revision=git_revision(root),
        machine=machine(),
        paper_config_params=paper_config_params() if count_paper_params else {},
    )
    data.effects = data.comparison.effects()
    data.photos = photos.load(root)
    data.cpu_spread = cpu.load_spread(root)
    data.budget = budget.load(root)
    for name in ("correlation", "responses", "curves", "grid_mild", "grid_moderate", "grid_severe", "restore_example"):
        if (root / "reports" / "figures" / "analysis" / f"{name}.png").is_file():
            data.figures[name] = f"figures/analysis/{name}.png"
    return data
