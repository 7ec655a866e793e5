"""One shared, lazily computed view of a file for every quality signal.

The reference recomputes lines, tokens and n-grams inside many signals; here each derived view is
computed at most once per file (``cached_property``), which is most of the speed difference.
Semantics follow the reference (RedPajama-V2 document + OpenCoder's ``QSCodeDocument``):

- lines keep their trailing ``\\n`` (``[^\\n]*\\n|[^\\n]+$``), so line lengths count it;
- words are jieba tokens when ``lang`` is ``zh``, else NLTK ``wordpunct_tokenize`` tokens (``\\w+|[^\\w\\s]+``) of the raw text ("raw words")
  or of the normalised text ("normalised words": control characters removed, full-width
  punctuation made half-width, ASCII punctuation replaced by spaces, lower-cased, NFKC);
- code and comments are split with the Pygments lexer named by ``program_lang``
  (see ``comments.py``).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from functools import cached_property

import numpy as np

from opencook.data.filter.comments import split_code_comments
from opencook.data.filter.lang_signals._common import nonempty_lines
from opencook.data.filter.langid import chinese_words

_WORDPUNCT = re.compile(r"\w+|[^\w\s]+")
_LINE = re.compile(r"[^\n]*\n|[^\n]+$")

# Characters the reference's normaliser deletes or turns into a space.
_CONTROL = {c: "" for c in range(0x00, 0x20) if c not in (0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B)}
_CONTROL.update({0x2009: " ", 0x200B: " ", 0x202C: ""})


def _full_to_half() -> dict[int, str]:
    table = {
        "。": ".", "、": ",", "《": '"', "》": '"', "【": "[", "】": "]", "「": "'", "」": "'",
        "“": '"', "”": '"', "￥": "¥", "‘": "'", "’": "'",
    }  # fmt: skip
    table.update({chr(ord(h) + 0xFEE0): h for h in string.punctuation})
    return {ord(k): v for k, v in table.items()}


_HALF = _full_to_half()
_PUNCT_TO_SPACE = {ord(c): " " for c in string.punctuation}


def _composed(*tables: dict[int, str]) -> dict[int, str]:
    """One ``str.translate`` table doing what the given tables do one after the other."""
    out: dict[int, str] = {}
    for c in sorted(set().union(*tables)):
        s = chr(c)
        for t in tables:
            s = s.translate(t)
        if s != chr(c):
            out[c] = s
    return out


_NORMALIZE_TABLE = _composed(_CONTROL, _HALF, _PUNCT_TO_SPACE)
# The same table restricted to ASCII, for ``bytes.translate``: deleted bytes and a 256-byte map.
_ASCII_DELETE = bytes(c for c in range(128) if _NORMALIZE_TABLE.get(c) == "")
_NON_ASCII_TABLE = {c: v for c, v in _NORMALIZE_TABLE.items() if c >= 128}
_NON_ASCII_KEYS = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_NON_ASCII_TABLE)) + "]")
_ASCII_MAP = bytes(ord(_NORMALIZE_TABLE[c]) if c < 128 and _NORMALIZE_TABLE.get(c) else c for c in range(256))


def normalize(text: str) -> str:
    """The reference normaliser, applied to a whole text (every step is per character or per
    whitespace run, so applying it once gives the same tokens as applying it line by line).

    The three character maps are composed into one table; ASCII text goes through
    ``bytes.translate`` (NFKC and lower-casing act on ASCII exactly as ``bytes.lower`` does)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_MAP, _ASCII_DELETE).lower().decode("ascii")
    # UTF-8 encodes ASCII characters, and only them, as bytes below 0x80: the ASCII part of the map
    # runs as ``bytes.translate`` and leaves the rest alone. The non-ASCII part (full-width
    # punctuation, a few spaces) is a separate pass, only when one of its characters occurs; the
    # composed values are fixed points of the ASCII part, so the order of the passes is immaterial.
    text = text.encode("utf-8", "surrogatepass").translate(_ASCII_MAP, _ASCII_DELETE)
    text = text.decode("utf-8", "surrogatepass")
    if _NON_ASCII_KEYS.search(text) is not None:
        text = text.translate(_NON_ASCII_TABLE)
    return unicodedata.normalize("NFKC", text.lower())


# ASCII characters that survive normalisation as neither a word character nor whitespace
# (backspace, escape, delete), which ``wordpunct`` would make tokens and ``str.split`` would not.
_ASCII_ODD = tuple(c for c in map(chr, range(128)) if normalize(c) == c and not re.fullmatch(r"[\w\s]", c))


def wordpunct(text: str) -> list[str]:
    return _WORDPUNCT.findall(text)


def normalized_words(text: str) -> list[str]:
    """``wordpunct(normalize(text))``.

    Normalised ASCII text holds only lower-case letters, digits, whitespace and (rarely) a few
    control characters; without those, its tokens are exactly its whitespace-separated runs
    (``re``'s ``\\s`` and ``str.split`` agree on whitespace), which ``str.split`` finds much faster.
    Only for ASCII input: NFKC can turn other text into ASCII punctuation ("…" into "...").
    """
    norm = normalize(text)
    if text.isascii() and not any(c in norm for c in _ASCII_ODD):
        return norm.split()
    return _WORDPUNCT.findall(norm)


def split_lines(text: str) -> list[str]:
    """Lines with their trailing newline; no empty string for a final newline."""
    return _LINE.findall(text)


