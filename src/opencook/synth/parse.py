"""Teacher replies → structured samples. A reply that does not follow the asked format raises ``ParseError``
with a short reason (``no_code_block``, ``truncated``, ...) that the stage counts; nothing here trusts the
teacher to have followed instructions."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_OPEN_FENCE = re.compile(r"```[ \t]*[\w+-]*[^\n]*\n")
_PY = {"", "python", "py", "python3", "py3"}
_QUESTION = re.compile(r"^[#*\s]*question\s*[:*]*\s*", re.IGNORECASE | re.MULTILINE)
_ANSWER = re.compile(r"^[#*\s]*answer\s*[:*]*\s*", re.IGNORECASE | re.MULTILINE)
_HEADING = re.compile(r"^[#*\s]*(problem|problem statement|task|question)\s*[:*]*\s*$", re.IGNORECASE | re.MULTILINE)
MIN_PROSE_CHARS = 20


class ParseError(ValueError):
    """The reply does not have the asked shape; ``reason`` is what the stage counts."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Exercise:
    """A problem statement (empty for snippets), a solution and its assert-based tests."""

    problem: str
    solution: str
    tests: str


@dataclass(frozen=True)
class QA:
    question: str
    answer: str
    code: str  # the answer's Python code blocks joined, "" when it has none


@dataclass(frozen=True)
class Section:
    """A textbook section: prose with runnable examples."""

    text: str
    code: str


def python_blocks(reply: str, finish_reason: str = "stop") -> list[str]:
    """The Python fenced code blocks of ``reply``. An opening fence left unclosed means the reply was cut off
    (``truncated``) or malformed (``unclosed_code_block``)."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(reply)]
    closed = len(blocks) * 2
    if reply.count("```") > closed or (not blocks and _OPEN_FENCE.search(reply)):
        raise ParseError("truncated" if finish_reason == "length" else "unclosed_code_block")
    code = [body.strip("\n") for lang, body in blocks if lang in _PY and body.strip()]
    if not code:
        raise ParseError("truncated" if finish_reason == "length" else "no_code_block")
    return code


def _check_syntax(code: str, what: str) -> None:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        raise ParseError("syntax_error", f"{what}: {exc}") from None


def _has_assert(code: str) -> bool:
    try:
        return any(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(code)))
    except (SyntaxError, ValueError):
        return "assert " in code


def _defines_function(code: str) -> bool:
    return any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) for n in ast.parse(code).body)


def parse_exercise(reply: str, finish_reason: str = "stop", need_problem: bool = True) -> Exercise:
    """Problem text (before the first code block), the solution block (defines a function or class) and the
    tests block (asserts). The last block with an ``assert`` is the tests; the last one before it that
    defines something is the solution."""
    blocks = python_blocks(reply, finish_reason)
    test_idx = [i for i, b in enumerate(blocks) if _has_assert(b)]
    if not test_idx:
        raise ParseError("no_tests_block")
    t = test_idx[-1]
    candidates = blocks[:t] if t > 0 else []
    if not candidates:
        raise ParseError("no_solution_block")
    for block in (*candidates, blocks[t]):
        _check_syntax(block, "code block")
    solutions = [b for b in candidates if _defines_function(b)]
    if not solutions:
        raise ParseError("no_solution_block", "no block defines a function or class")
    problem = ""
    if need_problem:
        problem = _HEADING.sub("", reply[: reply.find("```")]).strip()
        problem = re.sub(r"^[#*\s]*(solution|tests?)\s*[:*]*\s*$", "", problem, flags=re.I | re.M).strip()
        if len(problem) < MIN_PROSE_CHARS:
            raise ParseError("no_problem_text")
    return Exercise(problem, solutions[-1], blocks[t])


def parse_qa(reply: str, finish_reason: str = "stop", need_code: bool = True) -> QA:
    """``Question: ...`` then ``Answer: ...``; the answer's Python blocks are its code."""
    q = _QUESTION.search(reply)
    a = _ANSWER.search(reply, q.end() if q else 0)
    if not q or not a:
        raise ParseError("no_question_answer", "expected 'Question:' and 'Answer:' lines")
    question, answer = reply[q.end(): a.start()].strip(), reply[a.end():].strip()
    if len(question) < MIN_PROSE_CHARS // 2 or not answer:
        raise ParseError("empty_question_or_answer")
    try:
        code = "\n\n".join(python_blocks(answer, finish_reason))
    except ParseError as exc:
        if need_code or exc.reason in ("truncated", "unclosed_code_block"):
            raise
        code = ""
    if code:
        _check_syntax(code, "answer code")
    return QA(question, answer, code)


def parse_section(reply: str, finish_reason: str = "stop") -> Section:
    """A textbook section: at least ``MIN_PROSE_CHARS * 5`` characters of prose and one Python example."""
    code = "\n\n".join(python_blocks(reply, finish_reason))
    _check_syntax(code, "example code")
    prose = _FENCE.sub("", reply).strip()
    if len(prose) < MIN_PROSE_CHARS * 5:
        raise ParseError("too_little_prose")
    return Section(reply.strip(), code)
