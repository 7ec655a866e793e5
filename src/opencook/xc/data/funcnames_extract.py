"""One Python source file -> ``(function name, body token ids)`` for every function in it.

``ast`` finds the functions (and rejects files that do not parse); a regex lexer over the file's
UTF-8 bytes supplies the tokens, five times faster than ``tokenize`` and exact on code that parsed.
A body's tokens are those starting between its first statement and the function's end:
identifiers split on ``_`` and camelCase into lower-case pieces (keywords are identifiers, so
``return`` stays ``return``), operators and brackets as themselves, every string literal (docstrings
included) as ``<str>``, every number as ``<num>``, comments dropped. Every occurrence of the
function's own name as an identifier (recursion, ``self.name``) is removed before splitting, so the
label never leaks into its input. Pieces hash (crc32) into ``[1, vocab_buckets)``; 0 is padding.
"""

from __future__ import annotations

import ast
import bisect
import re
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np

_LEXER = re.compile(
    rb"""
    (?P<c>\#[^\r\n]*)
    |(?P<s>[rRbBuUfF]{0,2}(?:\"\"\"(?:\\[\s\S]|[^\\])*?\"\"\"|'''(?:\\[\s\S]|[^\\])*?'''
        |"(?:\\[\s\S]|[^"\\\r\n])*"|'(?:\\[\s\S]|[^'\\\r\n])*'))
    |(?P<n>[A-Za-z_\x80-\xff][\w\x80-\xff]*)
    |(?P<d>\.?\d(?:[eE][-+]|[\w.])*)
    |(?P<o>\*\*=?|//=?|->|<<=?|>>=?|:=|[-+*/%@&|^<>=!]=|\.\.\.|[^\s\\])
    """,
    re.VERBOSE,
)
_PIECE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^\W\d_A-Za-z]+")
OK, NOT_UTF8, PARSE_FAILED, TOO_LARGE = "ok", "not_utf8", "parse_failed", "too_large"


def split_identifier(name: str) -> list[str]:
    """``getHTTPResponse_code2`` -> ``['get', 'http', 'response', 'code', '2']``; ``_`` stays ``_``."""
    pieces = [p.lower() for part in name.split("_") for p in _PIECE.findall(part)]
    return pieces or [name]


@dataclass
class FileFunctions:
    status: str
    names: list[str] = field(default_factory=list)
    tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    """Every function's token ids, concatenated; ``lengths`` cuts them."""
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))


class Extractor:
    """Holds the piece -> id memo, so each distinct lexeme is split and hashed once per process."""

    def __init__(self, vocab_buckets: int, max_tokens: int, max_file_bytes: int) -> None:
        self.vocab_buckets = vocab_buckets
        self.max_tokens = max_tokens
        self.max_file_bytes = max_file_bytes
        self._memo: dict[tuple[str | None, bytes], tuple[int, ...]] = {}

    def piece_id(self, piece: str) -> int:
        return 1 + zlib.crc32(piece.encode("utf-8")) % (self.vocab_buckets - 1)

    def __call__(self, source: bytes | str) -> FileFunctions:
        if len(source) > self.max_file_bytes:
            return FileFunctions(TOO_LARGE)
        if isinstance(source, bytes):
            try:
                text = source.decode("utf-8")
            except UnicodeDecodeError:
                return FileFunctions(NOT_UTF8)
        else:
            text = source
        text = text.removeprefix("\ufeff")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return FileFunctions(PARSE_FAILED)
        return self._functions(tree, text.encode("utf-8"))

    def _functions(self, tree: ast.AST, data: bytes) -> FileFunctions:
        line_starts = [0]
        for line in data.splitlines(keepends=True):
            line_starts.append(line_starts[-1] + len(line))
        starts, raws, ids = [], [], []
        for m in _LEXER.finditer(data):
            kind = m.lastgroup
            if kind == "c":
                continue
            raw = m.group() if kind == "n" else b""
            starts.append(m.start())
            raws.append(raw)
            ids.append(self._ids(kind, m.group()))
        funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        funcs.sort(key=lambda n: (n.lineno, n.col_offset))
        out = FileFunctions(OK)
        chunks, lengths = [], []
        for fn in funcs:
            lo = bisect.bisect_left(starts, _body_start(fn, line_starts))
            hi = bisect.bisect_left(starts, line_starts[fn.end_lineno - 1] + fn.end_col_offset)
            own = fn.name.encode("utf-8")
            body: list[int] = []
            for i in range(lo, hi):
                if raws[i] != own:
                    body.extend(ids[i])
                    if len(body) >= self.max_tokens:
                        break
            if body:
                out.names.append(fn.name)
                chunks.append(body[: self.max_tokens])
                lengths.append(min(len(body), self.max_tokens))
        if chunks:
            out.tokens = np.fromiter((t for c in chunks for t in c), np.int32, sum(lengths))
            out.lengths = np.asarray(lengths, np.int32)
        return out

    def _ids(self, kind: str | None, lexeme: bytes) -> tuple[int, ...]:
        memo_key = (kind, lexeme) if kind in ("n", "o") else (kind, b"")
        found = self._memo.get(memo_key)
        if found is None:
            if kind == "n":
                pieces = split_identifier(lexeme.decode("utf-8", "replace"))
            elif kind == "s":
                pieces = ["<str>"]
            elif kind == "d":
                pieces = ["<num>"]
            else:
                pieces = [lexeme.decode("utf-8", "replace")]
            found = self._memo[memo_key] = tuple(self.piece_id(p) for p in pieces)
        return found


def _body_start(fn: ast.FunctionDef | ast.AsyncFunctionDef, line_starts: list[int]) -> int:
    """Byte offset of the first statement; a decorated one starts at its first ``@`` line."""
    first = fn.body[0]
    decorators = getattr(first, "decorator_list", None)
    if decorators:
        return line_starts[min(d.lineno for d in decorators) - 1]
    return line_starts[first.lineno - 1] + first.col_offset
