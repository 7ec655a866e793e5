"""Fast code/comment splitters that reproduce Pygments 2.18's split for some languages.

Pygments' RegexLexer runs a Python loop per token (about 0.5 MB/s); for the split we only need
the spans of comment tokens, which a scanner can find by jumping between the few characters that
can open a string or a comment. Each scanner mirrors the lexer's rules for those tokens,
including its quirks (see docs/filter_lang_signals.md); it was checked against Pygments on the
whole CPython standard library and site-packages.
"""

from __future__ import annotations

import re

# Pygments' input preprocessing (lexer options stripnl=True, ensurenl=True, tabsize=0).


def _prepare(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    return text if text.endswith("\n") else text + "\n"


def _assemble(text: str, spans: list[tuple[int, int]]) -> tuple[str, str]:
    code: list[str] = []
    comments: list[str] = []
    last = 0
    for a, b in spans:
        code.append(text[last:a])
        comments.append(text[a:b])
        last = b
    code.append(text[last:])
    return "".join(code), "".join(comments)


# ---- Python (pygments.lexers.python.PythonLexer) -------------------------------------------

_PY_OPEN = re.compile(r"[#'\"]")
_PY_VALID_PREFIX = frozenset({"", "r", "u", "b", "f", "ur", "ru", "br", "rb", "rf", "fr"})
_PY_DOC_LEAD = re.compile(r"\s*[rRuUbB]{0,2}")
# String bodies, matched right after the opening quote(s); each ends at the closing quote, at a
# newline (single-quoted: the lexer resets there) or at the end of the text.
_PY_BODY = {
    ('"', False, False): re.compile(r'(?:[^"\\\n]|\\[\s\S])*(?:"|(?=\n)|\Z)'),
    ("'", False, False): re.compile(r"(?:[^'\\\n]|\\[\s\S])*(?:'|(?=\n)|\Z)"),
    ('"', True, False): re.compile(r'(?:[^"\\]|\\[\s\S]|"(?!""))*(?:"""|\Z)'),
    ("'", True, False): re.compile(r"(?:[^'\\]|\\[\s\S]|'(?!''))*(?:'''|\Z)"),
}
_PY_BODY[('"', False, True)] = _PY_BODY[('"', False, False)]
_PY_BODY[("'", False, True)] = _PY_BODY[("'", False, False)]


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def split_python(text: str) -> tuple[str, str]:
    """Comments are ``#`` to end of line; String.Doc is any triple-quoted string (affix r/u/b, up
    to two letters) that opens a line, ending at the first closing triple quote, escapes ignored.
    """
    text = _prepare(text)
    n = len(text)
    spans: list[tuple[int, int]] = []
    pos = 0
    search = _PY_OPEN.search
    while True:
        m = search(text, pos)
        if m is None:
            break
        i = m.start()
        c = text[i]
        if c == "#":
            j = text.find("\n", i)
            spans.append((i, j))
            pos = j
            continue
        triple = text.startswith(c * 3, i)
        # The identifier run right before the quote is a prefix only if it is a valid one.
        k = i
        while k > 0 and _is_ident_char(text[k - 1]):
            k -= 1
        prefix = text[k:i].lower()
        if prefix not in _PY_VALID_PREFIX:
            prefix = ""
        if triple:
            line_start = text.rfind("\n", 0, k) + 1
            lead = text[line_start:i]
            if _PY_DOC_LEAD.fullmatch(lead):
                end = text.find(c * 3, i + 3)
                if end >= 0:
                    spans.append((i, end + 3))
                    pos = end + 3
                    continue
            if "r" in prefix:
                end = text.find(c * 3, i + 3)
                pos = n if end < 0 else end + 3
                continue
            pos = _PY_BODY[(c, True, False)].match(text, i + 3).end()
            continue
        pos = _PY_BODY[(c, False, "r" in prefix)].match(text, i + 1).end()
    return _assemble(text, spans)


# ---- Go (pygments.lexers.go.GoLexer: a single state) -----------------------------------------

_GO_OPEN = re.compile(r"[/'\"`]")
_GO_BLOCK = re.compile(r"/(?:\\\n)?\*[\s\S]*?\*(?:\\\n)?/")
_GO_CHAR = re.compile(
    r"""'(?:\\['"\\abfnrtv]|\\x[0-9a-fA-F]{2}|\\[0-7]{1,3}|\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8}|[^\\])'"""
)
_GO_STRING = re.compile(r'"(?:\\\\|\\[^\\]|[^"\\])*"')


def split_go(text: str) -> tuple[str, str]:
    """``//`` to end of line and ``/* */`` are comments. A string or char literal that does not
    close is a one-character error token for Pygments and lexing goes on right after it.
    """
    text = _prepare(text)
    spans: list[tuple[int, int]] = []
    pos = 0
    search = _GO_OPEN.search
    while True:
        m = search(text, pos)
        if m is None:
            break
        i = m.start()
        c = text[i]
        if c == "/":
            if text.startswith("//", i):
                j = text.find("\n", i)
                spans.append((i, j))
                pos = j
                continue
            b = _GO_BLOCK.match(text, i)
            if b is not None:
                spans.append((i, b.end()))
                pos = b.end()
                continue
            pos = i + 1
        elif c == "`":
            j = text.find("`", i + 1)
            pos = i + 1 if j < 0 else j + 1
        else:
            lit = (_GO_STRING if c == '"' else _GO_CHAR).match(text, i)
            pos = i + 1 if lit is None else lit.end()
    return _assemble(text, spans)


_SPLITTERS = {"python": split_python, "go": split_go}


def split(program_lang: str, text: str) -> tuple[str, str] | None:
    """(code, comments), or None when there is no fast scanner for ``program_lang``."""
    fn = _SPLITTERS.get(program_lang)
    return None if fn is None else fn(text)
