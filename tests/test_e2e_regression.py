"""CI regression of the reported PSNR: a tiny seeded pipeline run against a committed reference."""
import json

import pytest

from tests import e2e


@pytest.mark.slow
def test_tiny_pipeline_matches_reference_and_beats_input(tmp_path):
    result = e2e.run(tmp_path)
    reference = json.loads(e2e.REFERENCE.read_text())
    got, want = result["fdrnet"]["psnr"], reference["fdrnet"]["psnr"]
    assert result["fdrnet"]["patches"] == reference["fdrnet"]["patches"]
    # The data are regenerated from params: the input's PSNR must match to rounding.
    assert result["input"]["psnr"] == pytest.approx(reference["input"]["psnr"], abs=1e-6)
    assert abs(got - want) <= e2e.TOLERANCE_DB, (
        f"moderate PSNR {got:.4f} dB vs reference {want:.4f} dB (tolerance {e2e.TOLERANCE_DB} dB); "
        "if the change is intended, run `python -m tests.e2e --update` and commit tests/reference/e2e.json"
    )
    # A broken model cannot pass by matching a broken reference.
    assert got - result["input"]["psnr"] >= e2e.MARGIN_DB
