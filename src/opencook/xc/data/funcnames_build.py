"""Build the function-name dataset once: parse in parallel, split by module, dedup, and cache every
distinct example in one ``.npz`` keyed by the sources' fingerprint and the settings that shape the
arrays; ``select_classes`` then keeps the names seen ``min_count`` times, after loading.

Dedup runs before counting, so a function copied unchanged into eight CPython versions is one
example, and ``min_count`` counts *distinct* bodies of a name over both splits.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from opencook.kit.io import atomic_write
from opencook.kit.progress import Progress
from opencook.xc.data import funcnames_sources as src
from opencook.xc.data.funcnames_config import FunctionNamesConfig
from opencook.xc.data.funcnames_extract import OK, Extractor, FileFunctions

BUILD_VERSION = 1
"""Bump when extraction or the array layout changes, so old caches are not reused."""
SPLITS = ("train", "eval")
_SPLIT_FIELDS = ("tokens", "offsets", "labels", "files", "also_in_train")


@dataclass
class Split:
    tokens: np.ndarray
    """int32, every example's ids concatenated."""
    offsets: np.ndarray
    """int64 ``[n + 1]``: example ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``."""
    labels: np.ndarray
    """int64 index into ``Built.names``."""
    files: np.ndarray
    """int32 index into ``Built.file_keys``: which module each example came from."""
    also_in_train: np.ndarray
    """bool: an identical (name, tokens) example is in the train split (always False for train)."""

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, keep: np.ndarray, labels: np.ndarray) -> Split:
        """The examples where ``keep`` is true, relabelled with ``labels`` (one per kept example)."""
        lengths = np.diff(self.offsets)
        return Split(
            tokens=self.tokens[np.repeat(keep, lengths)],
            offsets=np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64),
            labels=labels.astype(np.int64),
            files=self.files[keep],
            also_in_train=self.also_in_train[keep],
        )


@dataclass
class Built:
    names: list[str]
    """Sorted distinct function names (all of them before ``select_classes``, the classes after)."""
    file_keys: list[str]
    splits: dict[str, Split]
    stats: dict


def load_or_build(config: FunctionNamesConfig) -> tuple[Built, Path, bool]:
    """``(every deduplicated example, cache file, cache hit)``; raises ValueError on missing or empty sources."""
    roots = src.resolve_roots(config)
    files = [src.list_files(r, config.exclude_dirs) for r in roots]
    if not any(files):
        where = ", ".join(str(r.path) for r in roots)
        raise ValueError(f"funcnames: no .py or .parquet files (nor .jsonl[.gz|.zst] dataset files) under {where}")
    path = _cache_path(config, roots, files)
    if path.exists():
        return _load(path), path, True
    built = build(config, roots, files)
    _save(path, built)
    return built, path, False


def select_classes(built: Built, min_count: int) -> Built:
    """Keep names with ``min_count`` distinct examples over both splits; class ids follow name order.

    Applied after the cache, so trying another ``min_count`` costs a load, not a rebuild.
    """
    counts = sum((np.bincount(s.labels, minlength=len(built.names)) for s in built.splits.values()), start=0)
    frequent = np.asarray(counts) >= min_count
    if not frequent.any():
        raise ValueError(
            f"funcnames: no function name has {min_count} distinct examples in {built.stats['sources']} "
            f"({built.stats['functions']} functions in {built.stats['files_ok']} parsed files); "
            "add sources or lower min_count"
        )
    class_of = np.cumsum(frequent) - 1
    splits = {
        name: s.take(frequent[s.labels], class_of[s.labels[frequent[s.labels]]])
        for name, s in built.splits.items()
    }
    train, held_out = splits["train"], splits["eval"]
    stats = {
        **built.stats,
        "min_count": min_count,
        "classes": int(frequent.sum()),
        "names_dropped": int((~frequent).sum()),
        "examples_dropped": int(np.asarray(counts)[~frequent].sum()),
        "train_examples": len(train),
        "eval_examples": len(held_out),
        "eval_also_in_train": int(held_out.also_in_train.sum()),
        "eval_with_train_class": int(np.isin(held_out.labels, train.labels).sum()),
    }
    names = [n for n, keep in zip(built.names, frequent, strict=True) if keep]
    return Built(names, built.file_keys, splits, stats)


def build(config: FunctionNamesConfig, roots: list[src.Root], files: list[list[Path]]) -> Built:
    started = time.perf_counter()
    counts = [src.count_tasks(r, f) for r, f in zip(roots, files, strict=True)]
    total = None if None in counts else sum(counts)
    tasks = (t for r, f in zip(roots, files, strict=True) for t in src.iter_tasks(r, f, config.language))
    acc = _Accumulator(config)
    bar = Progress(total, "funcnames: parsing", "file", enabled=config.progress)
    with bar:
        for key, result in _extract_all(config, tasks):
            bar.update(1)
            acc.add(key, result)
    built = acc.finish()
    built.stats.update(
        sources=[str(r.path) for r in roots],
        build_seconds=round(time.perf_counter() - started, 2),
        workers=_workers(config),
    )
    return built


