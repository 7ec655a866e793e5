"""Word-statistics signals shared by the code (``qsc_code_*``) and text (``qsc_doc_*``) families.

All operate on the normalised words of :class:`Document` (RedPajama-V2 definitions) and round to
8 decimals like the reference.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from opencook.data.filter.document import Document

PRECISION = 8


def num_words(doc: Document) -> int:
    return len(doc.words)


def num_chars(doc: Document) -> float:
    return float(len(doc.text))


def mean_word_length(doc: Document) -> float | None:
    if not doc.words:
        return None
    return round(doc.total_word_chars / len(doc.words), PRECISION)


def frac_words_unique(doc: Document) -> float | None:
    if not doc.words:
        return None
    return round(len(doc.word_counts) / len(doc.words), PRECISION)


def entropy_unigram(doc: Document) -> float | None:
    if not doc.words:
        return None
    total = len(doc.words)
    return round(sum(-c / total * math.log(c / total) for c in doc.word_counts.values()), PRECISION)


def top_ngram(n: int):
    """Characters in the most frequent word n-gram (the first seen wins a tie), times its count."""

    def signal(doc: Document) -> float:
        if len(doc.words) < n:
            return 0.0
        count = doc.ngram_top_count(n)
        if count <= 1:
            return 0.0
        first = int(np.argmax(doc.ngram_occurrences(n) == count))
        chars = int(doc.word_length_array[first : first + n].sum())
        return round(chars * count / doc.total_word_chars, PRECISION)

    signal.__name__ = f"top_{n}gram"
    return signal


def dupe_ngrams(n: int):
    """Fraction of word characters covered by n-grams that occur more than once (each word once)."""

    def signal(doc: Document) -> float:
        if len(doc.words) < n or doc.total_word_chars == 0 or doc.ngram_top_count(n) <= 1:
            return 0.0
        dup = (doc.ngram_occurrences(n) > 1).astype(np.int64)
        covered = np.convolve(dup, np.ones(n, dtype=np.int64)) > 0
        return round(int(doc.word_length_array[covered].sum()) / doc.total_word_chars, PRECISION)

    signal.__name__ = f"dupe_{n}grams"
    return signal


def frac_chars_replacement_symbols(doc: Document) -> float | None:
    if not doc.text:
        return None
    return round(doc.text.count("\ufffd") / len(doc.text), PRECISION)


_ASCII_DIGITS = b"0123456789"
_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _count_ascii_and_other(s: str, ascii_bytes: bytes, pred) -> int:
    """How many characters of ``s`` are in ``ascii_bytes`` (ASCII) or satisfy ``pred`` (others).

    ASCII characters are counted by byte deletion; the others are tallied once per distinct
    character, so ``pred`` runs once per distinct non-ASCII character instead of per character.
    """
    if s.isascii():
        b = s.encode("ascii")
    else:
        b = s.encode("ascii", "ignore")  # the ASCII characters only
    n = len(b) - len(b.translate(None, ascii_bytes))
    if len(b) != len(s):
        n += sum(k for c, k in Counter("".join(_NON_ASCII.findall(s))).items() if pred(c))
    return n


def count_digits(s: str) -> int:
    """``sum(c.isdigit() for c in s)``."""
    return _count_ascii_and_other(s, _ASCII_DIGITS, str.isdigit)


def count_alpha(s: str) -> int:
    """``sum(c.isalpha() for c in s)``."""
    return _count_ascii_and_other(s, _ASCII_LETTERS, str.isalpha)


def frac_chars_digital(doc: Document) -> float:
    if not doc.visible:
        return 1.0
    return round(count_digits(doc.visible) / len(doc.visible), PRECISION)


def frac_chars_whitespace(doc: Document) -> float:
    if not doc.text:
        return 1.0
    return round((len(doc.text) - len(doc.visible)) / len(doc.text), PRECISION)
