"""Natural-language text of a Python file: docstrings (via ``ast``) plus ``#`` comments.

Mirrors the BigCode helper the reference uses for ``qsc_code_frac_chars_comments`` on Python:
module/class/function docstrings (``ast.get_docstring``, async functions excluded) joined by
newlines, then the comment tokens with ``#`` removed; either part is empty when its parser fails.
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings

_DOC_NODES = {ast.ClassDef: "Class", ast.FunctionDef: "Function/Method", ast.Module: "Module"}


def _docstrings(source: str) -> list[str]:
    with warnings.catch_warnings():  # invalid escapes in the analysed file are not our warnings
        warnings.simplefilter("ignore")
        tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        kind = _DOC_NODES.get(type(node))
        if kind is not None:
            found.append((kind, getattr(node, "name", None) or "", ast.get_docstring(node)))
    found.sort(key=lambda t: (t[0], t[1]))
    return [d for _, _, d in found if d]


def _comments(source: str) -> str:
    toks = [
        (tok.type, tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    ]
    return tokenize.untokenize(toks).replace("#", "")


def python_text(source: str) -> str:
    try:
        docs = "\n".join(_docstrings(source))
    except Exception:  # noqa: BLE001  (any parse failure means "no docstrings", as in the reference)
        docs = ""
    try:
        comments = _comments(source)
    except Exception:  # noqa: BLE001
        comments = ""
    return (docs + "\n" + comments).strip()
