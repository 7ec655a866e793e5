"""Split a file into code and comments the way the reference does: one module for both signal families.

The reference lexes the file with the Pygments lexer whose name is ``program_lang`` and calls a token a
comment when its type is exactly one of ``Comment.Single``, ``Comment.Multiline``, ``Comment.Hashbang``,
``Comment.Special`` or ``String.Doc`` (compared with ``==``, so plain ``Comment`` and ``Comment.Preproc``
stay code). For the general signals, languages without a lexer of that name fall back to a line-based
scan and Perl has its own POD-aware scan (``split_code_comments``). The language signals call
``code_and_comments`` directly. The result for the last few texts is cached, so a file whose general and
language-specific signals are both computed is lexed once, and languages with a hand-written scanner that
reproduces Pygments' split skip Pygments altogether.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cache

import pygments
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, String
from pygments.util import ClassNotFound

_COMMENT_TYPES = frozenset({Comment.Multiline, Comment.Single, String.Doc, Comment.Hashbang, Comment.Special})
_CACHE_SIZE = 4
_cache: OrderedDict[tuple[str, bool, bool, str], tuple[str, str]] = OrderedDict()


@cache
def _lexer(name: str) -> Lexer | None:
    try:
        return get_lexer_by_name(name)
    except ClassNotFound:
        return None


def split_code_comments(
    text: str, program_lang: str, lines: list[str], modern: bool = False
) -> tuple[str, str]:
    """The general signals' split: ``(code, comments)``; ``lines`` are the file's lines with their newlines."""
    if program_lang == "perl":
        return _perl_scan(lines)
    if _lexer(program_lang) is None:
        return _line_scan(lines)
    return code_and_comments(program_lang, text, modern=modern)


def split_pygments(program_lang: str, text: str) -> tuple[str, str]:
    """(code, comments) exactly as the reference computes them with Pygments."""
    lexer = _lexer(program_lang)
    if lexer is None:
        raise ClassNotFound(f"no lexer for alias {program_lang!r} found")
    code: list[str] = []
    comments: list[str] = []
    for ttype, tok in pygments.lex(text, lexer):
        (comments if ttype in _COMMENT_TYPES else code).append(tok)
    return "".join(code), "".join(comments)


def code_and_comments(program_lang: str, text: str, fast: bool = True, modern: bool = False) -> tuple[str, str]:
    """(code, comments) of ``text``; ``fast`` uses the hand-written scanner where one exists.

    ``modern`` (fixed mode) takes JavaScript's comments from its tree-sitter parse, which the
    language signals need anyway; a file that does not parse falls back to the scanner.

    The fast scanners reproduce Pygments' comment/code split for the supported languages (see
    docs/filter_lang_signals.md for how that was checked): hand-written ones for Python and Go, a
    driver of Pygments' own token tables (``_fastlex_c``) for C, C++, Java, C#, JavaScript,
    TypeScript, shell, HTML, XML, Rust, D, SQL, Tcl, CMake, INI and makefiles; other languages
    always use Pygments.
    """
    modern = modern and program_lang == "javascript"
    key = (program_lang, fast, modern, text)
    hit = _cache.get(key)
    if hit is not None:
        _cache.move_to_end(key)
        return hit
    result = None
    if modern:
        from opencook.data.filter.lang_signals import javascript_ts

        result = javascript_ts.split(text)
    if result is None and fast:
        from opencook.data.filter.lang_signals import _fastlex, _fastlex_c

        result = _fastlex.split(program_lang, text)
        if result is None:
            result = _fastlex_c.split(program_lang, text)
    if result is None:
        result = split_pygments(program_lang, text)
    _cache[key] = result
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return result


def _line_scan(lines: list[str]) -> tuple[str, str]:
    """The reference's fallback: ``#``, ``//``, ``--`` lines and toggled ``/* */``/``\"\"\"`` blocks."""
    code: list[str] = []
    comments: list[str] = []
    in_block = False
    for line in lines:
        s = line.strip()
        if s.startswith(('"""', "/*")) or s.endswith(('"""', "*/")):
            in_block = not in_block
            comments.append(line)
        elif s.startswith(("#", "//", "--")) or in_block:
            in_block = True  # as in the reference: a line comment also opens block mode
            comments.append(line)
        else:
            code.append(line)
    return "".join(code), "".join(comments)


def _perl_scan(lines: list[str]) -> tuple[str, str]:
    """POD blocks (``=head`` .. ``=cut``) and ``#`` lines are comments."""
    code: list[str] = []
    comments: list[str] = []
    in_pod = False
    for line in lines:
        s = line.strip()
        if s.startswith("="):
            in_pod = not s.startswith("=cut")
            comments.append(line)
        elif s.startswith("#") or in_pod:
            comments.append(line)
        else:
            code.append(line)
    return "".join(code), "".join(comments)
