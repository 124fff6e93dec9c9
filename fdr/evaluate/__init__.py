"""Evaluation: the metrics of the paper's tables, patch sets, whole test images, and restoring photos tile by tile.

Import the modules themselves (``from fdr.evaluate.patches import evaluate_run``); this package imports nothing.
"""
