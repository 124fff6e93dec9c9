"""Gaussian noise field of the synthesis (``imnoise``'s additive N(0, sigma^2)), drawn by a compiled sampler.

After the blur, the noise is the costliest step of the protocol: on the project's CPU torch's ``normal_`` costs
2.4 ns per value and numpy's generators 6.8-9.0 ns, more than the JPEG codec's 2.2 ns per value. This sampler
(numba) costs 1.2-1.3 ns per value (reports/benchmarks.md).

Method (inverse transform):

- random bits: SplitMix64 (Steele, Lea & Flood 2014, the seeding generator of the xoshiro family), seeded from
  the caller's numpy Generator, so numpy stays the single source of seeds; one 64-bit word gives two values;
- a 32-bit half ``h`` selects one of 2^16 equiprobable bins by its high 16 bits: bin ``i`` is
  ``[Phi^-1(i/2^16), Phi^-1((i+1)/2^16))``, so every bin has exactly its Gaussian probability, and the low 16
  bits place the value linearly inside the bin. The largest distance between the resulting distribution
  function and Phi is 1.3e-6 (in the outermost interior bins, |z| near 4.1; 2e-8 for |z| < 3);
- the two outer bins (|z| > 4.17, probability 2^-16 each) draw from the exact Gaussian tail with Marsaglia's
  method (the tail step of the ziggurat), from a second SplitMix64 stream, so nothing is truncated.

Values are drawn in C order of the output array; the same seed gives the same field on any machine (integer
bits, float32 arithmetic without contraction).
"""
from __future__ import annotations

import math

import numba
import numpy as np
from scipy.special import ndtri

BITS = 16
BINS = 1 << BITS
_EDGE = 1  # bins per side drawn from the exact tail
_EDGES = ndtri(np.arange(BINS + 1, dtype=np.float64) / BINS)  # bin edges, +-inf at the ends
TAIL = float(-_EDGES[_EDGE])  # |z| beyond which values come from the tail sampler (4.17)
_Q = np.where(np.isfinite(_EDGES[:-1]), _EDGES[:-1], 0.0).astype(np.float32)  # lower edge of each bin
_D = np.where(np.isfinite(np.diff(_EDGES)), np.diff(_EDGES), 0.0).astype(np.float32)  # width of each bin

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32, _S11 = (np.uint64(v) for v in (30, 27, 31, 32, 11))
_LOW32 = np.uint64(0xFFFFFFFF)
_LOW16 = np.uint32(0xFFFF)
_HALF16 = np.uint32(16)
_U53 = 1.0 / 9007199254740992.0  # 2^-53
_U16 = np.float32(1.0 / BINS)
_TAIL_KEY = np.uint64(0xD1B54A32D192ED03)  # the tail stream starts at seed XOR this


@numba.njit(cache=True, nogil=True, inline="always")
def _splitmix(state):
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return state, z ^ (z >> _S31)


@numba.njit(cache=True, nogil=True)
def _tail(state, a):
    """|z| of a standard normal conditioned on |z| > a (Marsaglia 1964)."""
    while True:
        state, b1 = _splitmix(state)
        state, b2 = _splitmix(state)
        x = -math.log((np.float64(b1 >> _S11) + 1.0) * _U53) / a
        y = -math.log((np.float64(b2 >> _S11) + 1.0) * _U53)
        if y + y > x * x:
            return state, a + x


_CHUNK = 4096  # values per block; the block's tail values are drawn after it


@numba.njit(cache=True, nogil=True, inline="always")
def _value(h, mean, std, q, d):
    i = h >> _HALF16
    return mean + std * (q[i] + (np.float32(h & _LOW16) + np.float32(0.5)) * _U16 * d[i])


@numba.njit(cache=True, nogil=True, inline="always")
def _outer(h):
    return (h >> _HALF16) - np.uint32(_EDGE) >= np.uint32(BINS - 2 * _EDGE)


@numba.njit(cache=True, nogil=True)
def _fill(out, seed, mean, std, q, d, a):
    """``out[k] = mean + std z_k`` for a flat float32 ``out``, one 64-bit word per pair of values. A value in
    an outer bin is only noted (position and sign) in the main loop and drawn from the tail stream, in order
    of position, once its block is done."""
    state = np.uint64(seed)
    tail_state = state ^ _TAIL_KEY
    n = out.size
    noted = np.empty(_CHUNK, np.int64)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        count = 0
        for k in range(start, stop - 1, 2):
            state, w = _splitmix(state)
            h0 = np.uint32(w & _LOW32)
            h1 = np.uint32(w >> _S32)
            out[k] = _value(h0, mean, std, q, d)
            out[k + 1] = _value(h1, mean, std, q, d)
            if _outer(h0) | _outer(h1):  # one rarely taken branch per pair
                if _outer(h0):
                    noted[count] = 2 * k + ((h0 >> _HALF16) < _EDGE)
                    count += 1
                if _outer(h1):
                    noted[count] = 2 * k + 2 + ((h1 >> _HALF16) < _EDGE)
                    count += 1
        if (stop - start) & 1:  # the last value of an odd-sized array: half a word
            state, w = _splitmix(state)
            h0 = np.uint32(w & _LOW32)
            out[stop - 1] = _value(h0, mean, std, q, d)
            if _outer(h0):
                noted[count] = 2 * (stop - 1) + ((h0 >> _HALF16) < _EDGE)
                count += 1
        for j in range(count):
            tail_state, t = _tail(tail_state, a)
            out[noted[j] >> 1] = mean + std * np.float32(-t if noted[j] & 1 else t)
    return out


def _seed(seed: int) -> int:
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"noise seed {seed}: expected an integer in [0, 2^64)")
    return int(seed)


def fill_normal(shape, seed: int, mean: float = 0.0, std: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """float32 array of ``shape`` (or ``out``, a C-contiguous float32 array, filled in place) with
    N(mean, std^2) values from ``seed``, drawn in C order."""
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError("fill_normal: out must be a C-contiguous float32 array")
    _fill(out.reshape(-1), np.uint64(_seed(seed)), np.float32(mean), np.float32(std), _Q, _D, TAIL)
    return out


def warm_up() -> None:
    """Compile the sampler (or load it from numba's cache), e.g. before a worker pool starts."""
    fill_normal((3,), 0)
