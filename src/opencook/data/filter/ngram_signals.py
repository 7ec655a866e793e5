"""Word-statistics signals shared by the code (``qsc_code_*``) and text (``qsc_doc_*``) families.

All operate on the normalised words of :class:`Document` (RedPajama-V2 definitions) and round to
8 decimals like the reference.
"""

from __future__ import annotations

import math

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
    """Characters in the most frequent word n-gram (first seen wins a tie), times its count."""

    def signal(doc: Document) -> float:
        if len(doc.words) < n:
            return 0.0
        _, counts = doc.ngram_counts(n)
        gram, count = max(counts.items(), key=_count)  # max keeps the first maximum
        if count <= 1:
            return 0.0
        return round(sum(map(len, gram)) * count / doc.total_word_chars, PRECISION)

    signal.__name__ = f"top_{n}gram"
    return signal


def _count(item: tuple) -> int:
    return item[1]


def dupe_ngrams(n: int):
    """Fraction of word characters covered by n-grams that occur more than once (each word once)."""

    def signal(doc: Document) -> float:
        words = doc.words
        if len(words) < n:
            return 0.0
        grams, counts = doc.ngram_counts(n)
        lengths = doc.word_lengths
        covered = bytearray(len(words))
        for i, g in enumerate(grams):
            if counts[g] > 1:
                covered[i : i + n] = b"\x01" * n
        if doc.total_word_chars == 0:
            return 0.0
        duped = sum(ln for ln, c in zip(lengths, covered, strict=True) if c)
        return round(duped / doc.total_word_chars, PRECISION)

    signal.__name__ = f"dupe_{n}grams"
    return signal


def frac_chars_replacement_symbols(doc: Document) -> float | None:
    if not doc.text:
        return None
    return round(doc.text.count("\ufffd") / len(doc.text), PRECISION)


def frac_chars_digital(doc: Document) -> float:
    if not doc.visible:
        return 1.0
    return round(sum(c.isdigit() for c in doc.visible) / len(doc.visible), PRECISION)


def frac_chars_whitespace(doc: Document) -> float:
    if not doc.text:
        return 1.0
    return round((len(doc.text) - len(doc.visible)) / len(doc.text), PRECISION)
