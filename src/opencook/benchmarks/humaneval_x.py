"""HumanEval-X (CodeGeeX, KDD 2023): HumanEval's 164 problems in C++, Go, Java, JavaScript and Rust.

Files are CodeGeeX's ``humaneval_<lang>.jsonl.gz`` (``../shared/data/humaneval_x``). A program under test is
assembled as CodeGeeX's harness does (``codegeex/benchmark/utils.py:process_humaneval_test``, commit
2838420b): C++ gets the helper ``#include`` lines its prompt lacks; Go drops the prompt's ``import`` block,
starts from ``test_setup`` (package and test imports) and imports any helper package the completion uses
that ``test_setup`` does not; Rust is ``fn main(){}`` + declaration + prompt + completion + test (run with
``rustc --test``); Java and JavaScript are prompt + completion + "\\n" + test.
"""

from __future__ import annotations

import os
from pathlib import Path

from opencook.benchmarks.problems import Benchmark, DatasetError, Problem, _require, read_jsonl
from opencook.kit.io import sha256_file

HUMANEVAL_X_ENV = "OPENCOOK_HUMANEVAL_X_DIR"
WORKPLACE_DIR = Path("/work/shared/data/humaneval_x")
# HumanEval-X's language names -> the sandbox's (MultiPL-E codes).
LANGUAGES = {"cpp": "cpp", "go": "go", "java": "java", "js": "js", "rust": "rs"}
_ALIASES = {"c++": "cpp", "javascript": "js", "rs": "rust", "golang": "go"}
COUNT = 164
SHA256 = {
    "cpp": "dcf2e280a1e91bbc3c5f90edb41397e8a9ac1ccc9f5d2b70082f0b0fbfb6dbb0",
    "go": "09126ef64ac68f87296c5f3781186aedc5dec799b114d9df99d6de4a715a7830",
    "java": "276f36db2eb7aeb864f36a19a2f4e1bb2460fb6e22ff100f0b5bedabe3799967",
    "js": "fe5d467f2c1a027b3f6f18d3729aca01f6458c1de2e2d1292a019c5aa9bed424",
    "rust": "ae5cabbbfc8fe25244a608b04f09ac3b324c645ac969dfc033756c12f0f9924c",
}
_CPP_HELPERS = ("#include<stdlib.h>", "#include<algorithm>", "#include<math.h>", "#include<stdio.h>",
                "#include<vector>", "#include<string>", "#include<climits>", "#include<cstring>",
                "#include<iostream>")
_GO_HELPERS = ("math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort", "math/rand", "crypto/md5")
_FIELDS = {"cpp": ("declaration",), "go": ("import", "test_setup"), "java": ("declaration",), "js": ("declaration",),
           "rust": ("declaration",)}


def humaneval_x_language(name: str) -> str:
    """HumanEval-X's name for a language (``cpp``, ``go``, ``java``, ``js``, ``rust``); aliases accepted."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in LANGUAGES:
        raise DatasetError(f"HumanEval-X has no language {name!r}: use one of {sorted(LANGUAGES)}")
    return key


def default_dir() -> Path:
    """``$OPENCOOK_HUMANEVAL_X_DIR``, else ``<repo>/../shared/data/humaneval_x``, else the workplace copy."""
    env = os.environ.get(HUMANEVAL_X_ENV)
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "humaneval_x"
    return beside if beside.is_dir() or not WORKPLACE_DIR.is_dir() else WORKPLACE_DIR


def load_humaneval_x(lang: str, path: str | Path | None = None) -> Benchmark:
    """One language of HumanEval-X: ``humaneval_<lang>.jsonl.gz`` from ``default_dir()``, or the file at ``path``."""
    lang = humaneval_x_language(lang)
    file = Path(path) if path is not None else default_dir() / f"humaneval_{lang}.jsonl.gz"
    if not file.is_file():
        raise DatasetError(f"{file} does not exist: pass --dataset PATH to a HumanEval-X {lang} .jsonl(.gz), or "
                           f"set ${HUMANEVAL_X_ENV} to the folder holding humaneval_{lang}.jsonl.gz")
    rows = read_jsonl(file)
    problems = []
    for i, r in enumerate(rows, 1):
        _require(r, ("task_id", "prompt", "canonical_solution", "test", *_FIELDS[lang]), file, i)
        extra = {k: r[k] for k in ("declaration", "import", "test_setup", "example_test") if k in r}
        extra["language"] = LANGUAGES[lang]
        problems.append(Problem(task_id=str(r["task_id"]), prompt=r["prompt"], canonical=r["canonical_solution"],
                                test=r["test"], extra=extra))
    if path is None and len(problems) != COUNT:
        raise DatasetError(f"{file} holds {len(problems)} problems, expected {COUNT}: is it truncated?")
    return Benchmark(name="humaneval-x", split=lang, version="CodeGeeX 2838420b", source=str(file),
                     sha256=sha256_file(file), problems=tuple(problems), known_sha256=SHA256[lang])


def go_helper_imports(test_setup: str, code: str) -> str:
    """The import block for the helper packages ``code`` uses that ``test_setup`` does not import."""
    other = [f'"{pkg}"' for pkg in _GO_HELPERS if pkg not in test_setup and pkg.split("/")[-1] + "." in code]
    return ("import (\n" + "    ".join(p + "\n" for p in other) + ")\n") if other else ""


def program(problem: Problem, completion: str, lang: str) -> str:
    """The whole program that tests ``completion`` of ``problem``, as CodeGeeX's harness assembles it."""
    lang = humaneval_x_language(lang)
    prompt, test = problem.prompt, problem.test
    if lang == "cpp":
        setup = "".join(line + "\n" for line in _CPP_HELPERS if line not in prompt)
        return setup + "\n" + prompt + completion + "\n" + test
    if lang == "go":
        prompt = prompt.replace(problem.extra["import"], "")
        test_setup = problem.extra["test_setup"]
        return test_setup + "\n" + go_helper_imports(test_setup, completion) + prompt + completion + "\n" + test
    if lang == "rust":
        return "\nfn main(){ \n } \n" + problem.extra["declaration"] + prompt + completion + test
    return prompt + completion + "\n" + test
