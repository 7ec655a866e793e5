"""Split a file into code and comments the way the reference does.

The reference lexes the file with the Pygments lexer whose name is ``program_lang`` and calls a
token a comment when its type is exactly one of ``Comment.Single``, ``Comment.Multiline``,
``Comment.Hashbang``, ``Comment.Special`` or ``String.Doc`` (``Comment.Preproc`` and plain
``Comment`` stay code). Languages without a lexer of that name fall back to a line-based scan;
Perl has its own POD-aware scan. Lexing goes through ``lang_signals``' cached splitter, so the
general and the language-specific signals lex a file once, and languages with a hand-written
scanner that reproduces Pygments' split (Python, for now) skip Pygments altogether.
"""

from __future__ import annotations

from functools import cache

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from opencook.data.filter.lang_signals._lexing import code_and_comments


@cache
def _lexer(name: str) -> Lexer | None:
    try:
        return get_lexer_by_name(name)
    except ClassNotFound:
        return None


def split_code_comments(text: str, program_lang: str, lines: list[str]) -> tuple[str, str]:
    """Return ``(code, comments)``; ``lines`` are the file's lines with their newlines."""
    if program_lang == "perl":
        return _perl_scan(lines)
    lexer = _lexer(program_lang)
    if lexer is None:
        return _line_scan(lines)
    return code_and_comments(program_lang, text)


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
