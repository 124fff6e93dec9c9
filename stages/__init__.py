"""DVC entry points: each stage parses its arguments, calls :mod:`fdr`, and writes its outputs (dvc.yaml)."""
