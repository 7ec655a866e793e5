"""C and C++ signals: regex counts over the comment-free code, as in the reference."""

from __future__ import annotations

import functools

import regex

from opencook.data.filter.comments import code_and_comments

from ._common import PRECISION, Signal, nonempty_lines, ratio, run_group
from ._regex import compile_, count

_M = regex.MULTILINE
# "Function": identifiers/pointer stars separated by blanks, a name, then a parameter list. The
# reference's pattern with possessive repeats (``*+``, ``++``): a name that gave back characters
# would leave a word character before the blanks or "(" that must follow it, and the type words
# that gave back an iteration would leave a name not followed by "(", so backtracking there never
# finds a match; the matches are the same, found about twice as fast (tests/data/filter).
_FUNCTION = compile_(r"\b(?:[a-zA-Z_]\w*+\s*\**\s+)++\*?\s*[a-zA-Z_]\w*+\([^)]*\)\s*")
# The line-start patterns skip the indentation possessively (``\s*+``): what follows it is not a blank.
_INCLUDE = compile_(r'^\s*+#\s*include\s+["<][^">]+[">]', _M)
_CLASS = compile_(r"^\s*+class\s+\w+\s*(?::[^{]*)?\{", _M)
_SIMPLE_VAR = compile_(r"^\s*+(?:unsigned\s+)?(?:int|float|double|char|bool|std::string|auto)\s+\w+\s*;", _M)
_SIMPLE_RETURN = compile_(
    r"""^\s*+return\s*(?:(?:\w+|\d+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|true|false|nullptr)\s*)?;\s*$""", _M
)
# Any declaration-like "type name [= value][, name [= value]]... ;" counts as a variable.
_VARIABLE = compile_(
    r"\b\w+(?:\s+\w+)?\s+"
    r"\**\s*[\w\[\]]+\s*(?:=\s*[^;]*)?"
    r"(?:,\s*\**\s*[\w\[\]]+\s*(?:=\s*[^;]*)?)*"
    r"\s*;"
)
_MAIN = compile_(r"\bmain\s*\([^)]*\)\s*\{")
# The reference searches each of these; one alternation gives the same "any" answer.
_DIRECTIVE = compile_(
    r"#\s*(?:include|define|if|else|elif|endif|error|pragma|warning|undef|line)|struct|using"
)
_HEADER_EXTS = frozenset({"h", "hpp", "hxx", "hh", "h++"})


def compute(program_lang: str, text: str, ext: str, compat: str) -> dict[str, Signal]:
    """``qsc_codec_*`` or ``qsc_codecpp_*`` signals, in the reference's order."""
    code, _ = code_and_comments(program_lang, text)
    lines = nonempty_lines(code)
    total = len(lines)
    is_cpp = program_lang == "cpp"
    p = "qsc_codecpp_" if is_cpp else "qsc_codec_"

    @functools.cache
    def function_count() -> int:  # used by two signals, searched once
        return count(_FUNCTION, code)

    def functions() -> float | None:
        return ratio(function_count(), total)

    def main_count() -> int | float:
        n = count(_MAIN, code)
        return float(n) if is_cpp else n  # the C signal is an int in the reference

    def no_logic() -> float | None:
        n = function_count() + sum(
            count(pat, code) for pat in (_INCLUDE, _SIMPLE_VAR, _SIMPLE_RETURN, _CLASS)
        )
        return ratio(n, total)

    def prints() -> float | None:
        if is_cpp:
            return ratio(sum(1 for ln in lines if "cout" in ln or "printf" in ln), total)
        return ratio(sum(1 for ln in lines if "printf" in ln), total)

    def directives() -> float | None:
        if ext in _HEADER_EXTS:
            return None
        return ratio(sum(1 for ln in lines if _DIRECTIVE.search(ln)), total)

    steps = [
        (p + "frac_lines_func_ratio", functions),
        (p + "cate_bitsstdc", lambda: round(float("bits/stdc++.h" in code.strip().lower()[:200]), PRECISION)),
        (p + "nums_lines_main", main_count),
        (p + "frac_lines_goto", lambda: ratio(sum(1 for ln in lines if "goto" in ln), total)),
        (p + "cate_var_zero", lambda: float(_VARIABLE.search(code, timeout=2.0) is None)),
        (p + "score_lines_no_logic", no_logic),
        (p + "frac_lines_print", prints),
    ]
    directive_step = (p + "frac_lines_preprocessor_directives", directives)
    # The directive signal is registered in the reference's C module, so it runs first for C++.
    steps = [directive_step, *steps] if is_cpp else [*steps, directive_step]
    return run_group(steps)
