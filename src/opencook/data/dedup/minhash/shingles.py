"""Text -> sorted unique 64-bit hashes of its word n-grams, a batch of files at a time.

Tokens are the runs of ``\\w`` characters (after lower-casing, see ``config``). For an ASCII file they
come from one ``bytes.translate`` (non-word bytes to spaces, A-Z to a-z) and ``bytes.split()``, ~5x
faster than ``re.findall`` and identical to it on ASCII; other files use ``re.findall(r"\\w+")``. Each
distinct token is hashed once per process (8-byte BLAKE2b of its UTF-8 bytes, kept in a bounded
cache), so the per-token cost is one dict lookup. The n-gram hash is then computed for the whole
batch at once in numpy: a polynomial ``g = (...(t0*M + t1)*M + ...) + t(n-1)`` over the token
hashes (wrapping uint64), finished by the murmur3 64-bit mixer. Because token hashes are
BLAKE2b-derived and the combination is fixed, a shingle's hash does not depend on the process,
the platform or which optional packages are installed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"\w+")
_WORD = {c for c in range(128) if chr(c).isalnum() or c == 0x5F}
_LOWER_TABLE = bytes((c | 0x20 if 65 <= c <= 90 else c) if c in _WORD else 0x20 for c in range(128)) + bytes(
    range(128, 256))
_KEEP_TABLE = bytes(c if c in _WORD else 0x20 for c in range(128)) + bytes(range(128, 256))
_MUL = np.uint64(0x9E3779B97F4A7C15)
_CACHE_LIMIT = 1 << 21


class _TokenHashes(dict):
    def __missing__(self, token: bytes) -> int:
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        value = int.from_bytes(hashlib.blake2b(token, digest_size=8).digest(), "little")
        self[token] = value
        return value


_TOKEN_HASHES = _TokenHashes()


def tokens(text: str, normalise: str = "lower") -> list[bytes]:
    """The file's tokens as UTF-8 bytes, in order."""
    if text.isascii():
        return text.encode("ascii").translate(_LOWER_TABLE if normalise == "lower" else _KEEP_TABLE).split()
    found = _TOKEN.findall(text.lower() if normalise == "lower" else text)
    return [t.encode("utf-8", "surrogatepass") for t in found]


def fmix64(h: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser, in place on a uint64 array."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB93FE53B9A2B)
    h ^= h >> np.uint64(33)
    return h


def shingle_batch(texts: Sequence[str], ngram: int = 5,
                  normalise: str = "lower") -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of many files: ``(hashes, offsets)``, file i owning ``hashes[offsets[i]:offsets[i+1]]``.

    Each file's slice is sorted and unique. A file with no token has an empty slice.
    """
    lookup = _TOKEN_HASHES.__getitem__
    toks: list[bytes] = []
    lengths = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        t = tokens(text, normalise)
        lengths[i] = len(t)
        toks.extend(t)
    th = np.fromiter(map(lookup, toks), dtype=np.uint64, count=len(toks))
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])

    with np.errstate(over="ignore"):
        m = len(th) - ngram + 1
        if m > 0:
            g = th[:m].copy()
            for k in range(1, ngram):
                g *= _MUL
                g += th[k:k + m]
            fmix64(g)
        else:
            g = np.empty(0, dtype=np.uint64)
        parts: list[np.ndarray] = []
        counts = np.zeros(len(texts), dtype=np.int64)
        for i in range(len(texts)):
            s, n = int(starts[i]), int(lengths[i])
            if n >= ngram:
                u = np.sort(g[s:s + n - ngram + 1])
                if len(u) > 1:
                    u = u[np.r_[True, u[1:] != u[:-1]]]
            elif n > 0:
                u = th[s:s + n].copy()
                acc = u[:1].copy()
                for k in range(1, n):
                    acc *= _MUL
                    acc += u[k:k + 1]
                u = fmix64(acc)
            else:
                continue
            parts.append(u)
            counts[i] = len(u)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    hashes = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
    return hashes, offsets


def shingles(text: str, ngram: int = 5, normalise: str = "lower") -> np.ndarray:
    """Sorted unique shingle hashes of one text."""
    return shingle_batch([text], ngram, normalise)[0]
