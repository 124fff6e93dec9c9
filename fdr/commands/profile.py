"""``python -m fdr profile NAME``: print the ``dvc exp run`` arguments that switch to a profile.

A profile is ``profiles/NAME.yaml``: a flat mapping of dotted parameter keys to values (a scalar or a list of
scalars), applied on top of ``params.yaml`` (for example the paper-scale profile: DIV2K, 63x63 patches, batch 28,
the paper's schedule), plus optional ``opt-in`` groups: runs the profile leaves out unless asked. Each group is a
flat mapping of the keys it sets; the rows those keys name (``runs.<run>....``) are deleted (``-S ~runs.<run>``)
unless the group is named with ``--with``. Usage: ``dvc exp run $(python -m fdr profile paper)``.

Before anything is printed, the arguments are applied to a copy of the parameter file by DVC's own ``-S`` code and
the result is validated against the typed config, so a profile DVC or the shell cannot take fails here, not hours
later; a key that ``params.yaml`` lacks is printed as ``+key=value`` (DVC's form for a new key), ``~key`` deletes a
key. A configuration on the paper's images without the paper's data sets is refused
(:func:`fdr.config.datasets.check`); a shell does not stop ``dvc exp run $(...)`` when the command inside fails, so
a refusal also prints an argument that ``dvc exp run`` rejects: nothing starts. ``--cost`` prints the training cost
of the profile's runs (:mod:`fdr.cost`); ``--show`` the overrides.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from fdr import config
from fdr.config import ConfigError, datasets, yamlio

HELP = "print the `dvc exp run -S ...` arguments of a parameter profile (e.g. `paper`); --cost: its training cost"
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
KEY = re.compile(r"~?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
OPT_IN = "opt-in"  # the profile key of the opt-in groups (not a parameter)
REFUSED = "--refused-see-the-error-above"  # printed on refusal: `dvc exp run` rejects it, so nothing starts
GROUP_KEY = re.compile(r"runs\.([a-z][a-z0-9_]*)\..+")


def _check_value(where: str, key, value) -> None:
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise ConfigError(f"{where}: {key!r}: expected a dotted parameter key (model.channels) or ~key")
    items = value if isinstance(value, list) else [value]
    if any(isinstance(v, (dict, list)) for v in items):
        raise ConfigError(f"{where}: {key}: expected a value or a list of values, got {value!r} (give each "
                          f"parameter its own dotted key: {key}.name: value)")


def read_profile(name: str, folder: Path = Path("profiles")) -> tuple[dict, dict[str, dict]]:
    """``(overlay, {group: keys})`` of ``profiles/NAME.yaml``: dotted keys to scalars or lists of scalars (anything
    else refused); the keys of a group must set rows of the run table (``runs.<run>.<key>``) that the overlay itself
    leaves alone."""
    if not NAME.fullmatch(name):
        raise ConfigError(f"profile {name!r}: expected the name of a file in {folder}/ (letters, digits, _ and -)")
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(f"{path}: no such profile (known: {', '.join(known) or 'none'})")
    overlay = yamlio.read(path) or {}
    if not isinstance(overlay, dict):
        raise ConfigError(f"{path}: expected a flat mapping of dotted keys (model.channels: 32)")
    groups = overlay.pop(OPT_IN, None) or {}
    if not isinstance(groups, dict) or not all(isinstance(g, dict) for g in groups.values()):
        raise ConfigError(f"{path}: {OPT_IN}: expected groups of dotted keys (controls: {{runs.beta0.seed: 0}})")
    for key, value in overlay.items():
        _check_value(str(path), key, value)
    for group, keys in groups.items():
        for key, value in keys.items():
            _check_value(f"{path}: {OPT_IN}.{group}", key, value)
            match = GROUP_KEY.fullmatch(key)
            if not match:
                raise ConfigError(f"{path}: {OPT_IN}.{group}.{key}: expected a key of a run, runs.<run>.<key>")
            if any(k.lstrip("~").startswith(f"runs.{match.group(1)}.") for k in overlay):
                raise ConfigError(f"{path}: runs.{match.group(1)} belongs to {OPT_IN}.{group}: set its keys there")
    return overlay, groups


def group_runs(keys: dict) -> list[str]:
    """The runs an opt-in group keeps: the rows its keys set, in order."""
    return list(dict.fromkeys(GROUP_KEY.fullmatch(k).group(1) for k in keys))


def load_profile(name: str, folder: Path = Path("profiles"), opt_in=()) -> dict:
    """The overlay of profile ``name`` with the opt-in groups ``opt_in`` kept (their keys set) and the rows of every
    other group deleted (``~runs.<run>``)."""
    overlay, groups = read_profile(name, folder)
    unknown = [g for g in opt_in if g not in groups]
    if unknown:
        raise ConfigError(f"--with {unknown[0]}: profile {name} has no such opt-in group "
                          f"(its groups: {', '.join(groups) or 'none'})")
    for group, keys in groups.items():
        if group in opt_in:
            overlay.update(keys)
        else:
            overlay.update({f"~runs.{run}": None for run in group_runs(keys)})
    return overlay


def _present(tree, dotted: str) -> bool:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _argument(key: str, value, new: bool) -> str:
    """``key=value`` as DVC's ``-S`` parser reads back ``value`` (quoted where plain text would not be)."""
    from dvc.utils.hydra import to_hydra_overrides

    plain = json.dumps(value, separators=(",", ":")) if isinstance(value, list) else yaml.safe_dump(value).splitlines()[0]
    forms = [plain] + ([f"'{value}'", f'"{value}"'] if isinstance(value, str) else [])
    for text in forms:
        arg = f"{'+' if new else ''}{key}={text}"
        try:
            (parsed,) = to_hydra_overrides([arg])
        except Exception:  # hydra's OverrideParseException: try the next form
            continue
        if re.search(r"\s", arg) is None and parsed.is_sweep_override() is False and parsed.value() == value:
            return arg
    raise ConfigError(f"{key}: {value!r} cannot be passed as `dvc exp run -S` through the shell (a value with "
                      "spaces or quotes); set it in params.yaml instead")