def nonblank_lines(text: str) -> list[str]:
    """``[ln for ln in split_lines(text) if ln.strip()]``, in one scan (shared with the language
    signals, which ask for the lines of the same code string; do not modify the list)."""
    return nonempty_lines(text)


_MIX1 = np.uint64(0x9E3779B97F4A7C15)
_MIX2 = np.uint64(0xC2B2AE3D27D4EB4F)


def _occurrences(keys: np.ndarray) -> np.ndarray:
    """For each key, how often it occurs in ``keys`` (one sort; ``np.unique`` minus its copies)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    order = keys.argsort()
    ordered = keys[order]
    starts = np.empty(len(keys), dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    counts = np.diff(np.append(first, len(keys)))
    out = np.empty(len(keys), dtype=np.int64)
    out[order] = counts[group]
    return out


class Document:
    """Per-file inputs of the signals; every property is computed on first use only."""

    def __init__(
        self,
        text: str,
        *,
        filename: str = "",
        ext: str = "",
        program_lang: str = "unknown",
        doc_type: str = "code",
        size_bytes: int | None = None,
        lang: str = "en",
        compat: str = "fixed",
    ) -> None:
        self.text = text
        self.compat = compat
        self.filename = filename
        self.ext = ext
        self.program_lang = program_lang
        self.doc_type = doc_type
        self.size_bytes = size_bytes
        self.lang = lang

    def __len__(self) -> int:
        return len(self.text)

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.text)

    @cached_property
    def raw_words(self) -> list[str]:
        if self.lang == "zh":
            return chinese_words(self.text)
        return wordpunct(self.text)

    @cached_property
    def words(self) -> tuple[str, ...]:
        """Normalised words (jieba's tokens of the normalised text for Chinese)."""
        if self.lang == "zh":
            return tuple(chinese_words(normalize(self.text)))
        return tuple(normalized_words(self.text))

    @cached_property
    def word_lengths(self) -> list[int]:
        return list(map(len, self.words))

    @cached_property
    def total_word_chars(self) -> int:
        return sum(self.word_lengths)

    @cached_property
    def word_counts(self) -> Counter:
        return Counter(self.words)

    @cached_property
    def word_length_array(self) -> np.ndarray:
        return np.fromiter(self.word_lengths, dtype=np.int64, count=len(self.words))

    @cached_property
    def _word_ids(self) -> np.ndarray:
        """Each word's rank of first appearance, from 1 (``word_counts`` keeps first-seen order)."""
        index = dict(zip(self.word_counts, range(1, len(self.word_counts) + 1), strict=True))
        return np.fromiter(map(index.__getitem__, self.words), dtype=np.uint64, count=len(self.words))

    def ngram_occurrences(self, n: int) -> np.ndarray:
        """For each word n-gram position, how often that n-gram occurs in the document.

        N-grams are compared through a 64-bit hash built word by word with a multiply-xorshift mix
        (vectorised, instead of hashing Python tuples); a false match needs a 64-bit collision.
        An n-gram can only repeat where its first n-1 words do, so only those positions are
        hashed and sorted; the others occur once.
        """
        cache = self.__dict__.setdefault("_occ_cache", {})
        if n not in cache:
            if n == 1:
                ids = self._word_ids.astype(np.intp)
                cache[1] = np.bincount(ids)[ids]
                self.__dict__["_cand"] = (np.arange(len(ids)), self._word_ids)
            else:
                size = len(self.words) - n + 1
                prev_occ = self.ngram_occurrences(n - 1)
                pos, prev_hash = self.__dict__["_cand"]  # positions hashed for n - 1, and their hashes
                occ = np.ones(size, dtype=np.int64)
                if len(pos):
                    keep = prev_occ[pos] > 1
                    if pos[-1] >= size:  # the last (n-1)-gram has no n-gram
                        keep[-1] = False
                    pos, prev_hash = pos[keep], prev_hash[keep]
                if len(pos):
                    with np.errstate(over="ignore"):
                        h = (prev_hash ^ (prev_hash >> np.uint64(29))) * _MIX1 + self._word_ids[pos + (n - 1)] * _MIX2
                        h ^= h >> np.uint64(32)
                    occ[pos] = _occurrences(h)
                    prev_hash = h
                self.__dict__["_cand"] = (pos, prev_hash)
                cache[n] = occ
        return cache[n]

    def ngram_top_count(self, n: int) -> int:
        """How often the most frequent word n-gram occurs (``ngram_occurrences(n).max()``), n >= 2."""
        return int(self.ngram_occurrences(n).max(initial=1))

    @cached_property
    def visible(self) -> str:
        """The text without whitespace (``re``'s ``\\s`` is exactly ``str.split``'s whitespace)."""
        return "".join(self.text.split())

    @cached_property
    def _split(self) -> tuple[str, str]:
        return split_code_comments(self.text, self.program_lang, self.lines, modern=self.compat != "reference")

    @property
    def code(self) -> str:
        """The text with comments removed (as the reference's lexer split defines them)."""
        return self._split[0]

    @property
    def comments(self) -> str:
        return self._split[1]

    @cached_property
    def code_lines(self) -> list[str]:
        """Non-blank lines of ``code``, newline kept."""
        return nonblank_lines(self.code)

    @cached_property
    def comment_lines(self) -> list[str]:
        return nonblank_lines(self.comments)
