"""Stream training texts from Parquet/JSONL datasets (a ``text`` column) and from raw code files."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DATASET_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz")


@dataclass
class SourceStats:
    """What a pass over the sources read; ``replaced_files`` had bytes that were not valid UTF-8."""

    files: int = 0
    docs: int = 0
    bytes: int = 0
    replaced_files: int = 0


def _is_dataset(path: Path) -> bool:
    return path.name.endswith(DATASET_SUFFIXES)


def resolve_files(sources: Sequence[str | Path]) -> list[Path]:
    """Files to read. A directory gives its Parquet/JSONL files when it has any (a pipeline's ``dataset/``),
    otherwise every file under it; names starting with ``.`` or ``_`` (markers such as ``_SUCCESS.json``)
    are skipped."""
    files: list[Path] = []
    for src in sources:
        path = Path(src)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file()
                           and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
            datasets = [p for p in found if _is_dataset(p)]
            files.extend(datasets or found)
        else:
            raise FileNotFoundError(f"tokenizer source {path} does not exist")
    return files


def _read_parquet(path: Path) -> Iterator[str]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    if "text" not in pf.schema_arrow.names:
        raise ValueError(f"{path} has no 'text' column (columns: {pf.schema_arrow.names})")
    for batch in pf.iter_batches(columns=["text"], batch_size=1024):
        yield from (t for t in batch.column(0).to_pylist() if t)


def _read_jsonl(path: Path) -> Iterator[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            text = json.loads(line).get("text")
            if text is None:
                raise ValueError(f"{path}:{lineno} has no 'text' field")
            if text:
                yield text


def iter_texts(sources: Sequence[str | Path], *, max_docs: int | None = None, seed: int = 0,
               stats: SourceStats | None = None) -> Iterator[str]:
    """Every non-empty text, in a seeded file order. Raw files are decoded as UTF-8 with invalid bytes
    replaced by U+FFFD (counted in ``stats.replaced_files``), so any file is usable."""
    stats = stats if stats is not None else SourceStats()
    files = resolve_files(sources)
    random.Random(seed).shuffle(files)
    for path in files:
        stats.files += 1
        if path.name.endswith(".parquet"):
            texts: Iterator[str] = _read_parquet(path)
        elif path.name.endswith((".jsonl", ".jsonl.gz")):
            texts = _read_jsonl(path)
        else:
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", errors="replace")
                stats.replaced_files += 1
            texts = iter([text] if text else [])
        for text in texts:
            if max_docs is not None and stats.docs >= max_docs:
                return
            stats.docs += 1
            stats.bytes += len(text.encode("utf-8"))
            yield text
