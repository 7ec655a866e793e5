"""Text -> sorted unique 64-bit hashes of its word n-grams, a batch of files at a time.

Tokens are the runs of ``\\w`` characters (after lower-casing, see ``config``). A batch is turned into
one byte buffer in which every non-word byte is a space: an ASCII file is encoded and translated
with one ``bytes.translate`` (non-word bytes to spaces, A-Z to a-z; identical to ``re.findall`` on
ASCII); another file is lower-cased with ``str.lower``, its non-ASCII non-word characters replaced by
spaces with one ``re.sub``, and encoded; files are separated by a space. Everything after that is numpy over the whole batch: token boundaries from
``np.flatnonzero`` on the word mask; each token's hash is the polynomial ``sum_k byte_k * P^k``
(``k`` = position in the token, wrapping uint64, odd ``P``) read off a running sum, plus the token
length times a constant, through murmur3's 64-bit finaliser. The n-gram hash is then a polynomial
``g = (...(t0*M + t1)*M + ...) + t(n-1)`` over the token hashes (wrapping uint64), finished by the
same finaliser. The hashes depend only on the UTF-8 bytes of the tokens: not on the process, the
platform or which optional packages are installed. (Polynomial hashing mod 2^64 has known
colliding inputs, Thue-Morse strings of 2^11+ bytes; a collision merges two distinct tokens, which
at worst raises a similarity a little. The previous version hashed tokens with 8-byte BLAKE2b in a
per-process dict: about 2x slower end to end, with different signatures.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"\w+")
_NON_ASCII_NON_WORD = re.compile(r"[^\w\x00-\x7f]+")
_WORD = {c for c in range(128) if chr(c).isalnum() or c == 0x5F}
_LOWER_TABLE = bytes((c | 0x20 if 65 <= c <= 90 else c) if c in _WORD else 0x20 for c in range(128)) + bytes(
    range(128, 256))
_KEEP_TABLE = bytes(c if c in _WORD else 0x20 for c in range(128)) + bytes(range(128, 256))
_MUL = np.uint64(0x9E3779B97F4A7C15)
_P = np.uint64(0x100000001B3)  # odd base for the keys of chunks past the 8th
_LEN = np.uint64(0xC2B2AE3D27D4EB4F)


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


def _buffer(texts: Sequence[str], normalise: str) -> tuple[bytes, np.ndarray]:
    """The batch as bytes whose non-word bytes are spaces (plus 9 trailing spaces), and each file's start."""
    parts = []
    for text in texts:
        if text.isascii():
            parts.append(text.encode("ascii"))
        else:
            # non-ASCII non-word characters become spaces here, ASCII ones in the translate below
            text = _NON_ASCII_NON_WORD.sub(" ", text.lower() if normalise == "lower" else text)
            parts.append(text.encode("utf-8", "surrogatepass"))
    # the table maps bytes >= 0x80 (UTF-8 of non-ASCII word characters) to themselves
    joined = b" ".join(parts).translate(_LOWER_TABLE if normalise == "lower" else _KEEP_TABLE) + b" " * 9
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(p) + 1 for p in parts], out=starts[1:])
    return joined, starts


_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_KEYS = np.random.default_rng(0x746F6B656E).integers(0, 1 << 63, 8, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_SHORT = 8 * len(_KEYS)  # tokens up to this many bytes are hashed fully vectorised


def _long_token(data: bytes, start: int, length: int) -> int:
    """The chunk sum of a token longer than ``_SHORT`` bytes, from chunk 8 on (same formula)."""
    tail = data[start + _SHORT:start + length]
    words = np.frombuffer(tail + bytes(-len(tail) % 8), dtype="<u8")
    keys = _chunk_keys(len(words) + len(_KEYS))[len(_KEYS):]
    with np.errstate(over="ignore"):
        return int((words * keys).sum(dtype=np.uint64))


def _chunk_keys(n: int) -> np.ndarray:
    """Multiplier of the token's ``j``-th 8-byte chunk: ``_KEYS[j]``, then ``_KEYS[7] * P^(j-7)``."""
    keys = np.empty(n, dtype=np.uint64)
    m = min(n, len(_KEYS))
    keys[:m] = _KEYS[:m]
    if n > len(_KEYS):
        p = np.full(n - len(_KEYS), _P, dtype=np.uint64)
        with np.errstate(over="ignore"):
            keys[len(_KEYS):] = np.multiply.accumulate(p) * _KEYS[-1]
    return keys


def token_hashes(texts: Sequence[str], normalise: str = "lower") -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every token of a batch, in order, and how many tokens each file has.

    A token's hash is ``fmix64(sum_j chunk_j * key_j + length * C)`` over its little-endian 8-byte
    chunks (the last zero-padded): the chunks are read straight from the buffer through an
    unaligned uint64 view, so a token costs a few vectorised operations per 8 bytes, and only
    tokens longer than 64 bytes (rare: encoded blobs) take a per-token step.
    """
    raw, file_starts = _buffer(texts, normalise)
    buf = np.frombuffer(raw, dtype=np.uint8)
    n = len(buf) - 8  # the buffer ends with 8 spaces, so every 8-byte read stays inside it
    word = buf[:n + 1] != 0x20
    edge = np.flatnonzero(word[1:] != word[:-1]) + 1
    if n > 0 and word[0]:
        edge = np.r_[0, edge]
    tok_start, tok_end = edge[0::2], edge[1::2]
    lengths = tok_end - tok_start
    counts = np.diff(np.searchsorted(tok_start, file_starts))
    if not len(tok_start):
        return np.empty(0, dtype=np.uint64), counts
    u64 = np.ndarray(shape=(n + 1,), dtype="<u8", buffer=raw, offset=0, strides=(1,))
    with np.errstate(over="ignore"):
        th = lengths.astype(np.uint64) * _LEN
        th += (u64[tok_start] & _MASKS[np.minimum(lengths, 8)]) * _KEYS[0]
        for j in range(1, len(_KEYS)):
            sel = np.flatnonzero(lengths > 8 * j)
            if not len(sel):
                break
            rest = np.minimum(lengths[sel] - 8 * j, 8)
            th[sel] += (u64[tok_start[sel] + 8 * j] & _MASKS[rest]) * _KEYS[j]
        for k in np.flatnonzero(lengths > _SHORT).tolist():
            th[k] += np.uint64(_long_token(raw, int(tok_start[k]), int(lengths[k])))
    return fmix64(th), counts


def shingle_batch(texts: Sequence[str], ngram: int = 5,
                  normalise: str = "lower") -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of many files: ``(hashes, offsets)``, file i owning ``hashes[offsets[i]:offsets[i+1]]``.

    Each file's slice is sorted and unique. A file with no token has an empty slice.
    """
    th, lengths = token_hashes(texts, normalise)
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
