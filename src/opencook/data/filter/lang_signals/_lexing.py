"""Split source text into code and comments the way the reference does (Pygments token types).

The reference removes exactly these token types from the code (compared with ``==``, so e.g.
plain ``Comment`` and ``Comment.Preproc`` stay in the code): Comment.Multiline, Comment.Single,
String.Doc, Comment.Hashbang, Comment.Special. The general signals need the same split, so the
result for the last few texts is cached: a caller computing both signal families lexes once.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cache

import pygments
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, String

_COMMENT_TYPES = frozenset({Comment.Multiline, Comment.Single, String.Doc, Comment.Hashbang, Comment.Special})
_CACHE_SIZE = 4
_cache: OrderedDict[tuple[str, bool, str], tuple[str, str]] = OrderedDict()


@cache
def _lexer(program_lang: str) -> Lexer:
    return get_lexer_by_name(program_lang)


def split_pygments(program_lang: str, text: str) -> tuple[str, str]:
    """(code, comments) exactly as the reference computes them with Pygments."""
    code: list[str] = []
    comments: list[str] = []
    for ttype, tok in pygments.lex(text, _lexer(program_lang)):
        (comments if ttype in _COMMENT_TYPES else code).append(tok)
    return "".join(code), "".join(comments)


def code_and_comments(program_lang: str, text: str, fast: bool = True) -> tuple[str, str]:
    """(code, comments) of ``text``; ``fast`` uses the hand-written scanner where one exists.

    The fast scanners reproduce Pygments' comment/code split for the supported languages (see
    docs/filter_lang_signals.md for how that was checked): hand-written ones for Python and Go, a
    driver of Pygments' own token table (``_fastlex_c``) for C, C++, Java, C# and JavaScript;
    other languages always use Pygments.
    """
    key = (program_lang, fast, text)
    hit = _cache.get(key)
    if hit is not None:
        _cache.move_to_end(key)
        return hit
    result = None
    if fast:
        from . import _fastlex, _fastlex_c

        result = _fastlex.split(program_lang, text)
        if result is None:
            result = _fastlex_c.split(program_lang, text)
    if result is None:
        result = split_pygments(program_lang, text)
    _cache[key] = result
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return result
