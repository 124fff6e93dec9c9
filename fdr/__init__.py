"""fdr: a reproducible implementation of FDR-Net (Li et al., ECCV 2020) as a DVC pipeline."""

__version__ = "0.1.0"
