"""Threshold sets of the code-quality filter, as named rules.

The sets mirror the reference configuration (OpenCoder ``opc_data_filtering``): one per language
with specific signals (c, cpp, csharp, go, html, java, javascript, python, shell, sql), ``data`` for
other data files, ``others`` for all other code, ``en``/``zh`` for text documents. A rule's position
in its set is its evaluation order, which is also the order of ``hits``. Signals the reference
computes but never thresholds (``None`` in its config) have no rule here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SUPPORTED_LANGS = ("cpp", "csharp", "c", "go", "html", "java", "javascript", "python", "shell", "sql")


@dataclass(frozen=True)
class Rule:
    """Drop a file when ``predicate(signal value)`` holds.

    A probabilistic rule fires only with probability ``p`` once its threshold holds: the caller draws
    one number and fires when it is above ``1 - p`` (the reference's ``random.random() > 0.2``).
    """

    name: str
    predicate: Callable[[Any], bool]
    explain: str
    probabilistic: bool = False
    p: float = 0.8


def _gt(t: float) -> Callable[[Any], bool]:
    return lambda x: x > t


def _lt(t: float) -> Callable[[Any], bool]:
    return lambda x: x < t


def _outside(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda x: x < lo or x > hi


def _is_true(x: Any) -> bool:
    return x == True  # noqa: E712  (signals are 0.0/1.0 floats or bools)


def _is_false(x: Any) -> bool:
    return x == False  # noqa: E712


def _eq(v: float) -> Callable[[Any], bool]:
    return lambda x: x == v


def _r(name: str, pred: Callable[[Any], bool], explain: str, probabilistic: bool = False) -> Rule:
    return Rule(name, pred, explain, probabilistic)


def _fmt(t: float) -> str:
    return f"{t:g}"


# ---- general code rules ---------------------------------------------------------------------

_C = "qsc_code_"


def _code_rules(
    *,
    words: float = 30,
    chars: tuple[float, float] = (50, math.inf),
    unique: float | None = None,
    dupe: tuple[float, ...] = (0.80, 0.70, 0.70, 0.70, 0.70, 0.60),
    digit: float = 0.2,
    comments: bool = True,
    strings: bool = True,
    long_words: bool = True,
    prompt: bool = True,
    asserts: bool = True,
    dupe_lines_late: bool = False,
) -> list[Rule]:
    """The general ``qsc_code_*`` rules with the per-set variations the reference uses."""
    lo, hi = chars
    chars_rule = _r(
        _C + "num_chars",
        _lt(lo) if hi == math.inf else _outside(lo, hi),
        f"fewer than {_fmt(lo)} characters" + ("" if hi == math.inf else f" or more than {_fmt(hi)}"),
    )
    dupe_lines = _r(_C + "frac_lines_dupe_lines", _gt(0.7), "more than 70% of code lines are duplicates")
    rules = [
        _r(_C + "frac_chars_replacement_symbols", _gt(0.01), "more than 1% U+FFFD replacement characters"),
        _r(_C + "num_words", _lt(words), f"fewer than {_fmt(words)} words"),
        chars_rule,
        _r(_C + "mean_word_length", _outside(2, 10), "mean word length below 2 or above 10"),
    ]
    if unique is not None:
        rules.append(_r(_C + "frac_words_unique", _lt(unique), f"unique-word fraction below {_fmt(unique)}"))
    rules += [
        _r(_C + "frac_chars_top_2grams", _gt(0.20), "top word 2-gram covers more than 20% of characters"),
        _r(_C + "frac_chars_top_3grams", _gt(0.18), "top word 3-gram covers more than 18% of characters"),
        _r(_C + "frac_chars_top_4grams", _gt(0.16), "top word 4-gram covers more than 16% of characters"),
    ]
    for n, t in zip(range(5, 11), dupe, strict=True):
        rules.append(
            _r(_C + f"frac_chars_dupe_{n}grams", _gt(t), f"duplicate word {n}-grams cover more than {t:.0%}")
        )
    if not dupe_lines_late:
        rules.append(dupe_lines)
    rules += [
        _r(_C + "size_file_byte", _gt(3e6), "file larger than 3 MB"),
        _r(_C + "num_lines", _outside(10, 100000), "fewer than 10 or more than 100,000 lines"),
        _r(_C + "num_chars_line_max", _gt(1000), "a line longer than 1000 characters"),
        _r(_C + "num_chars_line_mean", _outside(5, 100), "mean line length below 5 or above 100"),
        _r(_C + "frac_chars_alphabet", _lt(0.5), "less than half of the visible characters are letters"),
        _r(_C + "frac_chars_digital", _gt(digit), f"more than {digit:.0%} of visible characters are digits"),
        _r(_C + "frac_chars_whitespace", _gt(0.5), "more than half of the characters are whitespace"),
    ]
    if comments:
        rules.append(_r(_C + "frac_chars_comments", _gt(0.8), "more than 80% of characters are comments"))
    rules.append(_r(_C + "cate_xml_start", _is_true, "starts with an XML declaration"))
    if dupe_lines_late:
        rules.append(dupe_lines)
    rules.append(_r(_C + "cate_autogen", _is_true, "header says the file is generated"))
    if strings:
        rules += [
            _r(_C + "frac_lines_long_string", _gt(0.2), "more than 20% of lines are long string literals"),
            _r(_C + "frac_chars_string_length", _gt(0.6), "more than 60% of code is string literals"),
        ]
    if long_words:
        rules.append(
            _r(_C + "frac_chars_long_word_length", _gt(0.4), "more than 40% of code is >20-char words")
        )
    rules += [
        _r(_C + "cate_encoded_data", _is_true, "contains a long base64/hex/unicode-escape blob"),
        _r(_C + "frac_chars_hex_words", _gt(0.4), "more than 40% of code is 0x literals"),
    ]
    if prompt:
        rules.append(
            _r(_C + "frac_lines_prompt_comments", _gt(0.01), "more than 1% of lines are TODO/FIXME comments")
        )
    if asserts:
        rules.append(_r(_C + "frac_lines_assert", _gt(0.4), "more than 40% of code lines assert"))
    return rules


def _no_logic(lang: str) -> Rule:
    return _r(
        f"qsc_code{lang}_score_lines_no_logic",
        _gt(0.5),
        "more than half of the code lines carry no logic (dropped with p=0.8)",
        probabilistic=True,
    )


def _func_ratio(lang: str) -> Rule:
    return _r(f"qsc_code{lang}_frac_lines_func_ratio", _gt(0.2), "function definitions exceed 20% of lines")


def _var_zero(lang: str) -> Rule:
    return _r(f"qsc_code{lang}_cate_var_zero", _is_true, "declares no variables")


def _print(lang: str, what: str) -> Rule:
    return _r(f"qsc_code{lang}_frac_lines_print", _gt(0.4), f"more than 40% of lines are {what}")


def _c_family(lang: str) -> list[Rule]:
    return [
        _func_ratio(lang),
        _r(f"qsc_code{lang}_nums_lines_main", _gt(1), "more than one main() declaration"),
        _no_logic(lang),
        _r(
            f"qsc_code{lang}_frac_lines_preprocessor_directives",
            _gt(0.8),
            "more than 80% of lines are preprocessor directives",
        ),
        _print(lang, "printf/cout"),
    ]


_PY = "qsc_codepython_"

_SPECIFIC: dict[str, list[Rule]] = {
    "python": [
        _r(_PY + "cate_ast", _is_false, "does not parse as Python"),
        _func_ratio("python"),
        _var_zero("python"),
        _r(_PY + "frac_lines_pass", _gt(0.05), "more than 5% of lines are 'pass'"),
        _r(_PY + "frac_lines_import", _gt(0.3), "more than 30% of lines are imports"),
        _r(_PY + "frac_lines_simplefunc", _gt(0.1), "single-return functions exceed 10% of lines"),
        _no_logic("python"),
        _print("python", "print calls"),
    ],
    "cpp": _c_family("cpp"),
    "c": _c_family("c"),
    "csharp": [
        _func_ratio("csharp"),
        _var_zero("csharp"),
        _no_logic("csharp"),
        _print("csharp", "Console output"),
    ],
    "go": [
        _r(
            "qsc_codego_cate_testfile",
            _is_true,
            "a Go test file (_test.go; dropped with p=0.8)",
            probabilistic=True,
        ),
        _func_ratio("go"),
        _var_zero("go"),
        _no_logic("go"),
        _print("go", "fmt print calls"),
    ],
    "html": [
        _r("qsc_codehtml_cate_ast", _is_false, "does not parse as HTML"),
        _r("qsc_codehtml_frac_words_text", _lt(0.2), "visible text is under 20% of the raw characters"),
        _r("qsc_codehtml_num_chars_text", _lt(100), "fewer than 100 characters of visible text"),
    ],
    "java": [_var_zero("java"), _func_ratio("java"), _no_logic("java"), _print("java", "System.out prints")],
    "javascript": [
        _r("qsc_codejavascript_cate_ast", _is_false, "does not parse as JavaScript"),
        _var_zero("javascript"),
        _func_ratio("javascript"),
        _no_logic("javascript"),
        _print("javascript", "console.log calls"),
    ],
}

_LATE = {"c", "csharp", "go", "html", "java", "javascript"}

_CODE_SETS: dict[str, list[Rule]] = {
    "others": _code_rules(),
    "data": _code_rules(chars=(50, 5000), unique=0.4, strings=False, prompt=False, asserts=False),
    "shell": _code_rules(strings=False, asserts=False),
    "sql": _code_rules(digit=0.3),
    "python": _code_rules() + _SPECIFIC["python"],
    "cpp": _code_rules() + _SPECIFIC["cpp"],
    "c": _code_rules(dupe_lines_late=True) + _SPECIFIC["c"],
    "csharp": _code_rules(dupe_lines_late=True) + _SPECIFIC["csharp"],
    "go": _code_rules(dupe_lines_late=True, asserts=False) + _SPECIFIC["go"],
    "html": _code_rules(
        dupe=(0.6,) * 6,
        dupe_lines_late=True,
        comments=False,
        strings=False,
        long_words=False,
        prompt=False,
        asserts=False,
    )
    + _SPECIFIC["html"],
    "java": _code_rules(dupe_lines_late=True) + _SPECIFIC["java"],
    "javascript": _code_rules(dupe_lines_late=True) + _SPECIFIC["javascript"],
}

# ---- text rules -----------------------------------------------------------------------------

_D = "qsc_doc_"


def _text_rules(zh: bool) -> list[Rule]:
    rules = [
        _r(_D + "frac_chars_replacement_symbols", _gt(0.01), "more than 1% U+FFFD replacement characters"),
        _r(_D + "entropy_unigram", _lt(3), "unigram entropy below 3"),
        _r(_D + "frac_chars_top_2grams", _gt(0.20), "top word 2-gram covers more than 20% of characters"),
        _r(_D + "frac_chars_top_3grams", _gt(0.18), "top word 3-gram covers more than 18% of characters"),
        _r(_D + "frac_chars_top_4grams", _gt(0.16), "top word 4-gram covers more than 16% of characters"),
    ]
    for n in range(5, 11):
        rules.append(
            _r(_D + f"frac_chars_dupe_{n}grams", _gt(0.6), f"duplicate word {n}-grams cover over 60%")
        )
    rules += [
        _r(_D + "frac_chars_dupe_lines", _gt(0.5), "duplicate lines hold more than 50% of characters"),
        _r(_D + "frac_lines_dupe_lines", _gt(0.6), "more than 60% of lines are duplicates"),
        _r(
            _D + "frac_lines_end_with_readmore",
            _gt(0.3 if zh else 0.1),
            f"more than {0.3 if zh else 0.1:.0%} of lines end with 'read more'/ellipsis",
        ),
        _r(_D + "frac_lines_start_with_bullet", _gt(0.9), "more than 90% of lines start with a bullet"),
    ]
    if zh:
        rules.append(_r(_D + "frac_words_full_bracket", _gt(0.1), "more than 10% of words are 【】"))
    else:
        rules.append(_r(_D + "frac_words_all_caps", _gt(0.5), "more than half of the words are all caps"))
    lo = 1.3 if zh else 3
    rules += [
        _r(_D + "mean_word_length", _outside(lo, 10), f"mean word length below {_fmt(lo)} or above 10"),
        _r(_D + "num_chars", _lt(50), "fewer than 50 characters"),
        _r(_D + "num_lines", _lt(10), "fewer than 10 lines"),
        _r(_D + "num_sentences", _eq(1), "a single sentence"),
        _r(_D + "num_words", _lt(50), "fewer than 50 words"),
        _r(_D + "frac_chars_hex_words", _gt(0.4), "more than 40% of characters are 0x literals"),
        _r(_D + "frac_chars_hyperlink_html_tag", _gt(0.5), "more than half the text is links or HTML tags"),
        _r(_D + "frac_chars_alphabet", _lt(0.5), "less than half of the visible characters are letters"),
        _r(_D + "frac_chars_digital", _gt(0.2), "more than 20% of visible characters are digits"),
        _r(_D + "frac_chars_whitespace", _gt(0.5), "more than half of the characters are whitespace"),
    ]
    return rules


RULE_SETS: dict[str, tuple[Rule, ...]] = {k: tuple(v) for k, v in _CODE_SETS.items()}
RULE_SETS["en"] = tuple(_text_rules(zh=False))
RULE_SETS["zh"] = tuple(_text_rules(zh=True))


def rule_set_name(doc_type: str, program_lang: str, lang: str = "en") -> str | None:
    """Which set judges a file; ``None`` for doc types the filter drops outright."""
    if doc_type == "text":
        return "zh" if lang == "zh" else "en"
    if doc_type in ("code", "data"):
        if program_lang in SUPPORTED_LANGS:
            return program_lang
        return "data" if doc_type == "data" else "others"
    return None


def select_rules(doc_type: str, program_lang: str, lang: str = "en") -> tuple[Rule, ...]:
    name = rule_set_name(doc_type, program_lang, lang)
    return () if name is None else RULE_SETS[name]


def all_rule_names() -> list[str]:
    seen: dict[str, None] = {}
    for rules in RULE_SETS.values():
        for r in rules:
            seen.setdefault(r.name)
    return list(seen)
