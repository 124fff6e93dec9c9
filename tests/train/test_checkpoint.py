"""Checkpoint I/O: atomic writes, safe loading, architecture mismatch messages, RNG state (fdr.train.checkpoint)."""
import random
import zipfile

import numpy as np
import pytest
import torch

from fdr.config import ModelConfig
from fdr.models import build
from fdr.train import checkpoint as ckpt
from tests.helpers import TINY_MODEL, tiny_checkpoint


class Payload:  # any pickled object beyond tensors and plain data
    pass


def test_save_and_load_model_roundtrip(tmp_path):
    net = tiny_checkpoint(tmp_path / "c.pt")
    model, meta = ckpt.load_model(tmp_path / "c.pt")
    assert not model.training and meta["iteration"] == 3 and meta["model_name"] == "fdrnet"
    x = torch.rand(1, 3, 20, 20)
    with torch.no_grad():
        assert torch.equal(model(x), net.eval()(x))
    assert not list(tmp_path.glob(".*.tmp"))


def test_architecture_mismatch_lists_the_keys(tmp_path):
    tiny_checkpoint(tmp_path / "c.pt")
    state = ckpt.read(tmp_path / "c.pt")
    other = build("fdrnet", ModelConfig(**{**TINY_MODEL, "channels": 12, "phases": 2}))
    with pytest.raises(ckpt.CheckpointError) as err:
        ckpt.load_state_strict(other, state["model"], "c.pt")
    msg = str(err.value)
    assert "c.pt" in msg and "missing in checkpoint:" in msg and "shape mismatch:" in msg
    assert "(8, 3, 3, 3) vs model (12, 3, 3, 3)" in msg  # the first convolution's weight, 8 vs 12 channels


def test_unsafe_or_broken_files_are_refused(tmp_path):
    torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION, "obj": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ckpt.CheckpointError, match="evil.pt: not a readable checkpoint"):
        ckpt.read(tmp_path / "evil.pt")
    tiny_checkpoint(tmp_path / "c.pt")
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ckpt.CheckpointError, match="cut.pt: not a readable checkpoint"):
        ckpt.read(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(ckpt.CheckpointError, match="not an fdr checkpoint"):
        ckpt.read(tmp_path / "foreign.pt")
    with pytest.raises(ckpt.CheckpointError, match="missing.pt: checkpoint not found"):
        ckpt.read(tmp_path / "missing.pt")


def test_load_model_refuses_missing_or_non_finite_weights(tmp_path):
    net = tiny_checkpoint(tmp_path / "c.pt")
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    torch.save({k: v for k, v in state.items() if k != "model"}, tmp_path / "noweights.pt")
    with pytest.raises(ckpt.CheckpointError, match="noweights.pt: no 'model' entry"):
        ckpt.load_model(tmp_path / "noweights.pt")
    names = list(net.state_dict())
    state["model"][names[-1]] = torch.full_like(state["model"][names[-1]], float("inf"))
    torch.save(state, tmp_path / "inf.pt")
    with pytest.raises(ckpt.CheckpointError, match=rf"inf.pt: 1 weight tensor\(s\) hold NaN .* \(first: {names[-1]}\)"):
        ckpt.load_model(tmp_path / "inf.pt")


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "f.bin"
    ckpt.atomic_write(target, lambda f: f.write(b"old"))

    def failing(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        ckpt.atomic_write(target, failing)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_rng_state_roundtrip_through_a_file(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    ckpt.save(tmp_path / "r.pt", {"rng": ckpt.rng_state()})
    expected = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    ckpt.set_rng_state(ckpt.read(tmp_path / "r.pt")["rng"])
    got = (random.random(), np.random.rand(), torch.rand(3))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_git_revision_outside_a_repository(tmp_path):
    from fdr.provenance import git_revision

    assert git_revision(tmp_path) == "unknown"


def test_a_small_file_declaring_a_large_tensor_is_refused_before_loading(tmp_path):
    """`weights_only` stops code, not size: the same members deflated make a 16 KB file that torch.load would
    inflate to 64 MiB (a 2 GiB tensor works the same way)."""
    tiny_checkpoint(tmp_path / "c.pt")
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    state["model"]["head.weight"] = torch.zeros(16 * 2**20)
    torch.save(state, tmp_path / "big.pt")
    with zipfile.ZipFile(tmp_path / "big.pt") as src, \
            zipfile.ZipFile(tmp_path / "bomb.pt", "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    assert (tmp_path / "bomb.pt").stat().st_size < 200_000
    with pytest.raises(ckpt.CheckpointError, match=r"bomb.pt: its members declare 67,[\d,]+ bytes in a file of [\d,]+ "
                                                   r"bytes \(\d+ compressed"):
        ckpt.load_model(tmp_path / "bomb.pt")
    assert ckpt.read(tmp_path / "big.pt")["iteration"] == 3  # the same tensor, honestly stored: read


def test_a_stored_configuration_unlike_the_weights_is_refused_before_building(tmp_path):
    """A checkpoint of an 8-channel model whose stored configuration claims 256 channels: the architecture is
    counted on the meta device and compared with the file, so the large model is never allocated."""
    tiny_checkpoint(tmp_path / "c.pt")
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    state["model_cfg"] = {**state["model_cfg"], "channels": 256}
    torch.save(state, tmp_path / "claims.pt")
    with pytest.raises(ckpt.CheckpointError, match=r"claims.pt: its configuration \(fdrnet with channels 256, "
                                                   r".*\) has [\d,]+ weights but the file holds [\d,]+; not built"):
        ckpt.load_model(tmp_path / "claims.pt")
    big = ModelConfig(channels=1024, phases=64)  # within each key's range, 15.6 billion weights together
    with pytest.raises(ckpt.CheckpointError, match=r"run x: fdrnet with channels 1024, .*phases 64.* has "
                                                   r"15,563,238,403 weights, above the limit of 100,000,000"):
        ckpt.check_model_size("fdrnet", big, "run x")


def test_a_model_setting_that_changes_no_shape_still_changes_the_fingerprint(tmp_path):
    """``model.phase`` switches two ReLU joins: the tensors are the same, so only the settings tell the runs apart
    (a run trained with one must not be resumed with the other)."""
    import dataclasses

    from fdr import config
    from fdr.config import ModelConfig
    from fdr.models import build
    from tests.helpers import TINY_MODEL, make_patch_set

    cfg = config.from_dict({})
    folder = make_patch_set(tmp_path / "p", n=4, patch=8)
    plain = ModelConfig(**TINY_MODEL)
    durn_p = dataclasses.replace(plain, phase="durn_p")
    fps = [ckpt.fingerprint(cfg, "fdrnet", build("fdrnet", m), folder, m) for m in (plain, durn_p)]
    assert ckpt.differences(*fps) == ["settings.phase"]
