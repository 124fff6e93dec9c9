"""The report: the paper's tables as data, ours beside them, the differences with their intervals, findings and
figures (``reports/report.md``). Import the modules themselves; this package imports nothing."""
