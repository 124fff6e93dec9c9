"""Typed config: every bad value fails at load with its key path."""
import pytest
import yaml

from fdr import config
from fdr.config import ConfigError
from fdr.config.runs import resolve


def test_defaults_are_the_papers():
    cfg = config.from_dict({})
    assert cfg.train.lr == 1e-4 and cfg.train.batch_size == 28
    assert cfg.train.lr_decay == 0.8 and cfg.train.lr_step == 9000 and cfg.train.beta == 1e-5
    assert cfg.model.channels == 32 and cfg.model.n_flayers == 3
    assert cfg.crop.patch == 63 and cfg.synthesis.kernel_size == 21


@pytest.mark.parametrize(
    "raw, path",
    [
        ({"model": {"channels": 0}}, "model.channels"),
        ({"model": {"channels": -1}}, "model.channels"),
        ({"model": {"channels": 3.5}}, "model.channels"),
        ({"model": {"name": "unet"}}, "model.name"),
        ({"model": {"chanels": 32}}, "model.chanels"),
        ({"data": {"source": "imagenet"}}, "data.source"),
        ({"train": {"lr": "fast"}}, "train.lr"),
        ({"train": {"use_amp": True}}, "train.use_amp"),
        ({"synthesis": {"jpeg_quality": [10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100]}}, "synthesis.jpeg_quality"),
        ({"synthesis": {"kernel_size": 20}}, "synthesis.kernel_size"),
        ({"bogus": 1}, "bogus"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**70}, "seed"),
        ({"synthesis": {"blur_sigma_step": float("inf")}}, "synthesis.blur_sigma_step"),
        ({"train": {"lr": float("nan")}}, "train.lr"),
        ({"train": {"svdo": "squared"}}, "train.svdo"),
        ({"model": 5}, "model"),
    ],
)
def test_bad_values_name_their_key(raw, path):
    with pytest.raises(ConfigError) as err:
        config.from_dict(raw)
    assert str(err.value).startswith(path + ":")


def test_overrides_and_file(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"model": {"channels": 16}, "seed": 3}))
    cfg = config.load(p, overrides={"model.channels": 48, "train.iterations": 10})
    assert (cfg.model.channels, cfg.train.iterations, cfg.seed) == (48, 10, 3)
    with pytest.raises(ConfigError, match="model.channels"):
        config.load(p, overrides={"model.channels": -1})


def test_missing_or_invalid_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(bad)


def test_committed_params_load():
    cfg = config.load("params.yaml")
    assert cfg.data.source in ("embedded", "div2k", "did-mdn", "gopro")


def test_run_names_resolve():
    runs = {"fdrnet": {}, "short": {"training": {"iterations": 7, "lr": 0.01}, "train": "didhy_train", "val": "didhy_test"},
            "didhy_owan": {"model": "baselines.owan", "train": "didhy_train", "val": "didhy_test"},
            "dncnn": {"model": "baselines.dncnn"}, "noaux": {"set": {"use_aux": False}},
            "seed2": {"seed": 2}}
    cfg = config.from_dict({"train": {"iterations": 9}, "baselines": {"dncnn": {"channels": 20}}, "runs": runs,
                            "ablations": {"reference": "short"}})
    assert resolve(cfg, "fdrnet").train_cfg.iterations == 9 and resolve(cfg, "short").train_cfg.lr == 0.01
    ch48 = resolve(cfg, "ch48")  # a sweep trains like the reference row, with one model key changed
    assert (ch48.model_name, ch48.model_cfg.channels, ch48.train_cfg.iterations, ch48.seed) == ("fdrnet", 48, 7, 0)
    track = resolve(cfg, "didhy_owan")
    assert (track.model_name, track.train_set, track.val_set) == ("owan", "didhy_train", "didhy_test")
    assert track.test_sets == {"didhy": "didhy_test"}
    assert resolve(cfg, "fl2").test_sets == {"didhy": "didhy_test"}  # Table 6 on DID-HY, like the reference
    assert set(resolve(cfg, "fdrnet").test_sets) == {"mild", "moderate", "severe"}
    assert resolve(cfg, "seed2").seed == 2 and resolve(cfg, "seed2").train_cfg.iterations == 9
    assert resolve(cfg, "fl5").model_cfg.n_flayers == 5
    assert resolve(cfg, "noaux").model_cfg.use_aux is False and resolve(cfg, "noaux").model_cfg.channels == 32
    assert resolve(cfg, "dncnn").model_name == "dncnn" and resolve(cfg, "dncnn").model_cfg.channels == 20
    for bad in ("ch0", "didhy_", "rain_fdrnet", "didhy_didhy_fdrnet", "fl"):
        with pytest.raises(ConfigError, match="unknown run"):
            resolve(cfg, bad)