def set_args(overlay: dict, base: dict | None = None) -> list[str]:
    """``-S key=value`` pairs (``-S +key=value`` for a key ``base`` lacks; ``-S ~key`` deletes ``key``). A mapping is
    refused: DVC merges it into the mapping already there (an empty one changes nothing), so its keys are set one
    by one."""
    args = []
    for key, value in overlay.items():
        if key.startswith("~"):
            args += ["-S", key]
            continue
        if isinstance(value, dict):
            raise ConfigError(f"{key}: a mapping cannot be applied with -S (DVC merges it into the one in "
                              f"params.yaml); set its keys one by one ({key}.<name>: value)")
        args += ["-S", _argument(key, value, base is not None and not _present(base, key))]
    return args


def check_with_dvc(args: list[str], params: Path) -> None:
    """Apply ``args`` to a copy of ``params`` with DVC's own ``-S`` code, then load the result as the stages do."""
    from dvc.utils.hydra import apply_overrides

    with tempfile.TemporaryDirectory(prefix="fdr-profile-") as tmp:
        copy = Path(tmp) / "params.yaml"
        shutil.copyfile(params, copy)
        try:
            apply_overrides(copy, args[1::2])
        except Exception as exc:  # dvc's InvalidArgumentError, with hydra's reason as its cause
            raise ConfigError(f"dvc exp run would refuse these arguments: {exc} ({exc.__cause__})") from exc
        config.load(copy)


def parse_sets(items: list[str]) -> dict:
    """``KEY=VALUE`` strings (``-S`` here, as for ``dvc exp run``) -> ``{key: YAML value}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"-S {item}: expected KEY=VALUE, e.g. -S data.did_mdn.url=/data/DID-MDN-datasets.zip")
        out[key] = yaml.safe_load(value)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="profile name: a file profiles/NAME.yaml")
    parser.add_argument("--params", default="params.yaml", help="base parameter file (default: params.yaml)")
    parser.add_argument("-S", "--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="one more parameter, printed with the profile's (e.g. -S data.gopro.url=/data/GOPRO.zip)")
    parser.add_argument("--with", dest="opt_in", action="append", default=[], metavar="GROUPS",
                        help="keep the profile's opt-in groups (comma-separated, e.g. quoted,controls)")
    parser.add_argument("--show", action="store_true", help="list the overrides one per line instead")
    parser.add_argument("--cost", action="store_true",
                        help="print the training cost of the runs: iterations, GFLOP per step, hours at --rate")
    parser.add_argument("--rate", type=float, default=None,
                        help="steps per second for every run (default: each architecture's H100 rate, fdr/cost.py)")


def cost_lines(args: argparse.Namespace, opt_in: list[str]) -> list[str]:
    """The cost table of the profile with every opt-in group, each run labelled with its group."""
    from fdr import cost

    _, groups = read_profile(args.name)
    cfg = config.load(args.params, overrides={**load_profile(args.name, opt_in=list(groups)), **parse_sets(args.sets)})
    label = {run: ("default" if g in opt_in else f"opt-in {g}") for g, keys in groups.items() for run in group_runs(keys)}
    left_out = [g for g in groups if g not in opt_in]
    head = [f"Training cost of profile {args.name!r}" + (f" (opt-in groups left out: {', '.join(left_out)}; "
            f"keep them with --with {','.join(left_out)})" if left_out else ""), ""]
    rate = f"{args.rate:g} it/s for every run (--rate)" if args.rate else cost.RATE_SOURCE
    return head + cost.table(cost.run_costs(cfg, args.rate), label) + ["", f"Rates: {rate}.",
                                                                      "GFLOP/step: counted (fdr/cost.py)."]


def run(args: argparse.Namespace) -> int:
    opt_in = [g for item in args.opt_in for g in item.split(",") if g]
    overlay = {**load_profile(args.name, opt_in=opt_in), **parse_sets(args.sets)}
    params = Path(args.params)
    if not params.is_file():
        raise ConfigError(f"{params}: parameter file not found")
    cfg = config.load(params, overrides=overlay)  # fail fast on a bad overlay
    if args.cost:
        print("\n".join(cost_lines(args, opt_in)))
        return 0
    if args.show:
        for key, value in overlay.items():
            print(f"{key} = {value!r}")
        return 0
    argv = set_args(overlay, yamlio.read(params) or {})
    check_with_dvc(argv, params)  # DVC and the typed config take exactly what is printed
    try:
        datasets.check(cfg)
    except ConfigError:
        print(REFUSED)
        raise
    print(" ".join(argv))
    return 0
