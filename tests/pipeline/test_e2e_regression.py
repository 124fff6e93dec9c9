"""CI regression of the reported PSNR: a tiny seeded pipeline run (FDR-Net, DnCNN, OWAN on every test level) under
a kernel pin (tests/e2e.py: the same bits on every x86-64 CPU) against a committed reference, with margins over the
input that the broken models of scripts/mutations.py miss, and no colour cast from fdr restore on a saturated green
and a saturated red photo. It runs with the calling environment asking for another
CPU's kernels (SSE4.1 oneDNN, ATen's scalar kernels): the pin must override them."""
import json
import os

import pytest

from tests import e2e


@pytest.mark.slow
def test_tiny_pipeline_matches_reference_and_beats_input(tmp_path):
    foreign = dict(os.environ, ONEDNN_MAX_CPU_ISA="SSE41", ATEN_CPU_CAPABILITY="default", MKL_CBWR="AUTO")
    result = e2e.run(tmp_path, base_env=foreign)
    reference = json.loads(e2e.REFERENCE.read_text())["pins"][e2e.cpu_pin()]
    assert set(result) == set(reference) and set(result["input"]) == {"mild", "moderate", "severe"}
    for level, want in reference["input"].items():  # the data are regenerated from params: equal to rounding
        assert result["input"][level]["psnr"] == pytest.approx(want["psnr"], abs=1e-6), level
    for run, arch in e2e.tested_runs(e2e.configuration()).items():
        for level, want in reference[run].items():
            got = result[run][level]
            assert got["patches"] == want["patches"]
            assert abs(got["psnr"] - want["psnr"]) <= e2e.TOLERANCE_DB, (
                f"{run} {level}: PSNR {got['psnr']:.4f} dB vs reference {want['psnr']:.4f} dB (tolerance "
                f"{e2e.TOLERANCE_DB} dB); if the change is intended, run `python -m tests.e2e --update` and commit "
                "tests/reference/e2e.json")
            # a model that does not beat its own input at every level is broken, whatever the reference says
            assert got["psnr"] - result["input"][level]["psnr"] >= e2e.MARGIN_DB[arch], (run, level)
    inputs = e2e.input_shifts()  # a saturated green and a saturated red photo through fdr restore
    for name, shift in result["colour"].items():
        assert shift == pytest.approx(reference["colour"][name], abs=0.05), name
        assert all(abs(s) <= max(abs(i), e2e.COLOUR_SHIFT_MAX) for s, i in zip(shift, inputs[name])), (
            f"{name}: fdr restore shifts the mean colour by {shift} (0-255), the distorted input by {inputs[name]}")
