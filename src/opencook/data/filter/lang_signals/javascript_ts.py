"""Fixed mode's JavaScript parser: tree-sitter, which knows ES2024, JSX, and TypeScript/Flow types.

esprima (the reference's parser) stops at ES2017, so ``async``/``await`` in classes, optional
chaining, class fields and the like made modern files "unparseable". Here a file parses when the
JavaScript grammar (which includes JSX), or failing that the TSX or TypeScript grammar (type
annotations in ``.js``/Flow files), reads it without an error node. The tree's nodes of interest are
found by one C-side query, then read into the same counts the esprima walk gives (``_Facts``).
"""

from __future__ import annotations

import re
from functools import cache

from ._common import SignalFailure
from ._fastlex import _prepare

# esprima Literal / Identifier / UnaryExpression in tree-sitter's names.
_SIMPLE = frozenset(
    {"string", "number", "true", "false", "null", "regex", "identifier", "undefined", "unary_expression"}
)
_FUNC_EXPR = frozenset({"function_expression", "generator_function"})  # esprima FunctionExpression
_FUNC_ANY = _FUNC_EXPR | {"arrow_function"}
_NOT_STATEMENTS = frozenset({"comment", "hash_bang_line", "html_comment"})
_QUERY = """
(variable_declarator) @decl
(for_in_statement kind: _ left: _) @forin
(assignment_expression) @assign
(function_declaration) @fdecl
(generator_function_declaration) @fdecl
(return_statement) @ret
(import_statement) @imp
(class_declaration) @cls
(comment) @comment
(hash_bang_line) @comment
"""
_HASHBANG = re.compile(rb"#! ?/")


@cache
def _parsers():
    """(parser, query) per grammar, built once per process: JavaScript first, then TSX, TypeScript."""
    try:
        import tree_sitter as ts
        import tree_sitter_javascript as tsj
        import tree_sitter_typescript as tst
    except ImportError as exc:  # pragma: no cover - the data extra installs them
        raise SignalFailure(f"tree-sitter is not installed: {exc}") from exc
    out = []
    for capsule in (tsj.language(), tst.language_tsx(), tst.language_typescript()):
        lang = ts.Language(capsule)
        out.append((ts.Parser(lang), ts.QueryCursor(ts.Query(lang, _QUERY))))
    return tuple(out)


_last: tuple[str | None, object] = (None, None)  # the last text (by identity) and its parse


def parse(text: str):
    """``(root node, {capture: nodes}, source bytes)`` of the first grammar that parses ``text`` cleanly,
    or None. The comment split and the signals ask for the same text, so the last parse is kept."""
    global _last
    last_text, result = _last
    if text is last_text:
        return result
    # Parse what Pygments would lex (no BOM, \n newlines, one final newline), so ``split`` cuts the
    # same text as the scanner it replaces; none of that changes whether or how the file parses.
    source = _prepare(text).encode("utf-8", "surrogatepass")
    result = None
    for parser, cursor in _parsers():
        root = parser.parse(source).root_node
        if not root.has_error:
            result = (root, cursor.captures(root), source)
            break
    _last = (text, result)
    return result


def split(text: str) -> tuple[str, str] | None:
    """``(code, comments)`` from the tree's comment nodes, or None when ``text`` does not parse.

    Same token boundaries as Pygments' JavaScript lexer (``//`` up to the newline, ``/* */``, a
    ``#!/`` first line) wherever that lexer reads the file right; it does not see comments inside
    regex literals, template strings or JSX text, which Pygments sometimes does.
    """
    parsed = parse(text)
    if parsed is None:
        return None
    _, caps, source = parsed
    code: list[bytes] = []
    comments: list[bytes] = []
    pos = 0
    for node in sorted(caps.get("comment", ()), key=lambda n: n.start_byte):
        if node.type == "hash_bang_line" and not _HASHBANG.match(node.text):
            continue
        code.append(source[pos : node.start_byte])
        comments.append(source[node.start_byte : node.end_byte])
        pos = node.end_byte
    code.append(source[pos:])
    return b"".join(code).decode("utf-8", "surrogatepass"), b"".join(comments).decode("utf-8", "surrogatepass")


def _unwrap(node):
    while node is not None and node.type == "parenthesized_expression":
        node = node.named_children[0] if node.named_child_count else None
    return node


def _name(node) -> str | None:
    return node.text.decode("utf-8", "replace") if node is not None and node.type == "identifier" else None


def _is_simple(node) -> bool:
    return node is None or node.type in _SIMPLE


def body_length(root) -> int:
    """Top-level statements (esprima's ``len(program.body)``): comments are not statements."""
    return sum(1 for c in root.named_children if c.type not in _NOT_STATEMENTS)


def collect(parsed, facts) -> None:
    """Fill ``facts`` (javascript._Facts) with the counts of the reference's six walkers."""
    _, caps, _ = parsed
    for d in caps.get("decl", ()):
        value = _unwrap(d.child_by_field_name("value"))
        name = _name(d.child_by_field_name("name"))
        is_fexpr = value is not None and value.type in _FUNC_EXPR
        if is_fexpr:
            if name:
                facts.functions.append(name)
            continue
        if name:
            facts.variables.append(name)
        if _is_simple(value):
            facts.simple_variables += 1
    for f in caps.get("forin", ()):  # for (const k of v): a declarator with no initialiser
        name = _name(f.child_by_field_name("left"))
        if name:
            facts.variables.append(name)
        facts.simple_variables += 1
    for a in caps.get("assign", ()):
        left = a.child_by_field_name("left")
        if left is None or left.type not in ("member_expression", "subscript_expression"):
            continue
        obj = left.child_by_field_name("object")
        if obj is None or obj.type != "member_expression":
            continue
        if _name(obj.child_by_field_name("object")) != "module":
            continue
        prop = obj.child_by_field_name("property")
        if prop is None or prop.text != b"exports":
            continue
        if left.type == "member_expression":
            leaf = left.child_by_field_name("property")
            name = leaf.text.decode("utf-8", "replace") if leaf is not None else None
        else:  # module.exports[key]: esprima names it only when the key is an identifier
            name = _name(left.child_by_field_name("index"))
        right = _unwrap(a.child_by_field_name("right"))
        if not name or right is None:
            continue
        if right.type in _FUNC_ANY:
            facts.functions.append(name)
        else:
            facts.variables.append(name)
            if right.type in _SIMPLE:
                facts.simple_variables += 1
    for fd in caps.get("fdecl", ()):
        name = fd.child_by_field_name("name")
        if name is not None:
            facts.functions.append(name.text.decode("utf-8", "replace"))
    for r in caps.get("ret", ()):
        args = [c for c in r.named_children if c.type not in _NOT_STATEMENTS]
        if not args or _is_simple(_unwrap(args[0])):
            facts.simple_returns += 1
    facts.imports += len(caps.get("imp", ()))
    for c in caps.get("cls", ()):
        name = c.child_by_field_name("name")
        if name is not None:
            facts.classes.append(name.text.decode("utf-8", "replace"))
