"""Training (paper §3.6, §4.3): the trainer, its loss (Eq. 5, 8), checkpoints, logs and process groups.

Import the modules themselves (``from fdr.train.trainer import train``): this package imports nothing, so the
stages that only read checkpoints do not load the trainer.
"""
