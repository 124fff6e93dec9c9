"""dvc.yaml agrees with the code: every listed parameter exists, every command's module exists."""
import importlib.util
import re
from pathlib import Path

import yaml

from fdr import config
from fdr.config import to_dict
from fdr.runs import resolve

DVC = yaml.safe_load(Path("dvc.yaml").read_text())
PARAMS = to_dict(config.load("params.yaml"))


def _get(tree, dotted):
    for key in dotted.split("."):
        assert isinstance(tree, dict) and key in tree, f"{dotted}: not a key of params.yaml"
        tree = tree[key]
    return tree


def _stages():
    for name, stage in DVC["stages"].items():
        yield name, stage.get("do", stage), stage.get("foreach")


def test_every_listed_param_exists():
    for name, stage, _ in _stages():
        for entry in stage.get("params", []):
            assert isinstance(entry, str), f"{name}: params entries are plain keys"
            _get(PARAMS, entry)


def test_commands_and_run_names_resolve():
    cfg = config.load("params.yaml")
    for name, stage, foreach in _stages():
        module = re.match(r"python -m (stages\.\w+)", stage["cmd"]).group(1)
        assert importlib.util.find_spec(module), f"{name}: {module} missing"
        if not foreach:
            continue
        items = _get(PARAMS, foreach[2:-1]) if isinstance(foreach, str) else foreach
        for item in items:
            cmd = stage["cmd"].replace("${item}", str(item))
            run = cmd.split()[3]
            if module in ("stages.train", "stages.evaluate"):
                resolve(cfg, run)  # raises for an unknown run name
            for out in stage.get("outs", []) + stage.get("metrics", []):
                path = next(iter(out)) if isinstance(out, dict) else out
                assert run in path.replace("${item}", str(item)), f"{name}@{item}: output {path} not per run"


def test_fdrnet_training_does_not_depend_on_baseline_sizes():
    train = DVC["stages"]["train"]["do"]["params"]
    assert "model.channels" in train and not any(p.startswith(("model.dncnn", "model.owan")) for p in train)
    dncnn = DVC["stages"]["train-dncnn"]["do"]["params"]
    assert "model.channels" not in dncnn and "model" not in dncnn
