"""Evaluation protocols, exact to the byte: what the model is shown, where its output is cut, and the
program that tests it (codelm.md, "Evaluation protocol"). Two protocols, each for a base or a chat model:

``opencoder`` (the default): OpenCodeEval's prompts, stops, AST extractor and import prelude
(``evals/opencoder.py``); MBPP shots are tasks 1-3, test ids 10-509.
``harness``: the older conventions. base: HumanEval completes ``prompt`` and stops at human-eval's stop
strings; MBPP is the lm-eval-style 3-shot (tasks 2, 3, 4) over test ids 11-510, the answer inside a python
fence. chat: one user turn with opencook's instruction; the code is the first fenced block of the reply.
Every choice here is written into the results file by ``Protocol.record``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from opencook.benchmarks.problems import Benchmark, Problem
from opencook.evals import opencoder as oc
from opencook.evals.extract import truncate_at_stop

KINDS = ("base", "chat")
NAMES = ("opencoder", "harness")
EVALPLUS = ("humaneval+", "mbpp+")  # benchmarks scored per input, with base and plus verdicts
OPENCODEEVAL_SOURCE = ("OpenCoder-llm/OpenCoder-llm OpenCodeEval/src at commit 42e109328450e74eba2b81d8bd60bd7691f9741f "
                       "(HumanEval.py, MBPP.py; the other files as of 2a8581a113033309f8c4e397272d27d11842bc42)")
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
    build_code: Callable[[str], str] | None = field(default=None, repr=False)  # the program minus its tests
    language: str = "python"  # the sandbox language the program runs in


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
    """How one benchmark is put to a model of one kind (base or chat) under protocol ``name``."""

    benchmark: Benchmark
    kind: str
    name: str = "opencoder"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown protocol {self.kind!r}: use one of {list(KINDS)}")
        if self.name not in NAMES:
            raise ValueError(f"unknown protocol {self.name!r}: use one of {list(NAMES)}")
        if self.name == "harness" and self.benchmark.name == "mbpp+":
            raise ValueError("the harness protocol has no MBPP+ form (no few-shot source in the file): "
                             "use --protocol opencoder")

    @property
    def is_mbpp(self) -> bool:
        return self.benchmark.name == "mbpp"

    def problems(self) -> list[Problem]:
        """HumanEval(-format) and MBPP+: all problems; MBPP: the test split (opencoder 10-509, harness 11-510)."""
        if not self.is_mbpp:
            return list(self.benchmark.problems)
        lo, hi = oc.MBPP_TEST_IDS if self.name == "opencoder" else MBPP_TEST_IDS
        return [p for p in self.benchmark.problems if lo <= int(p.task_id) <= hi]

    def shots(self) -> list[Problem]:
        ids = [str(i) for i in oc.MBPP_SHOT_IDS] if self.name == "opencoder" else list(MBPP_SHOT_IDS)
        by_id = {p.task_id: p for p in self.benchmark.problems}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise ValueError(f"{self.benchmark.source} lacks the few-shot tasks {missing}: use the whole file "
                             "(MBPP --split full)")
        return [by_id[i] for i in ids]

    def tasks(self) -> list[Task]:
        if self.name == "opencoder":
            shots = [(s.prompt, s.test_list, s.canonical) for s in self.shots()] if self.is_mbpp else []
            return [self.opencoder_task(p, shots) for p in self.problems()]
        return [self.task(p) for p in self.problems()]

    def opencoder_task(self, p: Problem, shots: list) -> Task:
        """OpenCodeEval's task: the same prompt text for base and chat (chat sends it as the user turn); the
        extractor reads a base sample after its prompt; the program puts the import prelude first."""
        stop = oc.stops(self.kind)
        if self.is_mbpp:
            text = oc.mbpp_prompt(shots, p.prompt, p.test_list)
            entry = None

            def program(sol: str) -> str:
                return oc.mbpp_program(p.setup, sol, p.test_list)
        elif self.benchmark.name == "mbpp+":
            text, entry = oc.mbpp_plus_prompt(p.prompt, p.test_list[0]), None

            def program(sol: str) -> str:
                return oc.mbpp_plus_program(sol, tuple(p.extra.get("test_imports", ())), p.test)

            def code(sol: str) -> str:
                return oc.mbpp_plus_program(sol, tuple(p.extra.get("test_imports", ())), "")
        else:
            text, entry = oc.humaneval_prompt(p.prompt, self.kind), p.entry_point

            def program(sol: str) -> str:
                return oc.humaneval_program(p.prompt, p.test, p.entry_point, sol)

            def code(sol: str) -> str:
                return oc.humaneval_code(p.prompt, sol)

        def extract(c: str) -> str:
            return oc.sanitize(oc.completion_text(text, truncate_at_stop(c, stop), self.kind), entry)

        if self.is_mbpp:

            def code(sol: str) -> str:
                return sol

        plus = lambda c: code(extract(c))  # noqa: E731 - the program minus its tests (EvalPlus's `solution`)
        if self.kind == "base":
            return Task(p.task_id, text, None, stop, extract, lambda c: program(extract(c)), plus)
        return Task(p.task_id, None, ({"role": "user", "content": text},), stop, extract,
                    lambda c: program(extract(c)), plus)

    def task(self, p: Problem) -> Task:
        if self.is_mbpp and self.kind == "base":
            prefix = "".join(mbpp_shot(s) for s in self.shots())

            def extract(c: str) -> str:
                return truncate_at_stop(c, ("```",))

            return Task(p.task_id, prefix + mbpp_question(p) + FENCE, None, MBPP_BASE_STOP, extract,
                        lambda c: mbpp_program(p, extract(c)), extract)
        if self.is_mbpp:
            return Task(p.task_id, None, ({"role": "user", "content": mbpp_question(p)},), (), extract_code,
                        lambda c: mbpp_program(p, extract_code(c)), extract_code)
        if self.kind == "base":

            def cut(c: str) -> str:
                return truncate_at_stop(c, HUMANEVAL_STOP)

            return Task(p.task_id, p.prompt, None, HUMANEVAL_STOP, cut, lambda c: humaneval_program(p, cut(c)),
                        lambda c: p.prompt + cut(c))
        message = {"role": "user", "content": CHAT_HUMANEVAL_INSTRUCTION.format(prompt=p.prompt)}

        def chat_code(c: str) -> str:
            code = extract_code(c)
            return p.prompt + "\n" + code if defines(code, p.entry_point) else p.prompt + code

        return Task(p.task_id, None, (message,), (), extract_code,
                    lambda c: humaneval_chat_program(p, extract_code(c)), chat_code)

    def record(self) -> dict:
        """The protocol as a results file records it: every string that shapes a prompt or a program."""
        out: dict[str, object] = {"name": self.name, "kind": self.kind, "benchmark": self.benchmark.name,
                                  "split": self.benchmark.split}
        if self.name == "opencoder":
            return out | opencoder_record(self)
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


def opencoder_record(p: Protocol) -> dict:
    """The opencoder protocol's strings, as a results file records them."""
    b, kind = p.benchmark.name, p.kind
    out: dict[str, object] = {
        "follows": OPENCODEEVAL_SOURCE, "stop": list(oc.stops(kind)), "import_prelude": oc.PRELUDE,
        "chat_rendering": "user turn = the prompt text, rendered by the model's chat template with its generation "
                          "prompt (response prefix empty)" if kind == "chat" else None,
        "code_extraction": "sanitize(refine(prompt + '\\n\\n' + sample) if base else refine(sample)): the "
                           "longest parsable run of the first 100 lines; its imports, classes, functions with a "
                           "return and name assignments" + (", reachable from entry_point" if b not in ("mbpp", "mbpp+")
                                                             else "") + "; ast.unparse, one per line",
        "refine": "tabs -> 4 spaces, CRLF/CR -> LF, strip, + '\\n'"}
    if b == "mbpp":
        lo, hi = oc.MBPP_TEST_IDS
        out.update(task_ids=f"{lo}-{hi}", shots=list(oc.MBPP_SHOT_IDS),
                   prompt_format="'\\n'.join(block(shot) for shots) + '\\n' + block(task), refined; block = "
                                 f"{oc.MBPP_INTRO!r} + text + {oc.MBPP_TESTS!r} + '\\n'.join(test_list) + '\\n' + "
                                 "('\\n```python\\n' + refine(code) + '\\n```\\n' for a shot, "
                                 "'\\n```python\\n' for the task)",
                   program="prelude + '\\n' + test_setup_code + '\\n' + solution + '\\n' + '\\n'.join(test_list)")
    elif b == "mbpp+":
        out.update(task_ids="all", prompt_format="refine(text + '\\n' + test_list[0])",
                   program="prelude + '\\n\\n' + solution + '\\n\\n' + test_imports + '\\n\\n' + test + "
                           "'\\n\\n'")
    else:
        out.update(task_ids="all",
                   prompt_format=("refine(chat_prefix + refine(prompt) + chat_suffix)" if kind == "chat"
                                  else "refine(prompt)"),
                   chat_prefix=oc.CHAT_PREFIX if kind == "chat" else None,
                   chat_suffix=oc.CHAT_SUFFIX if kind == "chat" else None,
                   program="prelude + '\\n' + prompt + '\\n' + '    pass\\n' + '\\n' + solution + '\\n' + test + "
                           "'\\n' + 'check(entry_point)'")
    return {k: v for k, v in out.items() if v is not None}

