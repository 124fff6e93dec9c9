"""Every stage of dvc.yaml depends on the code it runs: its entry module and every repository module that one
imports, followed through the import graph with ``ast`` (imports inside functions included, and the package
``__init__`` files Python runs on the way). A module not covered by a dep (the file itself or a folder above it)
would leave the stage "up to date" after an edit that changes what it writes."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.helpers import REPO

PACKAGES = ("fdr", "stages")


def module_file(name: str, root: Path = REPO) -> Path | None:
    """The file of repository module ``name`` (``fdr.train.trainer`` -> fdr/train/trainer.py), or None."""
    base = root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported(path: Path, name: str) -> Iterator[str]:
    """Names of the modules ``path`` (module ``name``) imports, absolute; ``from a import b`` yields ``a.b`` too
    (it may be a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)


def closure(entry: str, root: Path = REPO) -> set[Path]:
    """Files of every repository module ``entry`` runs: what it imports, transitively, and the packages above."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] not in PACKAGES:
            continue
        path = module_file(name, root)
        if path is None:
            continue  # ``from fdr.x import function``: the function is not a module
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:k]) for k in range(1, len(parts))]  # the packages Python initialises first
        todo += list(_imported(path, name))
    return {module_file(n, root).relative_to(root) for n in seen}


def stages(dvc_yaml: dict) -> Iterator[tuple[str, str, list[str]]]:
    """``(stage, entry module, code deps)`` for every stage (a ``foreach`` stage once: its code is the same)."""
    for stage, spec in dvc_yaml["stages"].items():
        body = spec.get("do", spec)
        words = body["cmd"].split()
        entry = words[words.index("-m") + 1]
        deps = [d for d in body.get("deps", []) if isinstance(d, str) and "${" not in d]
        yield stage, entry, deps


def uncovered(dvc_yaml: dict, root: Path = REPO) -> dict[str, list[str]]:
    """``{stage: [module files no dep covers]}`` for the stages that miss some."""
    out = {}
    for stage, entry, deps in stages(dvc_yaml):
        prefixes = [Path(d) for d in deps]
        missing = sorted(str(f) for f in closure(entry, root)
                         if not any(f == p or p in f.parents for p in prefixes))
        if missing:
            out[stage] = missing
    return out


def load_dvc_yaml() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())


def test_every_stage_depends_on_the_code_it_imports():
    assert uncovered(load_dvc_yaml()) == {}


def test_every_code_dep_exists():
    stale = [(stage, d) for stage, _, deps in stages(load_dvc_yaml()) for d in deps
             if d.startswith(PACKAGES) and not (REPO / d).exists()]
    assert stale == []


def test_a_dropped_dep_is_caught():
    """Remove each code dep of the evaluate and report stages in turn: the check must name a module."""
    spec = load_dvc_yaml()
    for stage in ("evaluate", "report"):
        body = spec["stages"][stage].get("do", spec["stages"][stage])
        code = [d for d in body["deps"] if isinstance(d, str) and d.startswith(PACKAGES)]
        assert code, stage
        for dep in code:
            body["deps"] = [d for d in body["deps"] if d != dep]
            assert stage in uncovered(spec), f"dropping {dep} from {stage} went unnoticed"
            body["deps"].append(dep)


def test_imports_are_followed_into_functions_and_packages(tmp_path):
    """The import follower itself: a lazy import inside a function and the package ``__init__`` both count."""
    (tmp_path / "fdr" / "sub").mkdir(parents=True)
    (tmp_path / "stages").mkdir()
    (tmp_path / "fdr" / "__init__.py").write_text("")
    (tmp_path / "fdr" / "sub" / "__init__.py").write_text("from . import inner\n")
    (tmp_path / "fdr" / "sub" / "inner.py").write_text("")
    (tmp_path / "fdr" / "lazy.py").write_text("X = 1\n")
    (tmp_path / "stages" / "__init__.py").write_text("")
    (tmp_path / "stages" / "s.py").write_text("def f():\n    from fdr.lazy import X\n    import fdr.sub\n")
    files = {str(p) for p in closure("stages.s", tmp_path)}
    assert files == {"stages/__init__.py", "stages/s.py", "fdr/__init__.py", "fdr/lazy.py", "fdr/sub/__init__.py",
                     "fdr/sub/inner.py"}


@pytest.mark.parametrize("stage", ["download", "synthesize", "crop"])
def test_data_stages_do_not_import_torch_or_the_trainer(stage):
    """The data stages run without the trainer (and without torch)."""
    entry = dict((s, e) for s, e, _ in stages(load_dvc_yaml()))[stage]
    files = {str(f) for f in closure(entry)}
    assert not any(f.startswith(("fdr/train", "fdr/models", "fdr/evaluate")) for f in files), sorted(files)
