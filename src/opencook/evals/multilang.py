"""HumanEval-X and MultiPL-E put to a model: the prompt it sees, where its output is cut, the program tested.

base: the model continues the program's own prefix -- exactly the text the harness puts before the
completion (HumanEval-X's ``prompt``; for Rust, CodeGeeX's harness puts ``declaration`` before it, so the
model sees both) -- and stops at the language's stop strings (MultiPL-E: each row's ``stop_tokens``;
HumanEval-X: MultiPL-E's stops for that language, ``evals/extract.py``). The program is assembled as the
benchmark's own harness does.

chat (HumanEval-X): one user turn asking for the whole function in a fenced block of the language. A reply
that re-writes the function is run after the imports and helpers the harness would add, followed by the
tests; a reply with only the body is run as a base completion. MultiPL-E has no chat form here: its rows
are completion prompts with no declaration to separate from the docstring, so it is measured in base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opencook.benchmarks import humaneval_x as hx
from opencook.benchmarks import multipl_e as me
from opencook.benchmarks.problems import Benchmark, Problem
from opencook.evals.extract import extract_code, language_name, stop_strings, truncate_at_stop
from opencook.evals.protocol import KINDS, Task

BENCHMARKS = ("humaneval-x", "multipl-e")
DISPLAY = {"cpp": "C++", "go": "Go", "java": "Java", "javascript": "JavaScript", "rust": "Rust",
           "typescript": "TypeScript", "php": "PHP", "bash": "Bash", "csharp": "C#", "python": "Python"}
CHAT_INSTRUCTION = ("Complete the following {name} function. Reply with the whole function (its signature, the "
                    "imports it needs and its body) in one ```{tag} code block.\n\n```{tag}\n{prefix}```\n")
_CLOSERS = {"\n}": "\n}\n", "\n    }\n": "\n    }\n}\n"}  # cpp/rust/bash, java/c#: the brace(s) cut away
_GO_PACKAGE = re.compile(r"^package\s+\w+\s*$", re.M)
_GO_IMPORTS = re.compile(r"^import\s*(\([^)]*\)|\"[^\"]*\")\s*$", re.M)


def _sandbox_language(problem: Problem) -> str:
    lang = problem.extra["language"]
    return "python" if lang == "py" else lang


def generation_prefix(benchmark: str, problem: Problem) -> str:
    """The text before the completion in the tested program, as the model is shown it."""
    if benchmark == "humaneval-x" and problem.extra["language"] == "rs":
        return problem.extra["declaration"] + problem.prompt
    return problem.prompt


def _signature(problem: Problem) -> str:
    """The function's header line (whitespace removed, up to its first ``(``): a reply holding it re-writes
    the function rather than continuing its body."""
    source = problem.extra.get("declaration") or problem.prompt
    lines = [ln for ln in source.splitlines() if "(" in ln and not ln.lstrip().startswith(("//", "*", "/*", "#"))]
    head = lines[-1] if lines else ""
    return re.sub(r"\s+", "", head.split("(")[0]) + "("


def rewrites_function(problem: Problem, code: str) -> bool:
    sig = _signature(problem)
    return len(sig) > 1 and sig in re.sub(r"\s+", "", code)


def whole_function_program(problem: Problem, code: str) -> str:
    """A HumanEval-X program around a reply that holds the whole function: the harness's imports and helpers,
    the reply, the tests."""
    lang = problem.extra["language"]
    if lang == "cpp":
        header = "".join(ln + "\n" for ln in hx._CPP_HELPERS) + "#include<bits/stdc++.h>\nusing namespace std;\n"
        return header + code + "\n" + problem.test
    if lang == "go":
        body = _GO_IMPORTS.sub("", _GO_PACKAGE.sub("", code))
        setup = problem.extra["test_setup"]
        return setup + "\n" + hx.go_helper_imports(setup, body) + body + "\n" + problem.test
    if lang == "java":
        imports = "" if "import java.util" in code else "import java.util.*;\nimport java.lang.*;\n"
        return imports + code + "\n" + problem.test
    if lang == "rs":
        uses = "".join(ln + "\n" for ln in problem.extra["declaration"].splitlines()
                       if ln.startswith("use ") and ln not in code)
        return "\nfn main(){ \n } \n" + uses + code + "\n" + problem.test
    return code + "\n" + problem.test


def close_function(completion: str, stop: tuple[str, ...], depth: int = 0) -> str:
    """``completion`` cut at the first stop string; a stop that is the function's own closing brace is put
    back (with the class's, for Java). MultiPL-E's tests open with that brace; HumanEval-X's do not. A
    generator that already cut at the stop (and dropped it) leaves the braces open: ``depth`` (the braces
    the prompt leaves open) tells how many to close."""
    hits = sorted((i, s) for s in stop if (i := completion.find(s)) >= 0)
    if hits:
        i, s = hits[0]
        return completion[:i] + _CLOSERS.get(s, "")
    still_open = depth + completion.count("{") - completion.count("}")
    return completion + "\n}" * still_open + ("\n" if still_open > 0 else "")


@dataclass(frozen=True)
class LanguageProtocol:
    """How a HumanEval-X or MultiPL-E benchmark is put to a model of one kind (base or chat)."""

    benchmark: Benchmark
    kind: str

    def __post_init__(self) -> None:
        if self.benchmark.name not in BENCHMARKS:
            raise ValueError(f"{self.benchmark.name} is not one of {BENCHMARKS}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}: use one of {list(KINDS)}")
        if self.kind == "chat" and self.benchmark.name == "multipl-e":
            raise ValueError("MultiPL-E is a completion benchmark: use --kind base (an instruct model completes "
                             "the prompt as well)")

    def problems(self) -> list[Problem]:
        return list(self.benchmark.problems)

    def stops(self, problem: Problem) -> tuple[str, ...]:
        if self.benchmark.name == "multipl-e":
            return tuple(problem.extra["stop_tokens"])
        return stop_strings(_sandbox_language(problem))

    def program(self, problem: Problem, completion: str) -> str:
        if self.benchmark.name == "multipl-e":
            return me.program(problem, completion)
        return hx.program(problem, completion, problem.extra["language"])

    def task(self, p: Problem) -> Task:
        lang = _sandbox_language(p)
        prefix = generation_prefix(self.benchmark.name, p)
        if self.kind == "base":
            stop = self.stops(p)

            closes = self.benchmark.name == "humaneval-x"
            depth = max(0, prefix.count("{") - prefix.count("}"))

            def cut(c: str) -> str:
                return close_function(c, stop, depth) if closes else truncate_at_stop(c, stop)

            return Task(p.task_id, prefix, None, stop, cut, lambda c: self.program(p, cut(c)), language=lang)
        name = language_name(lang)
        message = {"role": "user", "content": CHAT_INSTRUCTION.format(name=DISPLAY[name], tag=name, prefix=prefix)}

        def extract(c: str) -> str:
            return extract_code(c, lang)

        def program(c: str) -> str:
            code = extract(c)
            return whole_function_program(p, code) if rewrites_function(p, code) else self.program(p, code)

        return Task(p.task_id, None, (message,), (), extract, program, language=lang)

    def tasks(self) -> list[Task]:
        return [self.task(p) for p in self.problems()]

    def record(self) -> dict:
        b = self.benchmark.name
        out: dict[str, object] = {"name": "codegeex" if b == "humaneval-x" else "multipl-e", "kind": self.kind,
                                  "benchmark": b, "split": self.benchmark.split}
        if self.kind == "base":
            out["prompt"] = ("declaration + prompt (Rust), prompt (others): the text before the completion in the "
                             "tested program" if b == "humaneval-x" else "the row's prompt")
            out["stop"] = ("each row's stop_tokens" if b == "multipl-e" else
                           {lang: list(stop_strings(lang)) for lang in sorted({_sandbox_language(p)
                                                                              for p in self.benchmark.problems})})
            out["program"] = ("CodeGeeX's process_humaneval_test (commit 2838420b)" if b == "humaneval-x"
                              else "prompt + completion + '\\n' + tests (MultiPL-E's evaluator)")
        else:
            out["instruction"] = CHAT_INSTRUCTION
            out["program"] = ("a reply that re-writes the function: the harness's imports/helpers + reply + test; "
                              "else the reply as a base completion")
        return out
