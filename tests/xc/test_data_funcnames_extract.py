"""Extraction from one file: function boundaries, token rules, no leakage of the function's own name."""

import numpy as np

from opencook.xc.data.funcnames_extract import (
    NOT_UTF8,
    OK,
    PARSE_FAILED,
    TOO_LARGE,
    Extractor,
    split_identifier,
)

SOURCE = b'''
import os


def fooBar(x, y=1.5e-3):
    """Doc with \\""" inside."""
    # a comment naming fooBar
    if x:
        return fooBar(x - 1)
    return self.fooBar + os.path.join(x, 'a') ** 2


class K:
    @staticmethod
    async def get_HTTPResponse(a):
        @deco
        def inner(): pass
        return a
'''


def _decode(ex: Extractor, ids: np.ndarray) -> list:
    vocab = ["if", "x", "return", "foo", "bar", "self", "os", "path", "join", "<str>", "<num>", "**", "(", ")",
             "+", ":", "-", "deco", "pass", "a", "@", "def", "inner", ".", ",", "comment", "naming"]  # fmt: skip
    names = {ex.piece_id(p): p for p in vocab}
    return [names.get(int(i), int(i)) for i in ids]


def _functions(result) -> dict[str, list[int]]:
    bounds = np.concatenate([[0], np.cumsum(result.lengths)])
    return {n: result.tokens[bounds[i] : bounds[i + 1]] for i, n in enumerate(result.names)}


def test_functions_tokens_and_no_own_name():
    ex = Extractor(1 << 18, 128, 1_000_000)
    result = ex(SOURCE)
    assert result.status == OK and result.names == ["fooBar", "get_HTTPResponse", "inner"]
    funcs = _functions(result)
    assert _decode(ex, funcs["fooBar"]) == [
        "<str>", "if", "x", ":", "return", "(", "x", "-", "<num>", ")",
        "return", "self", ".", "+", "os", ".", "path", ".", "join", "(", "x", ",", "<str>", ")", "**", "<num>",
    ]  # fmt: skip
    assert _decode(ex, funcs["get_HTTPResponse"]) == [
        "@", "deco", "def", "inner", "(", ")", ":", "pass", "return", "a",
    ]  # fmt: skip
    assert _decode(ex, funcs["inner"]) == ["pass"]
    assert result.tokens.dtype == np.int32 and result.tokens.min() >= 1 and result.tokens.max() < 1 << 18


def test_truncation_and_statuses():
    ex = Extractor(1 << 10, 4, 1000)
    result = ex("def f():\n    return a + b + c + d\n")
    assert result.lengths.tolist() == [4]
    assert ex(b"def f(:\n").status == PARSE_FAILED
    assert ex(b"def f():\n    return '\xe9'\n").status == NOT_UTF8
    assert ex(b"x = 1\n" * 500).status == TOO_LARGE
    assert ex("\ufeffdef g():\n    return 1\n").names == ["g"]


def test_split_identifier():
    assert split_identifier("getHTTPResponse_code2") == ["get", "http", "response", "code", "2"]
    assert split_identifier("__init__") == ["init"]
    assert split_identifier("_") == ["_"]
    assert split_identifier("return") == ["return"]
