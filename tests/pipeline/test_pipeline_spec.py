"""dvc.yaml agrees with the code, as DVC itself resolves it: every listed parameter exists, every run of the
table and of the sweeps has a train and an evaluate stage, and each run depends on exactly what it reads."""
import importlib.util
import re

import pytest
from dvc.repo import Repo

from fdr import config
from fdr.config import to_dict
from fdr.config.runs import resolve

CFG = config.load("params.yaml")
PARAMS = to_dict(CFG)


@pytest.fixture(scope="module")
def stages():
    """``{stage address: (deps, params, cmd)}`` after DVC's own interpolation of foreach/vars."""
    out = {}
    for st in Repo(".").index.stages:
        params = [k for p in st.params for k in p.params]
        deps = [str(d.def_path) for d in st.deps if str(d.def_path) != "params.yaml"]
        out[st.addressing] = (deps, params, st.cmd)
    return out


def _get(tree, dotted):
    for key in dotted.split("."):
        assert isinstance(tree, dict) and key in tree, f"{dotted}: not a key of params.yaml"
        tree = tree[key]
    return tree


def test_every_listed_param_exists_and_every_command_module(stages):
    for name, (_, params, cmd) in stages.items():
        for key in params:
            _get(PARAMS, key)
        module = re.match(r"python -m (stages\.\w+)", cmd).group(1)
        assert importlib.util.find_spec(module), f"{name}: {module} missing"


def test_every_run_is_trained_and_evaluated(stages):
    runs = list(CFG.runs) + [f"fl{n}" for n in CFG.ablations.flayers] + [f"ch{c}" for c in CFG.ablations.channels]
    trained = {cmd.split()[3] for _, _, cmd in stages.values() if cmd.startswith("python -m stages.train ")}
    evaluated = {cmd.split()[3] for _, _, cmd in stages.values() if cmd.startswith("python -m stages.evaluate ")}
    assert trained == set(runs) and evaluated == set(runs) | {"input"}
    for run in runs:
        resolve(CFG, run)  # every name resolves


def test_each_run_depends_on_its_own_patch_sets_and_architecture_section(stages):
    for run in list(CFG.runs) + ["fl1", "ch8"]:
        spec = resolve(CFG, run)
        address = next(a for a, (_, _, cmd) in stages.items() if cmd == f"python -m stages.train {run}")
        deps, params, _ = stages[address]
        data = {d for d in deps if d.startswith("data/")}
        assert data == {f"data/patches/{spec.train_set}", f"data/patches/{spec.val_set}"}, address
        reads_model = any(p == "model" or p.startswith("model.") for p in params)
        assert reads_model == (spec.model_name == "fdrnet"), address
        assert any(p.startswith(f"baselines.{spec.model_name}") for p in params) == (spec.model_name != "fdrnet")
        assert "fdr/models" in deps and "fdr/train" in deps and "fdr/data/dataset.py" in deps


def test_model_channels_reaches_exactly_the_fdrnet_runs_that_read_it(stages):
    """What `dvc exp run -S model.channels=48` re-runs directly: every FDR-Net run but the channel sweep."""
    direct = {a for a, (_, params, _) in stages.items() if "model" in params or "model.channels" in params}
    fdrnet_rows = {f"train@{r}" for r, row in CFG.runs.items() if row.arch == "fdrnet"}
    assert direct == fdrnet_rows | {f"train-fl@{n}" for n in CFG.ablations.flayers} | {"report"}
