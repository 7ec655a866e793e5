"""MinHash signatures, vectorised over a batch of files and chunked so the work buffer stays in cache.

Permutation i maps a shingle to ``h_i(x) = a_i * x mod 2^32``, where ``x`` is the low 32 bits of the
(already murmur-mixed) 64-bit shingle hash XOR a seeded 32-bit mask, and ``a_i`` is odd, so each
``h_i`` is a bijection of the 32-bit space; the signature entry is the minimum over the file's
shingles. The mask and the ``a_i`` come from ``numpy.random.default_rng(seed)``. One wrapping uint32
multiply per (shingle, permutation) is what numpy vectorises best (SIMD); the shingle hash already
supplies the randomness and the multipliers decorrelate the permutations — the tests check that
the band collision rate follows the S-curve ``1 - (1 - s^r)^b``. (datasketch's
``(a*x + b) mod (2^61 - 1)`` costs a uint64 multiply, add and modulo per element: ~5x slower.)

A batch's shingles are concatenated; each chunk of ``chunk_elems // num_perm`` shingles is mapped
through all permutations into one (rows, num_perm) buffer and reduced per file with ``min(axis=0)``
(``np.minimum.reduceat`` along axis 0 is not vectorised and ~10x slower); a long file spans several
chunks and its partial minima are folded together.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

EMPTY = np.uint32(0xFFFFFFFF)


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.uint32]:
    """The odd multipliers ``a`` and the input mask of the seeded permutation family."""
    rng = np.random.default_rng([seed, 0x6D696E68617368])
    a = rng.integers(0, 1 << 32, num_perm, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    mask = np.uint32(rng.integers(0, 1 << 32, dtype=np.uint64))
    a.setflags(write=False)
    return a, mask


def signature_batch(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int = 0,
                    chunk_elems: int = 1 << 18, backend: str = "numpy") -> np.ndarray:
    """(files, num_perm) uint32 signatures; a file with no shingle gets all ``0xFFFFFFFF``."""
    if backend == "rensa":
        return rensa_signature_batch(hashes, offsets, num_perm, seed)
    a, mask = permutations(num_perm, seed)
    n_docs = len(offsets) - 1
    sig = np.full((n_docs, num_perm), EMPTY, dtype=np.uint32)
    x = hashes.astype(np.uint32)
    x ^= mask
    total = len(x)
    rows = max(1, chunk_elems // num_perm)
    buf = np.empty((rows, num_perm), dtype=np.uint32)
    ends = offsets[1:]
    doc = 0
    for s in range(0, total, rows):
        e = min(total, s + rows)
        out = buf[: e - s]
        np.multiply(x[s:e, None], a, out=out)
        doc = int(np.searchsorted(ends, s, side="right"))
        while doc < n_docs and offsets[doc] < e:
            lo, hi = max(int(offsets[doc]), s) - s, min(int(ends[doc]), e) - s
            if hi > lo:
                part = out[lo:hi].min(axis=0)
                if offsets[doc] < s:
                    np.minimum(sig[doc], part, out=sig[doc])
                else:
                    sig[doc] = part
            if ends[doc] > e:
                break
            doc += 1
    return sig


def rensa_signature_batch(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int = 0) -> np.ndarray:
    """The same batch through rensa's ``RMinHash`` (Rust) on the same uint64 shingle hashes.

    rensa's family differs from ours, so its signatures do too; an empty file also gets all
    ``0xFFFFFFFF``. The digest matrix comes back as rows of Python ints, turned into one array.
    """
    from rensa import RMinHash

    if len(offsets) <= 1:
        return np.empty((0, num_perm), dtype=np.uint32)
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(
        np.ascontiguousarray(hashes, dtype=np.uint64), np.ascontiguousarray(offsets, dtype=np.uint64),
        num_perm, seed)
    return np.array(matrix.to_rows(), dtype=np.uint32).reshape(len(offsets) - 1, num_perm)
