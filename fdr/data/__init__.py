"""Data: sources and downloads, hybrid-distortion synthesis (paper §4.1-4.2), patches and the Dataset.

Modules are imported explicitly (``from fdr.data import degrade``) so that light users do not pull torch.
"""
