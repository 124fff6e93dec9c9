"""Stage ``photos``: list the user's images (``data.source: folder``) -> ``data/photos.json``.

DVC runs no stage whose dependency is missing, and the folders of ``data.folder`` are optional (the pairs always,
all of them for another source). So the download stage depends on this list rather than on the folders: each
image's name and SHA-256, written by this stage on every ``dvc repro`` (``always_changed`` in ``dvc.yaml``);
when the list is unchanged, nothing after it runs again. For another source the list names the source only.
"""
from __future__ import annotations

from pathlib import Path

from fdr.atomic import write_json
from fdr.data.folder import listing
from stages.common import run_stage

LIST = "photos.json"


def main(argv=None) -> int:
    def work(cfg, args):
        d, out = cfg.data, Path(cfg.data.root) / LIST
        found = listing(d.folder, Path(d.root), d.max_pixels) if d.source == "folder" else {}
        write_json(out, {"source": d.source, **found})
        n = len(found.get("clean", {})) + len(found.get("pairs", {}))
        return f"{n} images of data.folder listed in {out}" if d.source == "folder" else f"data.source {d.source}"
    return run_stage("photos", __doc__, work, argv)


if __name__ == "__main__":
    raise SystemExit(main())
