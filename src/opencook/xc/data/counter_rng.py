"""Counter-based random numbers: every value is a hash of its coordinates, not a position in a stream.

A rank can then draw just its own rows of a global batch (``row`` is the global row index) and get
exactly what a single process drawing all rows would -- no generator state to carry or checkpoint.
splitmix64's finaliser is the mixer; it passes BigCrush as a counter-based generator.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV_2_53 = 1.0 / (1 << 53)


def mix64(x: np.ndarray | int) -> np.ndarray:
    """splitmix64 finaliser on uint64 (wrapping arithmetic is the point, so overflow is silenced)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def key(*parts: int) -> np.uint64:
    """One 64-bit key from a tuple of non-negative ints (seed, stream tag, step, ...)."""
    acc = np.uint64(0)
    with np.errstate(over="ignore"):
        for part in parts:
            acc = mix64(acc ^ (mix64(np.uint64(part & 0xFFFFFFFFFFFFFFFF)) + _GOLDEN))[()]
    return np.uint64(acc)


def row_keys(base: np.uint64, rows: np.ndarray) -> np.ndarray:
    """A key per row: ``rows`` are global row indices, so the key does not depend on who draws it."""
    with np.errstate(over="ignore"):
        return mix64(base ^ mix64(rows.astype(np.uint64) * _GOLDEN + np.uint64(1)))


def bits(keys: np.ndarray, count: int, stream: int = 0) -> np.ndarray:
    """``[len(keys), count]`` uint64: column ``j`` is ``mix64(key + (stream*2**32 + j + 1) * golden)``."""
    cols = np.arange(count, dtype=np.uint64) + np.uint64((stream << 32) + 1)
    with np.errstate(over="ignore"):
        return mix64(keys[:, None] + cols[None, :] * _GOLDEN)


def uniform(keys: np.ndarray, count: int, stream: int = 0) -> np.ndarray:
    """Float64 uniforms in (0, 1), never exactly 0 or 1 (safe for log)."""
    return ((bits(keys, count, stream) >> np.uint64(11)).astype(np.float64) + 0.5) * _INV_2_53


def normal(keys: np.ndarray, count: int, stream: int = 0) -> np.ndarray:
    """Standard normals by Box-Muller, ``[len(keys), count]`` float64."""
    pairs = (count + 1) // 2
    u = uniform(keys, 2 * pairs, stream)
    radius = np.sqrt(-2.0 * np.log(u[:, :pairs]))
    angle = 2.0 * np.pi * u[:, pairs:]
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)], axis=1)[:, :count]
