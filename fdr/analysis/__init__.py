"""Interpretative analysis (paper §4.5, Fig. 6-8): feature correlation before/after the FDM,
channel responses per distortion, visual comparison grids and training curves."""
