"""Natural-language text of a Python file: docstrings (via ``ast``) plus ``#`` comments.

Mirrors the BigCode helper the reference uses for ``qsc_code_frac_chars_comments`` on Python:
module/class/function docstrings (``ast.get_docstring``, async functions excluded) joined by
newlines, then the comment tokens with ``#`` removed; either part is empty when its parser fails.
"""

from __future__ import annotations

import io
import re
import tokenize

from opencook.data.filter.pyparse import analyse


def _comments(source: str) -> str:
    toks = [
        (tok.type, tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    ]
    return tokenize.untokenize(toks).replace("#", "")


# A comment, or a string literal to skip (so a '#' inside it is not a comment).
_Q1, _Q2 = "'", '"'
_SQ3 = _Q1 * 3 + r"(?:[^'\\]|\\.|'(?!''))*" + _Q1 * 3
_DQ3 = _Q2 * 3 + r'(?:[^"\\]|\\.|"(?!""))*' + _Q2 * 3
_SQ = _Q1 + r"(?:[^'\\\n]|\\.)*" + _Q1
_DQ = _Q2 + r'(?:[^"\\\n]|\\.)*' + _Q2
_COMMENT_OR_STRING = re.compile(r"(#[^\r\n]*)|" + "|".join((_SQ3, _DQ3, _SQ, _DQ)), re.DOTALL)


def _comments_of_valid_source(source: str) -> str:
    """``_comments`` for source that ``ast.parse`` accepted: tokenize then cannot fail, and its
    COMMENT tokens are exactly the ``#`` runs outside string literals (checked against
    ``tokenize`` on the CPython standard library), found here at C speed."""
    return "".join(m for m in _COMMENT_OR_STRING.findall(source) if m).replace("#", "")


def python_text(source: str) -> str:
    found = analyse(source).docstrings  # one parse, shared with the Python-specific signals
    parsed = found is not None  # any parse failure means "no docstrings", as in the reference
    docs = "\n".join(found) if parsed else ""
    try:
        comments = _comments_of_valid_source(source) if parsed else _comments(source)
    except Exception:  # noqa: BLE001
        comments = ""
    return (docs + "\n" + comments).strip()
