"""JavaScript signals: one parse, one walk collecting every count.

``reference`` mode parses with esprima (ES2017 at most), as the reference does; ``fixed`` mode with
tree-sitter (``javascript_ts``), so modern syntax is not "unparseable" (docs/filter.md).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import regex

from opencook.data.filter.comments import code_and_comments

from . import javascript_ts
from ._common import Signal, SignalFailure, nonempty_lines, ratio, run_group

_SIMPLE_TYPES = ("Literal", "Identifier", "UnaryExpression")
_FUNC_TYPES = ("FunctionExpression", "ArrowFunctionExpression")
_LEGAL_VAR = regex.compile(r"^[a-z\$][a-zA-Z0-9]*$")
_LEGAL_FUNC = regex.compile(r"^[a-zA-Z\$][a-zA-Z0-9]*$")
_LEGAL_CLASS = regex.compile(r"^[A-Z][a-zA-Z0-9]*$")
_RECURSION_LIMIT = 10000  # the reference raises the interpreter's limit to this at import


_CRASHED = object()


def _parse_fast(text: str, esprima_error: type):
    """``parse``'s module-then-script attempt on ``_esprima_fast``; ``_CRASHED`` on any other error."""
    from . import _esprima_fast as fast

    try:
        if "import" in text or "export" in text:
            try:
                return fast.parse_module(text)
            except esprima_error:
                return fast.parse_script(text)
        return fast.parse_script(text)
    except esprima_error:
        return None
    except Exception:  # noqa: BLE001 - stock esprima at the full limit decides
        return _CRASHED


def parse(text: str):
    """esprima AST as the reference gets it, None when it does not parse.

    Module mode is tried first when the text mentions import/export, then script mode. Errors
    other than syntax errors (e.g. recursion) make every signal of the group fail, as there.
    The parse runs on ``_esprima_fast`` (the same trees and errors, faster) under a recursion limit
    lowered by its DEPTH_MARGIN; a crash there is redone with stock esprima at the full limit, so
    deep inputs get exactly stock esprima's answer too.
    """
    import esprima  # reference mode only: a 0.8 s import

    from ._esprima_fast import DEPTH_MARGIN

    old = sys.getrecursionlimit()
    limit = max(old, _RECURSION_LIMIT)
    try:
        try:
            sys.setrecursionlimit(limit - DEPTH_MARGIN)
        except RecursionError:  # already deeper than that: stock esprima alone
            tree = _CRASHED
        else:
            tree = _parse_fast(text, esprima.Error)
        if tree is not _CRASHED:
            return tree
        sys.setrecursionlimit(limit)
        return parse_stock(text)
    finally:
        sys.setrecursionlimit(old)


def parse_stock(text: str):
    """Stock esprima, as the reference parses: a module when the text mentions ``import``/``export``
    (a script if that fails), else a script; None when it does not parse. The caller sets the
    recursion limit."""
    import esprima

    try:
        if "import" in text or "export" in text:
            try:
                return esprima.parseModule(text)
            except esprima.Error:
                return esprima.parseScript(text)
        return esprima.parseScript(text)
    except esprima.Error:
        return None
    except Exception as exc:  # noqa: BLE001
        raise SignalFailure(f"esprima crashed: {exc!r}") from exc


def _is_module_exports_member(left) -> bool:
    """``module.exports.NAME = ...`` (attribute access on esprima nodes gives None when absent)."""
    return (
        left.type == "MemberExpression"
        and left.object.type == "MemberExpression"
        and left.object.object.name == "module"
        and left.object.property.name == "exports"
    )


@dataclass
class _Facts:
    variables: list = field(default_factory=list)
    simple_variables: int = 0
    functions: list = field(default_factory=list)
    classes: list = field(default_factory=list)
    simple_returns: int = 0
    imports: int = 0


