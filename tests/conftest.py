"""Test configuration: one torch thread per test, and no silent skips (the helpers are in :mod:`tests.helpers`)."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and do not stall when other processes load the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------- no silent skips

CI_CANNOT = "CI cannot: "  # the only accepted skip reasons start with this: a need that CI does not meet


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test fails unless its reason names something CI cannot provide (``CI_CANNOT ...``)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not getattr(report, "wasxfail", None):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if CI_CANNOT not in reason:
            report.outcome = "failed"
            report.longrepr = f"skipped without a reason CI cannot meet ({reason}); fix the test or the environment"
