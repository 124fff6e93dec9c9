"""A held-out photo, distorted and restored the way a user would (``fdr degrade``, ``fdr restore``).

The first test photo of the raw manifest (never trained on) gets one draw of the training level's hybrid
distortion at x1 (``degrade.draw_params`` / ``distort_planar``, seeded), then the trained FDR-Net restores it
with :func:`fdr.evaluate.restore.restore_array` in the model's own window (``fdr restore``'s default,
:func:`fdr.evaluate.restore.window_of`). The figure shows clean / distorted / restored with each one's PSNR against
the clean photo.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fdr.data import degrade
from fdr.data.imageio import read_rgb, to_float
from fdr.data.sources import read_raw_manifest
from fdr.evaluate.metrics import psnr
from fdr.evaluate.restore import restore_array, window_of
from fdr.plotting import pyplot, save_figure


def restore_example(cfg, model, meta: dict, device, path: Path) -> dict:
    """Distort and restore the first held-out photo; write the figure to ``path``; return the numbers."""
    try:
        raw = read_raw_manifest(Path(cfg.data.root))
    except FileNotFoundError as exc:
        return {"skipped": str(exc)}
    test = raw[(raw["split"] == "test") & (raw["status"] == "ok") & (raw["kind"] == "clean")]
    if test.empty:
        return {"skipped": "no held-out clean photo in the raw manifest"}
    row = test.iloc[0]
    clean = read_rgb(Path(cfg.data.root) / row["path"], cfg.data.max_pixels)
    rng = np.random.default_rng(cfg.seed)
    p = degrade.draw_params(cfg.synthesis.train_level, rng, cfg.synthesis)
    distorted = degrade.distort_planar(np.ascontiguousarray(clean.transpose(2, 0, 1)), p, rng, cfg.synthesis)
    tile, overlap = window_of(meta)
    restored = restore_array(model, distorted, tile=tile, overlap=overlap, device=device)
    values = {name: psnr(to_float(img), to_float(clean)) for name, img in (("distorted", distorted),
                                                                             ("restored", restored))}
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    for ax, (title, img) in zip(axes, (("clean (held out)", clean),
                                       (f"distorted: {values['distorted']:.2f} dB", distorted),
                                       (f"restored by FDR-Net: {values['restored']:.2f} dB", restored))):
        ax.imshow(img)
        ax.set_title(title, fontsize=11)
        ax.set_axis_off()
    fig.suptitle(f"{row['name']}, {cfg.synthesis.train_level} distortion: blur sigma {p.blur_sigma:.2f}, noise sigma "
                 f"{p.noise_sigma:.1f}, JPEG quality {p.jpeg_quality} (triple {p.triple}); `fdr restore` defaults")
    save_figure(fig, path)
    plt.close(fig)
    return {"photo": row["name"], "triple": list(p.triple), "psnr_distorted": values["distorted"],
            "psnr_restored": values["restored"], "gain": values["restored"] - values["distorted"]}
