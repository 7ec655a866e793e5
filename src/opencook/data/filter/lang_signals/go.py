"""Go signals: regex counts over the comment-free code, plus the test-file flag."""

from __future__ import annotations

import os

import regex

from opencook.data.filter.comments import code_and_comments

from ._common import PRECISION, Signal, nonempty_lines, ratio, run_group
from ._regex import compile_, count

_M = regex.MULTILINE
_FUNCTION = compile_(
    r"^func\s+(?:\(\s*\w+\s+\*?\w+\s*\))?\s*"  # optional receiver
    r"\w+\s*\([^)]*\)\s*"  # name and parameters
    r"(?:\([^)]+\)|[\w\[\]]+)?\s*",  # optional results
    _M,
)
_SINGLE_IMPORT = compile_(r'^import\s+"[^"]+"$')
_STRUCT = compile_(r"^\s*type\s+\w+\s+(?:struct|interface)\s*\{[^}]*\}", _M | regex.DOTALL)
_SIMPLE_RETURN = compile_(r"^\s*return(?:\s+[^;\n]+)?\s*;?\s*$", _M)
_SIMPLE_VAR = compile_(r"^\s*var\s+\w+\s+\w+\s*;?\s*$", _M)


def _import_lines(code: str) -> int:
    """Import lines as the reference counts them.

    Its multi-line-import flag is reset on every line, so only ``import "x"`` lines and the
    opening ``import (`` line are counted, never the lines inside the block (kept as is).
    """
    n = 0
    for line in code.split("\n"):
        s = line.strip()
        if s == "import (" or _SINGLE_IMPORT.match(s):
            n += 1
    return n


def is_test_file(filename: str, ext: str, compat: str) -> bool:
    """``*_test.go``. The reference saw the name without its extension, so it never fired."""
    name = filename.lower()
    if compat == "reference":
        return os.path.splitext(name)[0].endswith("_test.go")
    if ext and not name.endswith("." + ext.lower()):
        name = f"{name}.{ext.lower()}"  # a caller gave the stem only
    return name.endswith("_test.go")


def compute(text: str, filename: str, ext: str, compat: str) -> dict[str, Signal]:
    """``qsc_codego_*`` signals, in the reference's order."""
    code, _ = code_and_comments("go", text)
    lines = nonempty_lines(code)
    total = len(lines)

    def no_logic() -> float | None:
        if total == 0:
            return None
        n = count(_FUNCTION, code) + _import_lines(code)
        n += sum(count(p, code) for p in (_SIMPLE_VAR, _SIMPLE_RETURN, _STRUCT))
        return ratio(n, total)

    return run_group(
        [
            (
                "qsc_codego_cate_testfile",
                lambda: round(float(is_test_file(filename, ext, compat)), PRECISION),
            ),
            (
                "qsc_codego_frac_lines_func_ratio",
                lambda: ratio(count(_FUNCTION, code), total) if total else None,
            ),
            # The reference compares the match *list* with 0, so this is always 0.0 (kept as is).
            ("qsc_codego_cate_var_zero", lambda: 0.0),
            ("qsc_codego_score_lines_no_logic", no_logic),
            ("qsc_codego_frac_lines_print", lambda: ratio(sum("fmt.Print" in ln for ln in lines), total)),
        ]
    )