def test_run_table_rows_are_checked():
    own = config.from_dict({"runs": {"wide": {"set": {"channels": 48}, "training": {"iterations": 3},
                                              "train": "didhy_train", "val": "didhy_test"}},
                            "ablations": {"reference": "wide"}})
    assert list(own.runs) == ["wide"] and resolve(own, "wide").model_cfg.channels == 48
    for runs, path in (({"wide": {"set": {"chanels": 48}}}, "runs.wide.set.chanels"),
                       ({"wide": {"set": {"channels": "many"}}}, "runs.wide.set.channels"),
                       ({"wide": {"model": "baselines.unet"}}, "runs.wide.model"),
                       ({"wide": {"train": "didhy_train"}}, "runs.wide.val"),
                       ({"wide": {"training": {"lr": -1}}}, "runs.wide.training.lr"),
                       ({"wide": {"training": {"epochs": 3}}}, "runs.wide.training.epochs"),
                       ({"fl3": {}}, "runs.fl3"), ({"input": {}}, "runs.input")):
        with pytest.raises(ConfigError) as err:
            config.from_dict({"runs": runs, "ablations": {"reference": next(iter(runs))}})
        assert str(err.value).startswith(path + ":"), err.value
    with pytest.raises(ConfigError, match="ablations.reference"):
        config.from_dict({"runs": {"a": {"model": "baselines.dncnn"}}, "ablations": {"reference": "a"}})
    with pytest.raises(ConfigError, match="ablations.reference: expected an FDR-Net row trained on didhy_train"):
        config.from_dict({"runs": {"hybrid": {}}, "ablations": {"reference": "hybrid"}})


def test_unquoted_off_reads_as_the_word():
    """`amp: off` is a YAML 1.1 boolean; DVC's `-S` writes it unquoted."""
    cfg = config.from_dict(yaml.safe_load("train:\n  amp: off\n"))
    assert cfg.train.amp == "off"
    with pytest.raises(ConfigError, match="train.amp"):
        config.from_dict(yaml.safe_load("train:\n  amp: on\n"))
    with pytest.raises(ConfigError, match="train.deterministic"):
        config.from_dict({"train": {"deterministic": "off"}})


def test_numbers_in_exponent_form_are_numbers_as_dvc_writes_them(tmp_path):
    """DVC writes `-S train.beta=1e-5` as `1e-05`; YAML 1.1 alone would read that (and `lr: 2e-3`) as text."""
    p = tmp_path / "params.yaml"
    p.write_text("train:\n  beta: 1e-05\n  lr: 2e-3\n  lr_decay: 8E-1\nsynthesis:\n  blur_sigma_step: 1E+0\n"
                 "runs:\n  fast: {training: {lr: 3e-3}}\n")
    cfg = config.load(p)
    assert (cfg.train.beta, cfg.train.lr, cfg.train.lr_decay, cfg.synthesis.blur_sigma_step) == (1e-5, 2e-3, 0.8, 1.0)
    assert resolve(cfg, "fast").train_cfg.lr == 3e-3 and isinstance(resolve(cfg, "fast").train_cfg.lr, float)
    assert config.from_dict({"train": {"lr": "5e-4"}}).train.lr == 5e-4  # a float field given as text
    for bad in ("fast", "1e-3x", "inf", "nan", "1e999"):
        with pytest.raises(ConfigError, match="train.lr"):
            config.from_dict({"train": {"lr": bad}})
    with pytest.raises(ConfigError, match="train.iterations"):
        config.from_dict({"train": {"iterations": "1e3"}})  # integers stay integers


def test_a_key_given_twice_is_refused_naming_file_key_and_lines(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("seed: 0\ntrain:\n  lr: 0.001\n  batch_size: 4\n  lr: 0.01\n")
    with pytest.raises(ConfigError, match=rf"{p}: line 5: duplicate key 'lr' \(first given on line 3\)"):
        config.load(p)
    p.write_text("seed: 0\nseed: 1\n")
    with pytest.raises(ConfigError, match=r"line 2: duplicate key 'seed'"):
        config.load(p)


@pytest.mark.parametrize("key, value", [("model.channels", 1_000_000_000), ("model.phases", 10_000),
                                        ("baselines.dncnn.depth", 100_000), ("baselines.owan.channels", 5000),
                                        ("ablations.channels", [8, 100_000])])
def test_model_sizes_beyond_the_limit_are_one_line_errors_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"^{key}: expected .*in \[\d, \d+\]"):
        config.from_dict({}, overrides={key: value})


def test_every_key_of_the_typed_config_is_in_params_yaml():
    """So `-S key=value` works for every documented key (DVC needs `+key=` for a key the file lacks)."""
    from fdr.config import to_dict
    from fdr.config.yamlio import read

    def missing(full: dict, given: dict, prefix: str = "") -> list[str]:
        out = []
        for key, value in full.items():
            if key not in given:
                out.append(prefix + key)
            elif isinstance(value, dict) and prefix + key != "runs":
                out += missing(value, given[key], f"{prefix}{key}.")
        return out

    assert missing(to_dict(config.load("params.yaml")), read("params.yaml")) == []
