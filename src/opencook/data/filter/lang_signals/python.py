"""Python signals: one ``ast`` parse and one walk feed every AST-based signal."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from ..pyparse import STMT_FIELDS, parse
from ._common import PRECISION, Signal, nonempty_lines, ratio, run_group
from ._lexing import code_and_comments

# Reference: a "simple return" is any line of the comment-free code that starts with `return`.
_SIMPLE_RETURN = re.compile(r"^\s*return(\s+.+)?\s*$", re.MULTILINE)

# Fixed mode: whole statements instead of substrings (`password`, `important`, `blueprint`).
_PASS_STMT = re.compile(r"(?:^|[:;])\s*pass\s*(?:[;#]|$)")
_IMPORT_STMT = re.compile(r"(?:^|[:;])\s*(?:import\s|from\s+\S+\s+import\b)")
_PRINT_CALL = re.compile(r"(?<![\w.])print\b")
_FIXED_PATTERNS = {"pass": _PASS_STMT, "import": _IMPORT_STMT, "print": _PRINT_CALL}


@dataclass
class _TreeFacts:
    functions: int = 0  # ast.FunctionDef anywhere (async defs are not counted by the reference)
    simple_functions: int = 0  # FunctionDef whose body is a single `return`
    classes: int = 0  # every ClassDef
    class_level_vars: int = 0  # Name targets assigned directly in a class body (outermost classes)
    has_variables: bool = False  # Assign/For Name target or a positional function argument


_FunctionDef, _ClassDef, _Assign, _AnnAssign = ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign
_For, _Return, _Name = ast.For, ast.Return, ast.Name


def _tree_facts(tree: ast.Module) -> _TreeFacts:
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
    return _TreeFacts(functions, simple_functions, classes, class_level_vars, has_variables)


def compute(text: str, compat: str) -> dict[str, Signal]:
    """All ``qsc_codepython_*`` signals, in the reference's order."""
    reference = compat == "reference"
    code, _ = code_and_comments("python", text, fast=not reference)
    lines = nonempty_lines(code)
    total = len(lines)
    tree = parse(text)
    facts = _tree_facts(tree) if tree is not None else None

    # Lines counted by each substring test (reference) or statement pattern (fixed). The patterns
    # contain their keyword literally, so only lines holding it are searched.
    counted: dict[str, int] = {}
    lowered: list[str] = []

    def count(word: str) -> int:
        if word not in counted:
            if not reference:
                search = _FIXED_PATTERNS[word].search
                counted[word] = sum(1 for ln in lines if word in ln and search(ln) is not None)
            elif word == "print":  # case-sensitive in the reference
                counted[word] = sum(word in ln for ln in lines)
            else:
                if not lowered:
                    lowered.extend(ln.lower() for ln in lines)
                counted[word] = sum(word in ln for ln in lowered)
        return counted[word]

    def tree_ratio(count_of: str) -> float | None:
        if facts is None or total == 0:
            return None
        return round(getattr(facts, count_of) / total, PRECISION)

    def frac_lines(word: str) -> float:  # the reference gives 0.0, not None, on an empty file
        return round(count(word) / total, PRECISION) if total else 0.0

    def simplefunc() -> float | None:
        if facts is None or total == 0:
            return None
        return facts.simple_functions / total  # the reference does not round this one

    def no_logic() -> float | None:
        if facts is None or total == 0:
            return None
        imports = count("import")
        returns = len(_SIMPLE_RETURN.findall(code))
        n = facts.functions + imports + facts.classes + returns + facts.class_level_vars
        return round(n / total, PRECISION)

    return run_group(
        [
            ("qsc_codepython_cate_ast", lambda: float(tree is not None)),
            ("qsc_codepython_frac_lines_func_ratio", lambda: tree_ratio("functions")),
            ("qsc_codepython_cate_var_zero", lambda: None if facts is None else not facts.has_variables),
            ("qsc_codepython_frac_lines_pass", lambda: frac_lines("pass")),
            ("qsc_codepython_frac_lines_import", lambda: frac_lines("import")),
            ("qsc_codepython_frac_lines_simplefunc", simplefunc),
            ("qsc_codepython_score_lines_no_logic", no_logic),
            ("qsc_codepython_frac_lines_print", lambda: ratio(count("print"), total)),
        ]
    )
