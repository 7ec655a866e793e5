"""MultiPL-E (Cassano et al., 2023): HumanEval and MBPP translated into many languages, as JSONL rows.

A row has ``name``, ``language`` (MultiPL-E's code: cpp, java, js, ts, go, rs, php, sh, cs, py...),
``prompt``, ``tests`` and ``stop_tokens``; the program under test is ``prompt + completion + "\\n" + tests``,
as MultiPL-E's evaluator builds it. There are no reference solutions. The file is read from a path
(``--dataset``); a file may mix languages, and ``language=`` keeps one.
"""

from __future__ import annotations

from pathlib import Path

from opencook.benchmarks.problems import Benchmark, DatasetError, Problem, _require, read_jsonl
from opencook.kit.io import sha256_file

# The languages OpenCoder's MultiPL-E table reports, in MultiPL-E's codes, and the others the sandbox runs.
LANGUAGES = ("py", "cpp", "java", "js", "ts", "go", "rs", "php", "sh", "cs")
_FIELDS = ("name", "language", "prompt", "tests", "stop_tokens")


def load_multipl_e(path: str | Path, language: str | None = None) -> Benchmark:
    """The rows of the MultiPL-E JSONL at ``path`` (``language`` keeps the rows of one language)."""
    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"--dataset {file} does not exist: pass a MultiPL-E .jsonl(.gz) with rows "
                           f"{list(_FIELDS)} (e.g. humaneval-cpp exported from nuprl/MultiPL-E)")
    if language is not None and language not in LANGUAGES:
        raise DatasetError(f"MultiPL-E language {language!r} is not one the sandbox runs: use one of {list(LANGUAGES)}")
    problems = []
    for i, r in enumerate(read_jsonl(file), 1):
        _require(r, _FIELDS, file, i)
        if r["language"] not in LANGUAGES:
            raise DatasetError(f"{file} row {i} ({r['name']}) has language {r['language']!r}: the sandbox runs "
                               f"{list(LANGUAGES)}")
        if not isinstance(r["stop_tokens"], list):
            raise DatasetError(f"{file} row {i} ({r['name']}): stop_tokens must be a list of strings")
        if language is None or r["language"] == language:
            problems.append(Problem(task_id=str(r["name"]), prompt=r["prompt"], canonical="", test=r["tests"],
                                    extra={"language": r["language"], "stop_tokens": tuple(r["stop_tokens"])}))
    if not problems:
        raise DatasetError(f"{file} has no rows" + (f" in language {language!r}" if language else "")
                           + ": is it the right file?")
    langs = sorted({p.extra["language"] for p in problems})
    return Benchmark(name="multipl-e", split=",".join(langs), version=file.name, source=str(file),
                     sha256=sha256_file(file), problems=tuple(problems))


def program(problem: Problem, completion: str) -> str:
    """MultiPL-E's program: the prompt, the completion, a newline, the tests."""
    return problem.prompt + completion + "\n" + problem.test


def sandbox_language(problem: Problem) -> str:
    """The sandbox's name for the problem's language (``py`` is ``python``)."""
    lang = problem.extra["language"]
    return "python" if lang == "py" else lang
