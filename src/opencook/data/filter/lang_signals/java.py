"""Java signals: regex matches over the comment-free code, as in the reference.

The reference's name checks look at ``match[1]``. For functions and variables its pattern has a
single group, so that is the *second character* of the matched declaration, not a name; for
classes it is the class name. Its "no modifier" count actually counts functions *with* a
modifier, and tests classes with ``in`` on a tuple (never true in practice). All kept as is so
that rule thresholds tuned on the reference keep their meaning; see docs/filter_lang_signals.md.
"""

from __future__ import annotations

import regex

from opencook.data.filter.comments import code_and_comments

from ._common import Signal, nonempty_lines, ratio, run_group
from ._regex import compile_, findall

_M = regex.MULTILINE
_FUNCTION = compile_(
    r"^\s*("
    r"(?:(?:public|protected|private|static)\s+)*"
    r"(?!\s*(?:public|private|protected|else|if)\s*)(?:<\w+>)?\s*\w+\s+"  # return type
    r"\w+\s*\([^\)]*\)"
    r"(?:\s*throws\s+[\w\, ]+)?)",
    _M,
)
_IMPORT = compile_(r"^\s*import\s+[\w\.\*]+\s*;\s*$", _M)
_TYPE = r"(?:int|float|boolean|char|double|String|[A-Z][\w<>]*)"
_MODS = r"(?:(?:public|protected|private|final|static)\s+)*"
_SIMPLE_VAR = compile_(rf"^\s*{_MODS}{_TYPE}\s+\w+\s*;", _M)
_VARIABLE = compile_(rf"^\s*({_MODS}{_TYPE}\s+\w+\s*(?:\s*=\s*[^;]+)?;)", _M)
_SIMPLE_RETURN = compile_(r'^\s*return(?:;|\s+(?:\w*|"[^"\\]*(?:\\.[^"\\]*)*")\s*;\s*)$', _M)
_CLASS = compile_(
    r"^\s*((?:public\s+|protected\s+|private\s+)?(?:final\s+|abstract\s+)?class\s+([\w<>]+))", _M
)

_LOWER_START = compile_(r"^[a-z][a-zA-Z0-9]*$")
_ALPHA_START = compile_(r"^[a-zA-Z][a-zA-Z0-9]*$")
_CLASS_NAME = compile_(r"^[A-Z][a-zA-Z0-9]*$")
_ACCESS = ("public", "protected", "private")


def _frac_matching(items: list, pattern: regex.Pattern) -> float | None:
    return ratio(sum(1 for it in items if pattern.match(it[1])), len(items))


def compute(text: str, compat: str) -> dict[str, Signal]:
    """``qsc_codejava_*`` signals, in the reference's order."""
    code, _ = code_and_comments("java", text)
    lines = nonempty_lines(code)
    total = len(lines)
    cache: dict[str, list] = {}

    def matches(name: str, pattern: regex.Pattern) -> list:
        if name not in cache:
            cache[name] = findall(pattern, code)
        return cache[name]

    def functions() -> list[str]:
        return matches("f", _FUNCTION)

    def classes() -> list[tuple[str, str]]:
        return matches("c", _CLASS)

    def variables() -> list[str]:
        return matches("v", _VARIABLE)

    def no_logic() -> float | None:
        if total == 0:
            return None
        n = len(functions()) + len(findall(_IMPORT, code)) + len(findall(_SIMPLE_VAR, code))
        n += len(findall(_SIMPLE_RETURN, code)) + len(classes())
        return ratio(n, total)

    def no_modifier() -> float | None:
        fs, cs = functions(), classes()
        n = sum(1 for f in fs if any(a in f for a in _ACCESS))
        n += sum(1 for c in cs if any(a in c for a in _ACCESS))  # tuple membership, as the reference
        return ratio(n, len(fs) + len(cs))

    return run_group(
        [
            ("qsc_codejava_cate_var_zero", lambda: float(len(variables()) == 0)),
            ("qsc_codejava_frac_lines_func_ratio", lambda: ratio(len(functions()), total) if total else None),
            ("qsc_codejava_score_lines_no_logic", no_logic),
            ("qsc_codejava_frac_words_no_modifier", no_modifier),
            ("qsc_codejava_frac_words_legal_var_name", lambda: _frac_matching(variables(), _LOWER_START)),
            ("qsc_codejava_frac_words_legal_func_name", lambda: _frac_matching(functions(), _ALPHA_START)),
            ("qsc_codejava_frac_words_legal_class_name", lambda: _frac_matching(classes(), _CLASS_NAME)),
            (
                "qsc_codejava_frac_lines_print",
                lambda: ratio(sum("System.out.print" in ln for ln in lines), total),
            ),
        ]
    )
