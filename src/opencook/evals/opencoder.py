"""The ``opencoder`` protocol: how OpenCodeEval (OpenCoder-llm/OpenCoder-llm, ``OpenCodeEval/src``) builds
prompts, stops generation, extracts code and assembles the tested program -- rewritten here from its
behaviour, string for string, because the paper's HumanEval/MBPP scores were measured that way.

The commit followed and every remaining deviation are in docs/eval.md ("The opencoder protocol").
"""

from __future__ import annotations

import ast

GENERAL_STOPS = ("<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint(", "\n```\n")
COMPLETION_STOPS = ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ")
PRELUDE = "\n".join((
    "import math", "import re", "import sys", "import copy", "import datetime", "import itertools",
    "import collections", "import heapq", "import functools", "import hashlib", "import numpy",
    "import numpy as np", "import string", "from typing import *", "from collections import *",
))
# A chat model asked to complete a HumanEval prompt gets it wrapped in this prefix and suffix.
CHAT_PREFIX = ("Please provide a self-contained Python script that solves the following problem in a "
               "markdown code block:\n```python\n")
CHAT_SUFFIX = "\n```\n"
MBPP_SHOT_IDS = (1, 2, 3)
MBPP_TEST_IDS = (10, 509)  # inclusive: 500 problems
MBPP_INTRO = "You are an expert Python programmer, and here is your task:\n"
MBPP_TESTS = "Your code should pass these tests:\n"
SCAN_LINES = 100


def refine(text: str) -> str:
    """Tabs to four spaces, every line ending to ``\\n``, surrounding whitespace dropped, one final newline."""
    return text.replace("\t", "    ").replace("\r\n", "\n").replace("\r", "\n").strip() + "\n"


def stops(kind: str) -> tuple[str, ...]:
    """A base model is cut at the general stops and at any new top-level statement; a chat model only at
    the general ones."""
    return GENERAL_STOPS + COMPLETION_STOPS if kind == "base" else GENERAL_STOPS


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, MemoryError, ValueError):
        return False
    return True


def longest_parsable(text: str) -> str:
    """Among the first 100 lines, the run of consecutive lines that parses and has the most non-blank lines;
    ties go to the run that starts first, then to the shortest. Same answer as trying every (start, end)
    pair in order, but it tries each start from the longest end down and stops once it cannot win."""
    lines = text.splitlines()[:SCAN_LINES]
    filled = [0]
    for line in lines:
        filled.append(filled[-1] + bool(line.strip()))
    best, best_count = "", 0
    for i in range(len(lines)):
        for j in range(len(lines) - 1, i - 1, -1):
            count = filled[j + 1] - filled[i]
            if count <= best_count:
                break
            if _parses("\n".join(lines[i:j + 1])):
                first = j  # the shortest run with this count that parses: trailing blank lines are optional
                while first > i and filled[first] - filled[i] == count:
                    first -= 1
                for k in range(first, j + 1):
                    if filled[k + 1] - filled[i] == count and _parses("\n".join(lines[i:k + 1])):
                        best, best_count = "\n".join(lines[i:k + 1]), count
                        break
                break
    return best


def _returns(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Return) for n in ast.walk(node))


def _names_used(node: ast.AST) -> set[str]:
    """Every ``Name`` id and ``Attribute`` attr below ``node`` (not descending into a name's children)."""
    found, stack = set(), [node]
    while stack:
        for child in ast.iter_child_nodes(stack.pop()):
            if isinstance(child, ast.Name):
                found.add(child.id)
            elif isinstance(child, ast.Attribute):
                found.add(child.attr)
            else:
                stack.append(child)
    return found


def sanitize(text: str, entry_point: str | None = None) -> str:
    """The code OpenCodeEval scores: the longest parsable run of the text, reduced to its top-level imports,
    classes, functions that contain a ``return``, and assignments to a name; with ``entry_point``, only the
    definitions it reaches by name. Each is re-rendered by ``ast.unparse``, one per line."""
    tree = ast.parse(longest_parsable(refine(text)))
    imports: list[ast.stmt] = []
    defs: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
        elif isinstance(node, ast.ClassDef) or (isinstance(node, ast.FunctionDef) and _returns(node)):
            defs[node.name] = node
        elif isinstance(node, ast.Assign) and node.targets and isinstance(node.targets[0], ast.Name):
            defs[node.targets[0].id] = node
    keep = set(defs)
    if entry_point:
        deps = {name: _names_used(node) for name, node in defs.items()}
        keep, todo = set(), [entry_point]
        while todo:
            name = todo.pop(0)
            if name not in keep:
                keep.add(name)
                todo.extend(deps.get(name, set()) - keep)
    return "\n".join([ast.unparse(n) for n in imports] + [ast.unparse(n) for name, n in defs.items() if name in keep])


def completion_text(prompt: str, sample: str, kind: str) -> str:
    """What the extractor reads: a base model's sample follows its whole prompt and a blank line."""
    return refine(prompt + "\n\n" + sample) if kind == "base" else refine(sample)


def humaneval_prompt(prompt: str, kind: str) -> str:
    """The text of the user turn (chat) or the completion prompt (base)."""
    inner = refine(prompt)
    return refine(CHAT_PREFIX + inner + CHAT_SUFFIX) if kind == "chat" else refine(inner)


def humaneval_code(prompt: str, solution: str) -> str:
    """Prelude, the original prompt with a ``pass`` body (its helpers and imports stay defined), the solution."""
    return PRELUDE + "\n" + prompt + "\n" + "    pass\n" + "\n" + solution


def humaneval_program(prompt: str, test: str, entry_point: str, solution: str) -> str:
    """``humaneval_code``, then the test and ``check(entry_point)``."""
    return humaneval_code(prompt, solution) + "\n" + test + "\n" + f"check({entry_point})"


def mbpp_block(text: str, tests: list[str] | tuple[str, ...], code: str | None = None) -> str:
    """One MBPP question (``text`` already refined), with its solution in a fence for a few-shot example or
    an open fence for the question asked."""
    block = MBPP_INTRO + text + MBPP_TESTS + "\n".join(tests) + "\n"
    return block + (f"\n```python\n{refine(code)}\n```\n" if code is not None else "\n```python\n")


def mbpp_prompt(shots: list[tuple[str, tuple[str, ...], str]], text: str, tests: tuple[str, ...]) -> str:
    """The three shots joined by a newline, a newline, then the question; refined as a whole."""
    few = "\n".join(mbpp_block(refine(t), ts, c) for t, ts, c in shots)
    return refine(few + "\n" + mbpp_block(refine(text), tests))


def mbpp_program(setup: str, solution: str, tests: tuple[str, ...]) -> str:
    return PRELUDE + "\n" + setup + "\n" + solution + "\n" + "\n".join(tests)


def mbpp_plus_prompt(text: str, first_test: str) -> str:
    """MBPP+ in OpenCodeEval: no shots and no instruction, the task then its first test."""
    return refine(text + "\n" + first_test)


def mbpp_plus_program(solution: str, test_imports: tuple[str, ...], test_code: str) -> str:
    imports = "\n".join(test_imports)
    return PRELUDE + "\n\n" + solution + "\n\n" + imports + "\n\n" + test_code + "\n\n"
