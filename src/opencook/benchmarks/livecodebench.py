"""LiveCodeBench code generation from its released files (``livecodebench/code_generation_lite``).

Each JSONL row is one problem: ``question_title``, ``question_content``, ``platform``, ``question_id``,
``contest_id``, ``contest_date`` (ISO), ``starter_code``, ``difficulty``, ``public_test_cases`` and
``private_test_cases`` (JSON strings of ``[{input, output, testtype}]``, testtype ``stdin`` or
``functional``) and ``metadata`` (a JSON string; ``func_name`` names the method functional tests call).
The release stores most ``private_test_cases`` compressed: base64 of zlib of a pickle of the JSON string.
That pickle is read by an unpickler that refuses every global, so only plain str/list/dict/number values
can come out of it, never an object of an arbitrary class.

The paper (OpenCoder, Table 8) scores the problems whose contest date lies in 2023-05-01..2024-09-30; that
window is the default, both ends included.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from opencook.benchmarks.problems import DatasetError, read_jsonl
from opencook.kit.io import sha256_file

PAPER_WINDOW = (date(2023, 5, 1), date(2024, 9, 30))
FIELDS = ("question_title", "question_content", "platform", "question_id", "contest_id", "contest_date",
          "starter_code", "difficulty", "public_test_cases", "private_test_cases", "metadata")
TEST_TYPES = ("stdin", "functional")


@dataclass(frozen=True)
class LcbTest:
    """One test: stdin text and expected stdout, or (functional) one JSON value per line and a JSON result."""

    input: str
    output: str
    testtype: str


@dataclass(frozen=True)
class LcbProblem:
    question_id: str
    title: str
    content: str
    platform: str
    contest_id: str
    contest_date: date
    starter_code: str
    difficulty: str
    tests: tuple[LcbTest, ...]  # public, then private: the order LiveCodeBench runs them in
    func_name: str | None

    @property
    def task_id(self) -> str:
        return self.question_id

    @property
    def functional(self) -> bool:
        return self.func_name is not None


@dataclass(frozen=True)
class LiveCodeBench:
    source: str
    sha256: str
    start: date
    end: date
    problems: tuple[LcbProblem, ...]
    outside_window: int

    def record(self) -> dict:
        return {"name": "livecodebench", "split": "code_generation", "source": self.source, "sha256": self.sha256,
                "window": [self.start.isoformat(), self.end.isoformat()], "problems": len(self.problems),
                "outside_window": self.outside_window}


class _PlainValues(pickle.Unpickler):
    """Builds only what pickle's own opcodes make (str, bytes, numbers, list, tuple, dict): any class is refused."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing {module}.{name}: a LiveCodeBench test list holds plain values only")


def _decompress(text: str, where: str) -> object:
    try:
        raw = zlib.decompress(base64.b64decode(text.encode("ascii"), validate=False))
        value = _PlainValues(io.BytesIO(raw)).load()
    except (binascii.Error, zlib.error, UnicodeEncodeError, pickle.UnpicklingError, EOFError, ValueError) as e:
        raise DatasetError(f"{where} is neither JSON nor base64(zlib(pickle(JSON))) as the release stores it "
                           f"({e}): is this a livecodebench/code_generation_lite file?") from None
    if not isinstance(value, str | bytes):
        raise DatasetError(f"{where} decompresses to {type(value).__name__}, expected the JSON text of the tests")
    return json.loads(value)


def decode_tests(text: str, where: str) -> list[dict]:
    """``public_test_cases``/``private_test_cases`` as plain JSON, or as the release compresses them."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = _decompress(text, where)
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise DatasetError(f"{where} is not a list of {{input, output, testtype}} objects")
    return value


def _contest_date(value: object, where: str) -> date:
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        raise DatasetError(f"{where}: contest_date {value!r} is not an ISO date such as 2023-08-21T00:00:00") from None


def parse_problem(row: dict, where: str) -> LcbProblem:
    missing = [k for k in FIELDS if k not in row]
    if missing:
        raise DatasetError(f"{where} lacks field(s) {missing}: expected a livecodebench/code_generation_lite row")
    tests = []
    for name in ("public_test_cases", "private_test_cases"):
        for i, t in enumerate(decode_tests(row[name], f"{where} {name}")):
            if t.get("testtype") not in TEST_TYPES or not isinstance(t.get("input"), str) \
                    or not isinstance(t.get("output"), str):
                raise DatasetError(f"{where} {name}[{i}] needs string input/output and testtype in {TEST_TYPES}")
            tests.append(LcbTest(t["input"], t["output"], t["testtype"]))
    meta = row["metadata"]
    meta = json.loads(meta) if isinstance(meta, str) and meta.strip() else (meta or {})
    func = meta.get("func_name") or None
    if any(t.testtype == "functional" for t in tests) and func is None:
        raise DatasetError(f"{where} has functional tests but its metadata names no func_name")
    return LcbProblem(question_id=str(row["question_id"]), title=str(row["question_title"]),
                      content=row["question_content"], platform=str(row["platform"]),
                      contest_id=str(row["contest_id"]), contest_date=_contest_date(row["contest_date"], where),
                      starter_code=row["starter_code"] or "", difficulty=str(row["difficulty"]), tests=tuple(tests),
                      func_name=func)


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz")))
        if files:
            return files
        raise DatasetError(f"{path} holds no .jsonl files: pass the release's test*.jsonl (or the folder of them)")
    raise DatasetError(f"--dataset {path} does not exist: download livecodebench/code_generation_lite and pass "
                       "its test.jsonl (or the folder with test.jsonl ... test6.jsonl)")


def load_livecodebench(path: str | Path, start: date = PAPER_WINDOW[0], end: date = PAPER_WINDOW[1]) -> LiveCodeBench:
    """The problems of the release file(s) at ``path`` whose contest date is within ``start``..``end``."""
    if start > end:
        raise DatasetError(f"--start {start} is after --end {end}: the date window is empty")
    files = _files(Path(path))
    problems, outside, seen = [], 0, set()
    for file in files:
        for i, row in enumerate(read_jsonl(file), 1):
            p = parse_problem(row, f"{file} row {i}")
            if p.question_id in seen:
                raise DatasetError(f"{file} row {i}: question_id {p.question_id} appears twice in {path}")
            seen.add(p.question_id)
            if start <= p.contest_date <= end:
                problems.append(p)
            else:
                outside += 1
    sha = sha256_file(files[0]) if len(files) == 1 else _combined_sha(files)
    return LiveCodeBench(source=str(path), sha256=sha, start=start, end=end, problems=tuple(problems),
                         outside_window=outside)


def _combined_sha(files: list[Path]) -> str:
    import hashlib

    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}:{sha256_file(f)}\n".encode())
    return h.hexdigest()