class _Accumulator:
    """Dedups within each split in arrival order: the first copy of a (name, tokens) pair wins."""

    def __init__(self, config: FunctionNamesConfig) -> None:
        self.config = config
        self.stats: Counter[str] = Counter()
        self.keys: dict[str, int] = {}
        self.seen: dict[str, dict[bytes, None]] = {s: {} for s in SPLITS}
        self.names: dict[str, list[str]] = {s: [] for s in SPLITS}
        self.chunks: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
        self.files: dict[str, list[int]] = {s: [] for s in SPLITS}

    def add(self, key: str | None, result: FileFunctions | None) -> None:
        if result is None:
            self.stats["rows_other_language"] += 1
            return
        self.stats["files"] += 1
        self.stats[f"files_{result.status}"] += 1
        if result.status != OK:
            return
        split = "eval" if src.is_eval(key, self.config.eval_fraction, self.config.split_seed) else "train"
        file_id = self.keys.setdefault(key, len(self.keys))
        self.stats["functions"] += len(result.names)
        seen, bounds = self.seen[split], np.concatenate([[0], np.cumsum(result.lengths)])
        for i, name in enumerate(result.names):
            body = result.tokens[bounds[i] : bounds[i + 1]]
            digest = hashlib.blake2b(name.encode() + b"\0" + body.tobytes(), digest_size=16).digest()
            if digest in seen:
                self.stats[f"duplicates_{split}"] += 1
                continue
            seen[digest] = None
            self.names[split].append(name)
            self.chunks[split].append(body)
            self.files[split].append(file_id)

    def finish(self) -> Built:
        names = sorted(set(self.names["train"]) | set(self.names["eval"]))
        index = {n: i for i, n in enumerate(names)}
        splits = {}
        for split in SPLITS:
            chunks = self.chunks[split]
            lengths = np.array([len(c) for c in chunks], np.int64)
            in_train = [d in self.seen["train"] for d in self.seen[split]] if split == "eval" else []
            splits[split] = Split(
                tokens=np.concatenate(chunks).astype(np.int32) if chunks else np.zeros(0, np.int32),
                offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                labels=np.array([index[n] for n in self.names[split]], np.int64),
                files=np.array(self.files[split], np.int32),
                also_in_train=np.array(in_train or [False] * len(chunks), bool),
            )
        stats = {
            "files": self.stats["files"],
            **{k: v for k, v in sorted(self.stats.items()) if k.startswith(("files_", "rows_"))},
            "functions": self.stats["functions"],
            "duplicates_train": self.stats["duplicates_train"],
            "duplicates_eval": self.stats["duplicates_eval"],
            "names": len(names),
            "modules": len(self.keys),
        }
        return Built(names, list(self.keys), splits, stats)


_EXTRACTOR: Extractor | None = None


def _init_worker(vocab_buckets: int, max_tokens: int, max_file_bytes: int) -> None:
    global _EXTRACTOR
    _EXTRACTOR = Extractor(vocab_buckets, max_tokens, max_file_bytes)


def _extract(task: src.Task | None) -> tuple[str | None, FileFunctions | None]:
    if task is None:
        return None, None
    assert _EXTRACTOR is not None
    if task.kind == "path":
        try:
            data: bytes | str = Path(task.payload).read_bytes()
        except OSError:
            return task.key, FileFunctions("unreadable")
    else:
        data = task.payload
    return task.key, _EXTRACTOR(data)


def _workers(config: FunctionNamesConfig) -> int:
    return config.workers if config.workers > 0 else os.cpu_count() or 1


def _extract_all(
    config: FunctionNamesConfig, tasks: Iterable[src.Task | None]
) -> Iterator[tuple[str | None, FileFunctions | None]]:
    """Results in task order (the pool's ``imap`` keeps it), so the build is the same for any worker count."""
    args = (config.vocab_buckets, config.max_tokens, config.max_file_bytes)
    workers = _workers(config)
    if workers == 1:
        _init_worker(*args)
        yield from map(_extract, tasks)
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers, _init_worker, args) as pool:
        yield from pool.imap(_extract, tasks, chunksize=16)


def _cache_path(config: FunctionNamesConfig, roots: list[src.Root], files: list[list[Path]]) -> Path:
    shaping = {
        "version": BUILD_VERSION,
        "fingerprint": src.fingerprint(roots, files),
        **{k: getattr(config, k) for k in config.build_fields()},
    }
    digest = hashlib.sha1(json.dumps(shaping, sort_keys=True, default=list).encode()).hexdigest()[:16]
    return Path(os.path.expanduser(config.cache_dir)) / f"funcnames-{digest}.npz"


def _save(path: Path, built: Built) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "names": np.array(built.names, dtype=str),
        "file_keys": np.array(built.file_keys, dtype=str),
        "stats": np.array(json.dumps(built.stats)),
    }
    for name, split in built.splits.items():
        for field in _SPLIT_FIELDS:
            arrays[f"{name}_{field}"] = getattr(split, field)
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def _load(path: Path) -> Built:
    with np.load(path, allow_pickle=False) as z:
        splits = {s: Split(*(z[f"{s}_{f}"] for f in _SPLIT_FIELDS)) for s in SPLITS}
        return Built(z["names"].tolist(), z["file_keys"].tolist(), splits, json.loads(str(z["stats"])))
