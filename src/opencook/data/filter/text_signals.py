"""The text-document signals (``qsc_doc_*``), used for ``doc_type == "text"`` (e.g. Markdown).

Definitions follow the reference (OpenCoder ``quality_signals/doc.py`` over RedPajama-V2).
``qsc_doc_frac_words_redpajama_stop`` (no rule uses it) is not computed.
"""

from __future__ import annotations

import re
from collections import Counter

from opencook.data.filter import ngram_signals as ng
from opencook.data.filter.document import Document
from opencook.data.filter.general_signals import Signal

PRECISION = ng.PRECISION

_SENTENCE = re.compile(r"\b[^.!?。！？؟]+[.!?。！？؟]*")
_SENTENCE_SPLIT = re.compile(r"\.|\?|\!|\n")
_LINK = re.compile(r"\(https?://\S+\)")
_TAG = re.compile(r"<.*?>")
_HEX_WORD = re.compile(r"\b0[xX][0-9a-fA-F]+\b")
_READMORE = (
    "...",
    "…",
    "全文",
    "详情",
    "详细",
    "更多",
    "المزيد",
    "تفاصيل",
    "اقرأ المزيد",
    "もっと",
    "詳細",
    "もっと読む",
)
_BULLETS = tuple(
    chr(c)
    for c in (
        0x2022, 0x2023, 0x2043, 0x204C, 0x204D, 0x2219, *range(0x25A0, 0x25B0), 0x25CB, 0x25CF, 0x25E6,
        *range(0x25C6, 0x25CB), *range(0x25D0, 0x25D7), 0x25D8, 0x25D9, *range(0x25E2, 0x25E6), 0x25EF,
        0x2611, 0x2612, 0x2B1B, 0x2B1C, 0x2B24, 0x2B1E, 0x2B1F, 0x29BE,
    )
)  # fmt: skip
_CODE_RELATED_NAMES = ("readme", "notes", "todo", "description", "cmakelists")


def frac_chars_curly_bracket(doc: Document) -> float:
    if not doc.text:
        return 0.0
    return round((doc.text.count("{") + doc.text.count("}")) / len(doc.text), PRECISION)


def num_sentences(doc: Document) -> float:
    return float(len(_SENTENCE.findall(doc.text)))


def num_lines(doc: Document) -> float:
    return float(len(doc.lines))


def frac_words_full_bracket(doc: Document) -> float | None:
    if not doc.raw_words:
        return None
    words = doc.raw_words
    if "【" not in doc.text and "】" not in doc.text:
        return round(0 / len(words), PRECISION)
    return round((words.count("【") + words.count("】")) / len(words), PRECISION)


def frac_lines_end_with_readmore(doc: Document) -> float | None:
    if not doc.lines:
        return None
    n = sum(ln.rstrip().rstrip("]】)>》").endswith(_READMORE) for ln in doc.lines)
    return round(n / len(doc.lines), PRECISION)


def frac_lines_start_with_bullet(doc: Document) -> float | None:
    if not doc.lines:
        return None
    return round(sum(ln.lstrip().startswith(_BULLETS) for ln in doc.lines) / len(doc.lines), PRECISION)


def frac_words_all_caps(doc: Document) -> float | None:
    if not doc.raw_words:
        return None
    return round(sum(map(str.isupper, doc.raw_words)) / len(doc.raw_words), PRECISION)


def frac_lines_dupe_lines(doc: Document) -> float | None:
    if not doc.lines:
        return None
    counts = Counter(s for s in (ln.strip() for ln in doc.lines) if s)
    total = sum(counts.values())
    if total == 0:
        return None
    return round(sum(v for v in counts.values() if v != 1) / total, PRECISION)


def frac_chars_dupe_lines(doc: Document) -> float | None:
    if not doc.lines:
        return None
    counts = Counter(ln.strip() for ln in doc.lines)
    total = sum(len(k) * v for k, v in counts.items())
    if total == 0:
        return None
    return round(sum(len(k) * v for k, v in counts.items() if v != 1) / total, PRECISION)


def cate_code_related_file_name(doc: Document) -> float:
    stem = doc.filename.split(".")[0].lower()
    return float("requirement" in stem or stem in _CODE_RELATED_NAMES or stem == "read.me")


def num_chars_sentence_length_mean(doc: Document) -> float:
    parts = _SENTENCE_SPLIT.split(doc.text)
    return round(sum(map(len, parts)) / len(parts), PRECISION)


def frac_chars_hyperlink_html_tag(doc: Document) -> float | None:
    if not doc.text:
        return None
    n = sum(map(len, _LINK.findall(doc.text))) + sum(map(len, _TAG.findall(doc.text)))
    return round(n / len(doc.text), PRECISION)


def frac_chars_alphabet(doc: Document) -> float | None:
    if not doc.visible:
        return 0.0
    if doc.lang != "en":
        return None
    return round(ng.count_alpha(doc.visible) / len(doc.visible), PRECISION)


def frac_chars_hex_words(doc: Document) -> float | None:
    if not doc.text:
        return None
    if "0x" not in doc.text and "0X" not in doc.text:  # every match starts with one
        return round(0 / len(doc.text), PRECISION)
    return round(sum(map(len, _HEX_WORD.findall(doc.text))) / len(doc.text), PRECISION)


def text_signals() -> list[tuple[str, Signal]]:
    """The ``qsc_doc_*`` signals in the reference's order."""
    d = "qsc_doc_"
    out: list[tuple[str, Signal]] = [
        (d + "frac_chars_curly_bracket", frac_chars_curly_bracket),
        (d + "num_sentences", num_sentences),
        (d + "num_words", ng.num_words),
        (d + "num_chars", ng.num_chars),
        (d + "num_lines", num_lines),
        (d + "mean_word_length", ng.mean_word_length),
        (d + "frac_words_full_bracket", frac_words_full_bracket),
        (d + "frac_lines_end_with_readmore", frac_lines_end_with_readmore),
        (d + "frac_lines_start_with_bullet", frac_lines_start_with_bullet),
        (d + "frac_words_unique", ng.frac_words_unique),
        (d + "entropy_unigram", ng.entropy_unigram),
        (d + "frac_words_all_caps", frac_words_all_caps),
        (d + "frac_lines_dupe_lines", frac_lines_dupe_lines),
        (d + "frac_chars_dupe_lines", frac_chars_dupe_lines),
    ]
    out += [(d + f"frac_chars_top_{n}grams", ng.top_ngram(n)) for n in (2, 3, 4)]
    out += [(d + f"frac_chars_dupe_{n}grams", ng.dupe_ngrams(n)) for n in range(5, 11)]
    out += [
        (d + "frac_chars_replacement_symbols", ng.frac_chars_replacement_symbols),
        (d + "cate_code_related_file_name", cate_code_related_file_name),
        (d + "num_chars_sentence_length_mean", num_chars_sentence_length_mean),
        (d + "frac_chars_hyperlink_html_tag", frac_chars_hyperlink_html_tag),
        (d + "frac_chars_alphabet", frac_chars_alphabet),
        (d + "frac_chars_digital", ng.frac_chars_digital),
        (d + "frac_chars_whitespace", ng.frac_chars_whitespace),
        (d + "frac_chars_hex_words", frac_chars_hex_words),
    ]
    return out
