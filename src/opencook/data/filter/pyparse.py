"""One ``ast.parse`` per Python text, shared by the general and the Python-specific signals.

``frac_chars_comments`` (docstrings, ``pytext``) and the ``qsc_codepython_*`` signals both need
the tree of the same text; parsing is the largest single cost of the Python path, so the last few
results are kept. A parse that fails is remembered as ``None`` (both callers treat any exception
as "does not parse"). Callers must not modify the tree.
"""

from __future__ import annotations

import ast
import gc
import warnings

_CACHE_SIZE = 2
_cache: list[tuple[str, ast.Module | None]] = []


def parse(text: str) -> ast.Module | None:
    """``ast.parse(text)`` (warnings silenced), or None when it raises."""
    for cached_text, tree in _cache:
        if cached_text is text or cached_text == text:
            return tree
    # The cyclic garbage collector is paused while the tree is built: an AST has no reference
    # cycles, and the many allocations would otherwise trigger full collections of everything
    # the caller holds.
    gc_was_enabled = gc.isenabled()
    with warnings.catch_warnings():  # invalid escapes in the analysed file are not our warnings
        warnings.simplefilter("ignore")
        gc.disable()
        try:
            tree = ast.parse(text)
        except Exception:  # noqa: BLE001 - any failure means "does not parse"
            tree = None
        finally:
            if gc_was_enabled:
                gc.enable()
    _cache.insert(0, (text, tree))
    del _cache[_CACHE_SIZE:]
    return tree


# Statements only occur in these list fields (of statements, ``ExceptHandler`` and ``match_case``):
# expressions never contain statements, so walking these lists reaches every statement node.
STMT_LISTS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})


def _stmt_fields() -> dict[type, tuple[str, ...]]:
    out: dict[type, tuple[str, ...]] = {}
    todo = [ast.stmt, ast.excepthandler, ast.match_case, ast.mod]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        out[cls] = tuple(f for f in cls._fields if f in STMT_LISTS)
    return out


STMT_FIELDS = _stmt_fields()