def _collect(tree) -> _Facts:
    """The reference's six recursive walkers folded into one iterative walk over ``vars(node)``."""
    from esprima import nodes

    FunctionExpression, ClassDeclaration, Node = nodes.FunctionExpression, nodes.ClassDeclaration, nodes.Node
    f = _Facts()
    stack = [tree]
    while stack:
        node = stack.pop()
        t = node.type
        if t == "VariableDeclaration":
            for d in node.declarations:
                init = d.init if d else None
                is_fexpr = isinstance(init, FunctionExpression)
                if d and d.id.name and not is_fexpr:
                    f.variables.append(d.id.name)
                if d and not is_fexpr and (init is None or init.type in _SIMPLE_TYPES):
                    f.simple_variables += 1
                if is_fexpr and d.id and d.id.name:
                    f.functions.append(d.id.name)
        elif t == "AssignmentExpression":
            if _is_module_exports_member(node.left):
                name = node.left.property.name
                rtype = node.right.type
                if name and rtype not in _FUNC_TYPES:
                    f.variables.append(name)
                    if rtype in _SIMPLE_TYPES:
                        f.simple_variables += 1
                if name and rtype in _FUNC_TYPES:
                    f.functions.append(name)
        elif t == "FunctionDeclaration":
            if node.id and node.id.name:
                f.functions.append(node.id.name)
        elif t == "ReturnStatement":
            if node.argument is None or node.argument.type in _SIMPLE_TYPES:
                f.simple_returns += 1
        elif t == "ImportDeclaration":
            f.imports += 1
        if isinstance(node, ClassDeclaration) and node.id and node.id.name:
            f.classes.append(node.id.name)
        for value in vars(node).values():
            if isinstance(value, Node):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, Node))
    return f


def _frac_legal(names: list, pattern: regex.Pattern) -> float | None:
    return ratio(sum(1 for n in names if pattern.match(n)), len(names))


def compute(text: str, compat: str) -> dict[str, Signal]:
    """``qsc_codejavascript_*`` signals, in the reference's order."""
    code, _ = code_and_comments("javascript", text, modern=compat != "reference")
    lines = nonempty_lines(code)
    total = len(lines)
    state: dict[str, object] = {}

    reference = compat == "reference"

    def tree():
        if "tree" not in state:  # a crash propagates and fails the signal asking for it
            state["tree"] = parse(text) if reference else javascript_ts.parse(text)
        return state["tree"]

    def facts() -> _Facts | None:
        if "facts" not in state:
            t = tree()
            if t is None:
                state["facts"] = None
            elif reference:
                state["facts"] = _collect(t)
            else:
                state["facts"] = _Facts()
                javascript_ts.collect(t, state["facts"])
        return state["facts"]  # type: ignore[return-value]

    def statements() -> int:
        return len(tree().body) if reference else javascript_ts.body_length(tree()[0])

    def per_line(value) -> float | None:
        if total == 0 or tree() is None:
            return None
        return ratio(value(), total)

    def no_logic() -> int:
        f = facts()
        return len(f.functions) + f.imports + f.simple_variables + f.simple_returns + len(f.classes)

    def names(attr: str, pattern: regex.Pattern) -> float | None:
        f = facts()
        return None if f is None else _frac_legal(getattr(f, attr), pattern)

    return run_group(
        [
            ("qsc_codejavascript_cate_ast", lambda: float(tree() is not None)),
            (
                "qsc_codejavascript_cate_var_zero",
                lambda: None if facts() is None else float(not facts().variables),
            ),
            ("qsc_codejavascript_frac_lines_func_ratio", lambda: per_line(lambda: len(facts().functions))),
            ("qsc_codejavascript_num_statement_line", lambda: per_line(statements)),
            ("qsc_codejavascript_score_lines_no_logic", lambda: per_line(no_logic)),
            ("qsc_codejavascript_frac_words_legal_var_name", lambda: names("variables", _LEGAL_VAR)),
            ("qsc_codejavascript_frac_words_legal_func_name", lambda: names("functions", _LEGAL_FUNC)),
            ("qsc_codejavascript_frac_words_legal_class_name", lambda: names("classes", _LEGAL_CLASS)),
            (
                "qsc_codejavascript_frac_lines_print",
                lambda: ratio(sum("console.log" in ln for ln in lines), total),
            ),
        ]
    )
