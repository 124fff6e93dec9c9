"""``PatchDataset``: the crop stage's uint8 ``.npy`` patch arrays as a torch Dataset; ``BatchOrder``: the
training batch sequence over it.

Each item is read on its own with a positioned read (``os.pread``) at ``header + i * P*P*3`` of the
memory-mappable ``.npy`` files, so the set is never held in RAM, let alone as float: the paper-scale set
(249,344 pairs of 63 x 63 x 3 = 5.9 GB as uint8) trains with a resident set of a few patches plus the batch.
(Reading through ``numpy.memmap`` would work too, but every touched page of a mapping counts towards the
process's RSS, which then grows towards the file size over an epoch.) Files are opened lazily in each process
that reads (DataLoader workers included). Where ``os.pread`` does not exist, a read-only memmap is used.
:meth:`arrays` returns the memmaps for bulk readers (evaluation).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler


def npy_layout(path: Path) -> tuple[tuple, np.dtype, int]:
    """``(shape, dtype, data offset)`` of a C-ordered ``.npy`` file (numpy's own header reader; opening the
    map reads no data)."""
    m = np.load(path, mmap_mode="r")
    if not m.flags.c_contiguous:
        raise ValueError(f"{path}: expected a C-ordered array")
    return m.shape, m.dtype, m.offset


class PatchDataset(Dataset):
    """``(input, target)`` uint8 tensors 3 x P x P from ``folder/{input,target}.npy`` (N x P x P x 3, NHWC).

    ``crop > 0``: a random ``crop`` x ``crop`` window, the same for input and target, drawn from
    ``default_rng((seed, epoch, i))`` so it is reproducible and independent of worker assignment; advance the
    epoch with :meth:`set_epoch`. ``augment="dihedral"``: then one of the 8 flips / 90-degree rotations of the
    square, drawn from the same generator, the same for input and target (the distortions of the protocol are
    isotropic, so every transform of a training pair is another valid pair). The trainer converts with
    ``x.float().div_(255)``.
    """

    def __init__(self, folder, crop: int = 0, seed: int = 0, augment: str = "none"):
        self.folder = Path(folder)
        layouts = []
        for name in ("input.npy", "target.npy"):
            path = self.folder / name
            if not path.is_file():
                raise FileNotFoundError(f"{path}: missing; run the crop stage first")
            layouts.append(npy_layout(path))
        (shape, dtype, self._offset_in), (shape_t, dtype_t, self._offset_tg) = layouts
        if shape != shape_t or dtype != dtype_t:
            raise ValueError(f"{self.folder}: input.npy {dtype} {shape} and target.npy {dtype_t} {shape_t} differ")
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3 or dtype != np.uint8:
            raise ValueError(f"{self.folder}/input.npy: expected uint8 N x P x P x 3, got {dtype} {shape}")
        self.n, self.patch = shape[0], shape[1]
        self._item_bytes = self.patch * self.patch * 3
        if crop < 0 or crop > self.patch:
            raise ValueError(f"crop: expected 0..{self.patch} (patch size), got {crop}")
        if augment not in ("none", "dihedral"):
            raise ValueError(f"train.augment: expected none or dihedral, got {augment!r}")
        self.crop, self.seed, self.epoch, self.augment = crop, seed, 0, augment
        self._fds = None
        self._maps = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Read-only memmaps ``(input, target)``, N x P x P x 3."""
        if self._maps is None:
            self._maps = tuple(np.load(self.folder / n, mmap_mode="r") for n in ("input.npy", "target.npy"))
        return self._maps

    def __getstate__(self):  # each process opens its own descriptors / maps
        state = dict(self.__dict__)
        state["_fds"] = state["_maps"] = None
        return state

    def __del__(self):
        for fd in getattr(self, "_fds", None) or ():
            try:
                os.close(fd)
            except OSError:
                pass

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def _read(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(os, "pread"):
            inp, tgt = self.arrays()
            return np.array(inp[i]), np.array(tgt[i])
        if self._fds is None:
            self._fds = tuple(os.open(self.folder / n, os.O_RDONLY) for n in ("input.npy", "target.npy"))
        out = []
        for fd, offset in zip(self._fds, (self._offset_in, self._offset_tg)):
            buf = os.pread(fd, self._item_bytes, offset + i * self._item_bytes)
            if len(buf) != self._item_bytes:
                raise ValueError(f"{self.folder}: patch {i} is truncated (file shorter than its header says)")
            out.append(np.frombuffer(buf, dtype=np.uint8).reshape(self.patch, self.patch, 3))
        return out[0], out[1]

    def __getitem__(self, i: int):
        if not -self.n <= i < self.n:
            raise IndexError(f"patch index {i} out of range for {self.n} patches")
        i = int(i) % self.n
        a, b = self._read(i)
        rng = np.random.default_rng((self.seed, self.epoch, i)) if self.crop or self.augment != "none" else None
        if self.crop:
            y, x = rng.integers(0, self.patch - self.crop + 1, size=2)
            a = a[y:y + self.crop, x:x + self.crop]
            b = b[y:y + self.crop, x:x + self.crop]
        if self.augment == "dihedral":
            k = int(rng.integers(8))
            a, b = dihedral(a, k), dihedral(b, k)
        return (torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))),
                torch.from_numpy(np.ascontiguousarray(b.transpose(2, 0, 1))))


def dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """Transform ``k`` (0..7) of the square's symmetry group on an H x W x C image: ``k % 4`` quarter turns, then
    a left-right flip when ``k >= 4`` (0 is the identity)."""
    out = np.rot90(img, k % 4, axes=(0, 1))
    return out[:, ::-1] if k >= 4 else out


class BatchOrder:
    """The global batch sequence: epoch ``e`` is a permutation of the patches drawn from ``(seed, e)``
    (``DistributedSampler``'s), cut into ``n // B`` batches of ``B`` patches (the incomplete tail is dropped).
    Under DDP each of ``world_size`` ranks takes an interleaved share of the same global batch, so the
    sequence does not depend on the number of processes, and an iteration number alone says where it stands
    (resuming skips no data and repeats none)."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        n = len(dataset)
        if batch_size % world_size:
            raise ValueError(f"train.batch_size: {batch_size} is the global batch and must be divisible by the "
                             f"{world_size} processes")
        if n < batch_size:
            raise ValueError(f"training set: {n} patches, fewer than train.batch_size = {batch_size}")
        self.dataset, self.seed, self.rank, self.world_size = dataset, seed, rank, world_size
        self.local_batch = batch_size // world_size
        self.per_epoch = n // batch_size

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        sampler = DistributedSampler(self.dataset, num_replicas=self.world_size, rank=self.rank, shuffle=True,
                                     seed=self.seed, drop_last=True)
        sampler.set_epoch(epoch)
        idx = list(sampler)
        b = self.local_batch
        return [idx[k * b:(k + 1) * b] for k in range(self.per_epoch)]

    def stream(self, start_iteration: int, num_workers: int = 0, pin_memory: bool = False):
        """Yield ``(input, target)`` uint8 batches from iteration ``start_iteration`` on, forever."""
        epoch, position = divmod(start_iteration, self.per_epoch)
        while True:
            if hasattr(self.dataset, "set_epoch"):
                self.dataset.set_epoch(epoch)
            loader = DataLoader(
                self.dataset, batch_sampler=self.epoch_batches(epoch)[position:],
                num_workers=num_workers, pin_memory=pin_memory,
                generator=torch.Generator().manual_seed(self.seed),  # keep the global RNG untouched
            )
            yield from loader
            epoch, position = epoch + 1, 0
