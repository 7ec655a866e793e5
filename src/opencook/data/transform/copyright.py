"""Remove the copyright / licence notice comment at the top of a source file.

RefineCode fixes such files instead of dropping them (~15% of files open with a notice): the
notice is boilerplate repeated across millions of files and teaches the model nothing.

Only the *leading* comment blocks are looked at: after an optional BOM, shebang, encoding line,
``<?php`` / ``<?xml`` / ``<!DOCTYPE`` line (those stay), we walk consecutive comment blocks
(block comments, runs of line comments, and for Python a module docstring) separated only by
blank lines, and delete each block that reads like a notice. The first line of code ends the
walk, so code and comments further down are never touched.
"""

from __future__ import annotations

import re

from opencook.data.transform.comment_syntax import CommentSyntax, comment_syntax

# "copyright" alone is too common a word ("parse copyright strings"); a notice names a year,
# a (c)/© sign or a capitalised holder right after it, or uses one of the licence phrases.
_NOTICE = re.compile(
    r"(?i:copyright)\s*(?:(?i:\(c\))|©|\d{4}|:|[A-Z])"
    r"|©"
    r"|(?i:\(c\)\s*\d{4})"
    r"|(?i:licensed\s+(?:under|to\s+the))"
    r"|(?i:spdx-license-identifier)"
    r"|(?i:all\s+rights\s+reserved)"
    r"|(?i:permission\s+is\s+hereby\s+granted)"
    r"|(?i:is\s+free\s+software)"
    r"|(?i:you\s+may\s+not\s+use\s+this\s+file\s+except)"
)

_PREAMBLE = re.compile(
    r"\#!.*"  # shebang
    r"|[ \t\f]*\#.*?coding[:=][ \t]*[-\w.]+.*"  # PEP 263 encoding line
    r"|<\?php\b.*|<\?xml\b.*|<!DOCTYPE\b.*",
    re.IGNORECASE,
)

# Tool directives that may sit inside a notice run and must survive its removal.
_DIRECTIVE = re.compile(
    r"[ \t]*(?:\#|//|--|;|%)\s*(?:-\*-|vim?:|(?:en)?coding[:=]|go:|\+build|eslint|@flow|@ts-|cython:|distutils:)"
)

_DOCSTRING = re.compile(r"[rRuU]{0,2}(\"\"\"|''')")
_BLANK = re.compile(r"(?:[ \t\f\r]*\n)*")


def looks_like_notice(text: str) -> bool:
    """True when a comment's text reads like a copyright or licence notice."""
    return _NOTICE.search(text) is not None


def remove_copyright_header(text: str, language: str) -> str:
    """``text`` without its leading copyright/licence comment blocks (unchanged if none)."""
    syntax = comment_syntax(language)
    if syntax is None or not text:
        return text
    pos = _preamble_end(text)
    kept = [text[:pos]]
    changed = False
    while True:
        start = _BLANK.match(text, pos).end()
        end = _comment_end(text, start, syntax)
        if end is None:
            break
        block = text[start:end]
        if looks_like_notice(block):
            changed = True
            kept.append(text[pos:start])
            kept.extend(line for line in block.splitlines(keepends=True) if _DIRECTIVE.match(line))
            pos = _BLANK.match(text, end).end() if text[end - 1 : end] == "\n" else end
        else:
            kept.append(text[pos:end])
            pos = end
    if not changed:
        return text
    kept.append(text[pos:])
    return "".join(kept)


def _preamble_end(text: str) -> int:
    """Offset just past the BOM and up to two leading lines that must stay first."""
    pos = 1 if text.startswith("\ufeff") else 0
    for lineno in range(2):
        m = _PREAMBLE.match(text, pos)
        if m is None or (lineno > 0 and text.startswith("#!", pos)):
            break
        nl = text.find("\n", m.end())
        pos = len(text) if nl < 0 else nl + 1
    return pos


def _line_end(text: str, i: int) -> int:
    """Offset just past the newline ending the line that contains offset ``i``."""
    nl = text.find("\n", i)
    return len(text) if nl < 0 else nl + 1


def _finish_block(text: str, close_end: int) -> int:
    """Extend a block comment to the end of its line when nothing but whitespace follows it."""
    eol = _line_end(text, close_end)
    return eol if text[close_end:eol].strip() == "" else close_end


def _comment_end(text: str, i: int, syntax: CommentSyntax) -> int | None:
    """End offset of the comment block starting at ``i``, or ``None`` if code starts there."""
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    if i >= n:
        return None
    if syntax.docstring:
        m = _DOCSTRING.match(text, i)
        if m is not None:
            close = text.find(m.group(1), m.end())
            if close < 0:
                return None
            close += 3
            eol = _line_end(text, close)
            rest = text[close:eol].strip()
            return eol if rest == "" or rest.startswith("#") else None
    for opener, closer in syntax.block:
        if text.startswith(opener, i):
            close = text.find(closer, i + len(opener))
            return None if close < 0 else _finish_block(text, close + len(closer))
    if not syntax.line:
        return None
    end = i
    while end < n:
        j = end
        while j < n and text[j] in " \t":
            j += 1
        if not text.startswith(syntax.line, j):
            break
        end = _line_end(text, j)
    return end if end > i else None
