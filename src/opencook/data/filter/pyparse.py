"""One ``ast.parse`` per Python text, shared by the general and the Python-specific signals.

``frac_chars_comments`` (docstrings, ``pytext``) and the ``qsc_codepython_*`` signals both need
facts from the tree of the same text; parsing is the largest single cost of the Python path. So
:func:`analyse` parses once, extracts everything either caller needs, drops the tree and keeps
the (small) results of the last few texts. The cyclic garbage collector is paused meanwhile: an
AST has no reference cycles, and its many short-lived allocations would otherwise trigger
collections that traverse everything the caller holds.
"""

from __future__ import annotations

import ast
import gc
import warnings
from collections import deque
from dataclasses import dataclass

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


_DOC_NODES = {ast.ClassDef: "Class", ast.FunctionDef: "Function/Method", ast.Module: "Module"}


def _doc_nodes(tree: ast.Module):
    """Module, class and (non-async) function nodes in ``ast.walk`` order, visiting statements only.

    Definitions are statements, so a breadth-first walk over the statement lists (in each node's
    field order) meets them in the same order as ``ast.walk`` without visiting every expression.
    """
    queue = deque([tree])
    while queue:
        node = queue.popleft()
        if type(node) in _DOC_NODES:
            yield node
        for attr in node._fields:
            if attr in STMT_LISTS:
                queue.extend(getattr(node, attr))


def docstrings(tree: ast.Module) -> list[str]:
    """Module, class and function docstrings, sorted by kind then name (as the reference)."""
    found = [
        (_DOC_NODES[type(n)], getattr(n, "name", None) or "", ast.get_docstring(n)) for n in _doc_nodes(tree)
    ]
    found.sort(key=lambda t: (t[0], t[1]))
    return [d for _, _, d in found if d]


@dataclass
class TreeFacts:
    functions: int = 0  # ast.FunctionDef anywhere (async defs are not counted by the reference)
    simple_functions: int = 0  # FunctionDef whose body is a single `return`
    classes: int = 0  # every ClassDef
    class_level_vars: int = 0  # Name targets assigned directly in a class body (outermost classes)
    has_variables: bool = False  # Assign/For Name target or a positional function argument


_FunctionDef, _ClassDef, _Assign, _AnnAssign = ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign
_For, _Return, _Name = ast.For, ast.Return, ast.Name


def tree_facts(tree: ast.Module) -> TreeFacts:
    """Everything the reference gets from its five NodeVisitors, in one iterative walk.

    Every counted node (``FunctionDef``, ``ClassDef``, ``Assign``, ``For``) is a statement, and
    statements only occur in statement lists (``STMT_FIELDS``), so the walk visits statements only
    (a full ``ast.walk`` visits ~10x more nodes for the same counts). The class-member finder of
    the reference does not descend into a class, so nested classes' members are not counted;
    ``inside_class`` tracks that (the classes enclosing a statement are all statements on its path).
    """
    functions = simple_functions = classes = class_level_vars = 0
    has_variables = False
    fields_of = STMT_FIELDS
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    pop, push = stack.pop, stack.append
    while stack:
        node, inside_class = pop()
        t = type(node)
        if t is _FunctionDef:
            functions += 1
            body = node.body
            if len(body) == 1 and type(body[0]) is _Return:
                simple_functions += 1
            if node.args.args:
                has_variables = True
        elif t is _ClassDef:
            classes += 1
            if not inside_class:
                for item in node.body:
                    ti = type(item)
                    if ti is _Assign:
                        class_level_vars += sum(type(x) is _Name for x in item.targets)
                    elif ti is _AnnAssign and type(item.target) is _Name:
                        class_level_vars += 1
            inside_class = True
        elif t is _Assign:
            if not has_variables and any(type(x) is _Name for x in node.targets):
                has_variables = True
        elif t is _For:
            if type(node.target) is _Name:
                has_variables = True
        for f in fields_of[t]:
            for child in getattr(node, f):
                push((child, inside_class))
    return TreeFacts(functions, simple_functions, classes, class_level_vars, has_variables)


@dataclass
class Analysis:
    """What the signals need from one text's tree."""

    parsed: bool  # ast.parse succeeded
    docstrings: list[str] | None = None  # None: extracting them failed (or no tree)
    facts: TreeFacts | None = None
    facts_error: Exception | None = None  # raised by tree_facts, re-raised to its caller


_CACHE_SIZE = 2
_cache: list[tuple[str, Analysis]] = []


def analyse(text: str) -> Analysis:
    """Parse ``text`` (warnings silenced; any exception means "does not parse") and extract."""
    for cached_text, result in _cache:
        if cached_text is text or cached_text == text:
            return result
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings():  # invalid escapes in the analysed file are not our warnings
            warnings.simplefilter("ignore")
            try:
                tree = ast.parse(text)
            except Exception:  # noqa: BLE001 - the reference treats any failure as "does not parse"
                tree = None
        result = Analysis(parsed=tree is not None)
        if tree is not None:
            try:
                result.docstrings = docstrings(tree)
            except Exception:  # noqa: BLE001 - pytext treats this like a parse failure
                result.docstrings = None
            try:
                result.facts = tree_facts(tree)
            except Exception as e:  # noqa: BLE001
                result.facts_error = e
        del tree  # freed by reference counting, before the collector is back
    finally:
        if gc_was_enabled:
            gc.enable()
    _cache.insert(0, (text, result))
    del _cache[_CACHE_SIZE:]
    return result
