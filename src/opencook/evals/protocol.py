"""Evaluation protocols, exact to the byte: what the model is shown, where its output is cut, and the
program that tests it (codelm.md, "Evaluation protocol").

base: HumanEval completes ``prompt`` and stops at the usual stop strings; MBPP is 3-shot (tasks 2, 3, 4)
over test ids 11-510 and the answer is written inside a python code fence.
chat: one user turn in the model's chat template; the code is the first fenced block of the reply.
Every choice here is written into the results file by ``Protocol.record``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from opencook.benchmarks.problems import Benchmark, Problem

KINDS = ("base", "chat")
HUMANEVAL_STOP = ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ", "\nif __name__", "\nprint(")
MBPP_TEMPLATE = ("You are an expert Python programmer, and here is your task:\n{text}"
                 "Your code should pass these tests:\n{tests}\n")
FENCE = "```python\n"
MBPP_BASE_STOP = ("\n```",)
MBPP_SHOT_IDS = ("2", "3", "4")
MBPP_TEST_IDS = (11, 510)
CHAT_HUMANEVAL_INSTRUCTION = (
    "Complete the following Python function. Reply with the whole function (its signature, the "
    "imports it needs and its body) in one ```python code block.\n\n```python\n{prompt}```\n"
)
_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PY_TAGS = ("", "python", "py", "python3", "py3")


@dataclass(frozen=True)
class Task:
    """One problem made ready for a model: a completion ``prompt`` (base) or chat ``messages`` (chat),
    the ``stop`` strings, ``extract(completion)`` -> the code that is scored, and ``build_program(completion)``
    -> the whole program the sandbox runs (code + tests + check call)."""

    task_id: str
    prompt: str | None
    messages: tuple[dict[str, str], ...] | None
    stop: tuple[str, ...]
    extract: Callable[[str], str] = field(repr=False)
    build_program: Callable[[str], str] = field(repr=False)


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` cut before the earliest stop string (a server that ignores ``stop`` gives the same score)."""
    hits = [i for i in (text.find(s) for s in stop) if i >= 0]
    return text[: min(hits)] if hits else text


def extract_code(reply: str) -> str:
    """The first fenced block tagged python (or untagged) of a chat reply; an unclosed fence runs to the
    end (a reply cut by the token limit); no fence at all: the whole reply."""
    for m in _FENCE_RE.finditer(reply):
        if m.group(1).lower() in _PY_TAGS:
            return m.group(2)
    return reply


def check_call(problem: Problem) -> str:
    """``check(entry_point)`` where the test defines ``check`` (HumanEval); EvalPlus MBPP+ tests run themselves."""
    return f"check({problem.entry_point})" if re.search(r"^def check\(", problem.test, re.M) else ""


def humaneval_program(problem: Problem, code: str) -> str:
    """The reference harness's program: prompt + completion + test + ``check(entry_point)``."""
    return problem.prompt + code + "\n" + problem.test + "\n" + check_call(problem)


