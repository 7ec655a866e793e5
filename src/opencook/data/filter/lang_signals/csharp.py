"""C# signals: regex counts over the comment-free code, as in the reference."""

from __future__ import annotations

import regex

from opencook.data.filter.comments import code_and_comments

from ._common import Signal, nonempty_lines, ratio, run_group
from ._regex import compile_, count

_M = regex.MULTILINE
_FUNCTION = compile_(
    r"^\s*(?:(?:public|protected|private|internal)\s+)?"
    r"(?:(?:static|virtual|override|abstract|async)\s+)?"
    r"(?!\s*(?:public|private|protected|if|else)\s*)(?:<\w+>)?\s*\w+\s+"  # return type
    r"\w+\s*\([^\)]*\)",
    _M,
)
_USING = compile_(r"^\s*using\s+[a-zA-Z0-9_.]+\s*;", _M)
_CLASS = compile_(r"\b(?:public|private|protected|internal|static|abstract|sealed)?\s*class\s+\w+", _M)
_SIMPLE_RETURN = compile_(r"^\s*return\b(?:\s+[^;\n]+)?\s*;", _M)
_SIMPLE_VAR = compile_(
    r"\b(?:int|float|double|char|string|bool|byte|sbyte|short|ushort|uint|long|ulong|decimal)\s+\w+\s*;", _M
)


def compute(text: str, compat: str) -> dict[str, Signal]:
    """``qsc_codecsharp_*`` signals, in the reference's order."""
    code, _ = code_and_comments("csharp", text)
    lines = nonempty_lines(code)
    total = len(lines)

    def no_logic() -> float | None:
        if total == 0:
            return None
        n = sum(count(p, code) for p in (_FUNCTION, _USING, _SIMPLE_VAR, _SIMPLE_RETURN, _CLASS))
        return ratio(n, total)

    return run_group(
        [
            (
                "qsc_codecsharp_frac_lines_func_ratio",
                lambda: ratio(count(_FUNCTION, code), total) if total else None,
            ),
            # The reference compares the match *list* with 0, so this signal is always 0.0 (kept as is,
            # see docs/filter_lang_signals.md).
            ("qsc_codecsharp_cate_var_zero", lambda: 0.0),
            ("qsc_codecsharp_score_lines_no_logic", no_logic),
            (
                "qsc_codecsharp_frac_lines_print",
                lambda: ratio(sum("Console.WriteLine" in ln for ln in lines), total),
            ),
        ]
    )
