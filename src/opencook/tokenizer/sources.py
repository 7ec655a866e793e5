"""Stream training texts from datasets (``opencook.kit.io.Dataset``: Parquet/JSONL with ``text``) and raw code files."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from opencook.kit.io import Dataset, NoDatasetFiles, is_dataset_file, remote
from opencook.kit.io.dataset import remote_visible_files


@dataclass
class SourceStats:
    """What a pass over the sources read; ``replaced_files`` had bytes that were not valid UTF-8."""

    files: int = 0
    docs: int = 0
    bytes: int = 0
    replaced_files: int = 0


def resolve_files(sources: Sequence[str | Path]) -> list[Path | str]:
    """Files to read. A directory gives its dataset files when it has any (a pipeline's ``dataset/``),
    otherwise every file under it; names starting with ``.`` or ``_`` (markers such as ``_SUCCESS.json``)
    are skipped. A source may be an fsspec URL (``s3://bucket/dataset``); its files are then URLs."""
    files: list[Path | str] = []
    for src in sources:
        if remote.is_remote(src):
            files.extend(_remote_files(str(src)))
            continue
        path = Path(remote.local(src))
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            try:
                files.extend(Dataset(path).files())
            except NoDatasetFiles:
                files.extend(sorted(p for p in path.rglob("*") if p.is_file()
                                    and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)))
        else:
            raise FileNotFoundError(f"tokenizer source {path} does not exist")
    return files


def _remote_files(url: str) -> list[str]:
    """The remote counterpart of the local rule above, from one stat and one listing."""
    try:
        if remote.stat(url)["type"] != "directory":
            return [url]
    except FileNotFoundError:
        raise FileNotFoundError(f"tokenizer source {url} does not exist") from None
    found = remote_visible_files(url)
    return [u for u in found if is_dataset_file(u)] or found


def _raw_text(path: Path | str, stats: SourceStats) -> Iterator[str]:
    with remote.open_binary(path) as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        stats.replaced_files += 1
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
        texts = Dataset(path).texts() if is_dataset_file(path) else _raw_text(path, stats)
        for text in texts:
            if not text:
                continue
            if max_docs is not None and stats.docs >= max_docs:
                return
            stats.docs += 1
            stats.bytes += len(text.encode("utf-8"))
            yield text