def defines(code: str, name: str | None) -> bool:
    return name is not None and re.search(rf"^\s*(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def humaneval_chat_program(problem: Problem, code: str) -> str:
    """A reply that defines the entry point follows the whole prompt (its imports and helpers stay; the stub
    is redefined); a reply that is only a body continues the prompt, as a base completion does."""
    joined = problem.prompt + "\n" + code if defines(code, problem.entry_point) else problem.prompt + code
    return joined + "\n" + problem.test + "\n" + check_call(problem)


def mbpp_program(problem: Problem, code: str) -> str:
    """Setup (``test_setup_code`` / ``test_imports``) first, then the code, then the asserts; this is why
    full tasks 367 and 927, whose setup uses a class the solution defines, fail as shipped."""
    return problem.setup + "\n" + code + "\n" + "\n".join(problem.test_list) + "\n"


def mbpp_question(problem: Problem) -> str:
    return MBPP_TEMPLATE.format(text=problem.prompt, tests="\n".join(problem.test_list))


def mbpp_shot(problem: Problem) -> str:
    code = problem.canonical.replace("\r\n", "\n").rstrip()
    return mbpp_question(problem) + FENCE + code + "\n```\n\n"


@dataclass(frozen=True)
class Protocol:
    """How one benchmark is put to a model of one kind (base or chat)."""

    benchmark: Benchmark
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown protocol {self.kind!r}: use one of {list(KINDS)}")

    @property
    def is_mbpp(self) -> bool:
        return self.benchmark.name == "mbpp"

    def problems(self) -> list[Problem]:
        """HumanEval(-format): all problems; MBPP: the test split, task ids 11-510."""
        if not self.is_mbpp:
            return list(self.benchmark.problems)
        lo, hi = MBPP_TEST_IDS
        return [p for p in self.benchmark.problems if lo <= int(p.task_id) <= hi]

    def shots(self) -> list[Problem]:
        by_id = {p.task_id: p for p in self.benchmark.problems}
        missing = [i for i in MBPP_SHOT_IDS if i not in by_id]
        if missing:
            raise ValueError(f"{self.benchmark.source} lacks the few-shot tasks {missing}: use the whole file")
        return [by_id[i] for i in MBPP_SHOT_IDS]

    def tasks(self) -> list[Task]:
        return [self.task(p) for p in self.problems()]

    def task(self, p: Problem) -> Task:
        if self.is_mbpp and self.kind == "base":
            prefix = "".join(mbpp_shot(s) for s in self.shots())

            def extract(c: str) -> str:
                return truncate_at_stop(c, ("```",))

            return Task(p.task_id, prefix + mbpp_question(p) + FENCE, None, MBPP_BASE_STOP, extract,
                        lambda c: mbpp_program(p, extract(c)))
        if self.is_mbpp:
            return Task(p.task_id, None, ({"role": "user", "content": mbpp_question(p)},), (), extract_code,
                        lambda c: mbpp_program(p, extract_code(c)))
        if self.kind == "base":

            def cut(c: str) -> str:
                return truncate_at_stop(c, HUMANEVAL_STOP)

            return Task(p.task_id, p.prompt, None, HUMANEVAL_STOP, cut, lambda c: humaneval_program(p, cut(c)))
        message = {"role": "user", "content": CHAT_HUMANEVAL_INSTRUCTION.format(prompt=p.prompt)}
        return Task(p.task_id, None, (message,), (), extract_code,
                    lambda c: humaneval_chat_program(p, extract_code(c)))

    def record(self) -> dict:
        """The protocol as a results file records it: every string that shapes a prompt or a program."""
        out: dict[str, object] = {"kind": self.kind, "benchmark": self.benchmark.name, "split": self.benchmark.split}
        if self.is_mbpp:
            lo, hi = MBPP_TEST_IDS
            out.update(task_ids=f"{lo}-{hi}", question_template=MBPP_TEMPLATE, tests_joined_by="\n",
                       program="setup + '\\n' + code + '\\n' + '\\n'.join(test_list) + '\\n'")
            if self.kind == "base":
                out.update(prompt_format="3-shot: for each shot, question_template + '```python\\n' + code "
                                         "(CRLF -> LF, right-stripped) + '\\n```\\n\\n'; then question_template "
                                         "+ '```python\\n'",
                           shots=[int(i) for i in MBPP_SHOT_IDS], stop=list(MBPP_BASE_STOP),
                           code_extraction="the completion up to the first '```'")
            else:
                out.update(prompt_format="one user turn: question_template, rendered by the model's chat template "
                                         "with its generation prompt", stop=[],
                           code_extraction=_CHAT_EXTRACTION)
        elif self.kind == "base":
            out.update(task_ids="all", prompt_format="the problem's prompt, completed as is", stop=list(HUMANEVAL_STOP),
                       code_extraction="the completion up to the earliest stop string",
                       program="prompt + completion + '\\n' + test + '\\n' + 'check(entry_point)'")
        else:
            out.update(task_ids="all", prompt_format="one user turn: instruction, rendered by the model's chat "
                                                     "template with its generation prompt",
                       instruction=CHAT_HUMANEVAL_INSTRUCTION, stop=[], code_extraction=_CHAT_EXTRACTION,
                       program="if the code defines entry_point: prompt + '\\n' + code, else prompt + code; "
                               "then + '\\n' + test + '\\n' + 'check(entry_point)'")
        return out


_CHAT_EXTRACTION = ("the first fenced block tagged python/py/python3 or untagged; an unclosed fence runs to the end "
                    "of the reply; no fence: the whole reply")
