"""Python signals: one ``ast`` parse and one walk feed every AST-based signal."""

from __future__ import annotations

import re

from opencook.data.filter.comments import code_and_comments

from ..pyparse import analyse
from ._common import PRECISION, Signal, nonempty_lines, ratio, run_group

# Reference: a "simple return" is any line of the comment-free code that starts with `return`.
_SIMPLE_RETURN = re.compile(r"^\s*return(\s+.+)?\s*$", re.MULTILINE)

# Fixed mode: whole statements instead of substrings (`password`, `important`, `blueprint`).
_PASS_STMT = re.compile(r"(?:^|[:;])\s*pass\s*(?:[;#]|$)")
_IMPORT_STMT = re.compile(r"(?:^|[:;])\s*(?:import\s|from\s+\S+\s+import\b)")
_PRINT_CALL = re.compile(r"(?<![\w.])print\b")
_FIXED_PATTERNS = {"pass": _PASS_STMT, "import": _IMPORT_STMT, "print": _PRINT_CALL}


def compute(text: str, compat: str) -> dict[str, Signal]:
    """All ``qsc_codepython_*`` signals, in the reference's order."""
    reference = compat == "reference"
    code, _ = code_and_comments("python", text)
    lines = nonempty_lines(code)
    total = len(lines)
    analysis = analyse(text)
    if analysis.facts_error is not None:
        raise analysis.facts_error
    facts = analysis.facts if analysis.parsed else None

    # Lines counted by each substring test (reference) or statement pattern (fixed). The patterns
    # contain their keyword literally, so only lines holding it are searched.
    counted: dict[str, int] = {}
    lowered: list[str] = []

    def count(word: str) -> int:
        if word not in counted:
            if not reference:
                search = _FIXED_PATTERNS[word].search
                counted[word] = sum(1 for ln in lines if word in ln and search(ln) is not None)
            elif word == "print":  # case-sensitive in the reference
                counted[word] = sum(word in ln for ln in lines)
            else:
                if not lowered:
                    lowered.extend(ln.lower() for ln in lines)
                counted[word] = sum(word in ln for ln in lowered)
        return counted[word]

    def tree_ratio(count_of: str) -> float | None:
        if facts is None or total == 0:
            return None
        return round(getattr(facts, count_of) / total, PRECISION)

    def frac_lines(word: str) -> float:  # the reference gives 0.0, not None, on an empty file
        return round(count(word) / total, PRECISION) if total else 0.0

    def simplefunc() -> float | None:
        if facts is None or total == 0:
            return None
        return facts.simple_functions / total  # the reference does not round this one

    def no_logic() -> float | None:
        if facts is None or total == 0:
            return None
        imports = count("import")
        returns = len(_SIMPLE_RETURN.findall(code))
        n = facts.functions + imports + facts.classes + returns + facts.class_level_vars
        return round(n / total, PRECISION)

    return run_group(
        [
            ("qsc_codepython_cate_ast", lambda: float(analysis.parsed)),
            ("qsc_codepython_frac_lines_func_ratio", lambda: tree_ratio("functions")),
            ("qsc_codepython_cate_var_zero", lambda: None if facts is None else not facts.has_variables),
            ("qsc_codepython_frac_lines_pass", lambda: frac_lines("pass")),
            ("qsc_codepython_frac_lines_import", lambda: frac_lines("import")),
            ("qsc_codepython_frac_lines_simplefunc", simplefunc),
            ("qsc_codepython_score_lines_no_logic", no_logic),
            ("qsc_codepython_frac_lines_print", lambda: ratio(count("print"), total)),
        ]
    )
