"""SFT data on disk: every example's ids and loss mask back to back, with offsets; built from a weighted
mixture of JSONL/Parquet sources, decontaminated, with every dropped row counted by reason.

A build reads each source (``sft_sources``), drops the rows it cannot use -- ``malformed`` (a row that is
not a valid example: wrong types, unknown role, no assistant turn), ``empty`` (a blank instruction, answer
or turn), ``contaminated`` (overlaps HumanEval/MBPP by the pipeline's decontamination index) and
``too_long`` (no answer token left within ``max_len``) -- and tokenises the rest into a pool; the mixture
(``sft_mix``) then decides how many rows of each source go out, and which. Examples longer than
``max_len`` are truncated and counted. JSON that does not parse or a Parquet file that cannot be read is an
error naming the file: that is a corrupt download, not a row to skip."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from opencook.kit.io import Dataset, atomic_write, is_dataset_file, sha256_file
from opencook.kit.progress import track
from opencook.lm.data.chat import encode_turns, tokenizer_with
from opencook.lm.data.files import check_file, read_meta, save_npy, start_build, token_dtype, write_meta
from opencook.lm.data.sft_mix import choose, targets
from opencook.lm.data.sft_sources import (
    SFTMixConfig,
    SFTSourceConfig,
    check_shape,
    conversation_text,
    row_messages,
)

FORMAT = "opencook-sft"
VERSION = 1
PAD_TOKEN = "<|pad|>"
REBUILD = "opencook lm data sft SOURCES... --tokenizer DIR --max-len N"
FILES = ("tokens.bin", "mask.bin", "offsets.npy")
POOL = ("pool_tokens.bin.tmp", "pool_mask.bin.tmp")
DROP_REASONS = ("malformed", "empty", "contaminated", "too_long")


def _dataset_files(path: str | Path) -> list[Path]:
    from opencook.tokenizer.sources import resolve_files

    files = resolve_files([path])
    wrong = [str(p) for p in files if not is_dataset_file(p)]
    if wrong:
        raise ValueError(f"SFT sources must be JSONL (.jsonl, .jsonl.gz, .jsonl.zst) or Parquet files, "
                         f"got {wrong[:5]}")
    return files


def as_mix(sources: Sequence[str | Path] | SFTMixConfig) -> SFTMixConfig:
    """Plain paths are a mixture of sources used once each (``repeat: 1``)."""
    if isinstance(sources, SFTMixConfig):
        return sources
    return SFTMixConfig(sources=[SFTSourceConfig(path=str(s), name=str(s)) for s in sources])


def build_sft(sources: Sequence[str | Path] | SFTMixConfig, tokenizer: str | Path, out: str | Path, *,
              max_len: int, progress: bool = True, decontaminate: bool | None = None) -> dict:
    """Tokenise the examples of ``sources`` (paths, or a ``SFTMixConfig``) into ``out``; returns the
    ``meta.json`` contents. ``decontaminate`` overrides the mixture's setting (on by default)."""
    if max_len < 2:
        raise ValueError(f"max_len={max_len} must be >= 2")
    mix = as_mix(sources)
    if decontaminate is not None:
        mix = dataclasses.replace(mix, decontaminate=decontaminate)
    tok, pad, tok_file = tokenizer_with(tokenizer, PAD_TOKEN)
    vocab_size = tok.get_vocab_size()
    dtype = token_dtype(vocab_size)
    files = [_dataset_files(s.path) for s in mix.sources]
    for fs in files:  # a file of neither shape (or an unreadable one) is refused before any work
        for f in fs:
            check_shape(f)
    index = None
    if mix.decontaminate:
        from opencook.benchmarks.decontam import shared_index

        index = shared_index(mix.decontam)
    out = Path(out)
    start_build(out, FILES)

    pool_offsets = [0]
    pool_loss: list[int] = []
    spans: list[tuple[int, int]] = []  # each source's examples in the pool
    report: list[dict] = []
    drop_examples: dict[str, str] = {}
    with open(out / POOL[0], "wb") as ftok, open(out / POOL[1], "wb") as fmask:
        for i, source in enumerate(mix.sources):
            first = len(pool_offsets) - 1
            drops: Counter = Counter()
            hits: Counter = Counter()
            shape_rows: Counter = Counter()
            rows = truncated = 0
            for where, row in track(_rows(files[i]), None, f"sft {source.name}", "row", enabled=progress):
                rows += 1
                shape_rows["messages" if "messages" in row else "instruction"] += 1
                messages, reason, detail = row_messages(row)
                if messages is not None and index is not None:
                    hit = index.match(conversation_text(messages))
                    if hit is not None:
                        reason, detail = "contaminated", str(hit)
                        hits[hit.reason] += 1
                if messages is not None and not reason:
                    ids, mask = encode_turns(tok, messages)
                    if len(ids) > max_len:
                        truncated += 1
                        ids, mask = ids[:max_len], mask[:max_len]
                    loss = sum(mask[1:])
                    if loss == 0:
                        reason, detail = "too_long", f"no answer token within max_len={max_len}"
                if reason:
                    drops[reason] += 1
                    drop_examples.setdefault(reason, f"{where}: {detail}")
                    continue
                ftok.write(np.array(ids, dtype=dtype).tobytes())
                fmask.write(np.array(mask, dtype=np.uint8).tobytes())
                pool_offsets.append(pool_offsets[-1] + len(ids))
                pool_loss.append(loss)
            spans.append((first, len(pool_offsets) - 1))
            report.append({"name": source.name, "path": source.path, "files": len(files[i]),
                           "shapes": dict(sorted(shape_rows.items())),
                           "rows": rows, "kept": len(pool_offsets) - 1 - first, "truncated": truncated,
                           "drops": {r: drops[r] for r in DROP_REASONS}, "contaminated_by": dict(sorted(hits.items())),
                           "weight": source.weight, "repeat": source.repeat})
    totals = {r: sum(s["drops"][r] for s in report) for r in DROP_REASONS}
    rows_in = sum(s["rows"] for s in report)
    if len(pool_offsets) == 1:
        for name in POOL:
            (out / name).unlink()
        raise ValueError(f"no usable SFT examples in {[s.path for s in mix.sources]} ({rows_in} rows, "
                         f"{totals['too_long']} with no assistant token left within max_len={max_len}, "
                         f"{totals['malformed']} malformed, {totals['empty']} empty, {totals['contaminated']} "
                         "contaminated): give JSONL/Parquet rows with 'messages' or 'instruction'/'output', "
                         "or raise --max-len")

    wanted = targets(mix.sources, [s["kept"] for s in report], mix.total)
    chosen = [choose(s["kept"], t, mix.seed, i) for i, (s, t) in enumerate(zip(report, wanted, strict=True))]
    picks = np.concatenate([first + c for (first, _), c in zip(spans, chosen, strict=True)])
    if not len(picks):
        raise ValueError("the mixture gives no rows: raise the weights' total or the repeats")
    offsets = _write_mixture(out, np.array(pool_offsets, dtype=np.int64), picks, dtype)
    start = 0
    for s, c in zip(report, chosen, strict=True):
        s.update(rows_out=len(c), first_example=start, epochs=round(len(c) / s["kept"], 4) if s["kept"] else 0.0)
        start += len(c)
    lengths = np.diff(offsets)
    loss = int(np.array(pool_loss, dtype=np.int64)[picks].sum())
    meta = {
        "format": FORMAT, "version": VERSION, "dtype": dtype.name, "vocab_size": vocab_size, "pad_id": pad,
        "tokenizer": str(tokenizer), "tokenizer_sha256": sha256_file(tok_file), "max_len": max_len,
        "n_examples": len(offsets) - 1, "n_tokens": int(offsets[-1]), "n_loss_tokens": loss,
        "longest": int(lengths.max()), "lines": rows_in, "truncated": sum(s["truncated"] for s in report),
        "dropped_no_loss": totals["too_long"], "drops": totals, "drop_examples": drop_examples,
        "decontam": (dataclasses.asdict(mix.decontam) | {"index_ngrams": len(index)}) if index is not None else None,
        "seed": mix.seed, "total": mix.total, "mixture": report, "sources": [s.path for s in mix.sources],
        "files": {name: sha256_file(out / name) for name in FILES},
    }
    write_meta(out, meta)
    return meta


def _rows(files: list[Path]) -> Iterable[tuple[str, dict]]:
    for file in files:
        yield from Dataset(file).located_records()


def _write_mixture(out: Path, pool: np.ndarray, picks: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Copy the ``picks`` pool examples, in order, into ``tokens.bin``/``mask.bin``; the pool files become
    the output as they are when every source gives each kept row once."""
    if len(picks) == len(pool) - 1 and np.array_equal(picks, np.arange(len(picks))):
        os.replace(out / POOL[0], out / "tokens.bin")
        os.replace(out / POOL[1], out / "mask.bin")
        offsets = pool
    else:
        n = int(pool[-1])
        ptok = np.memmap(out / POOL[0], dtype=dtype, mode="r", shape=(n,)) if n else np.empty(0, dtype)
        pmask = np.memmap(out / POOL[1], dtype=np.uint8, mode="r", shape=(n,)) if n else np.empty(0, np.uint8)
        lengths = (pool[1:] - pool[:-1])[picks]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        with atomic_write(out / "tokens.bin", "wb") as ftok, atomic_write(out / "mask.bin", "wb") as fmask:
            for k in picks:
                lo, hi = int(pool[k]), int(pool[k + 1])
                ftok.write(ptok[lo:hi].tobytes())
                fmask.write(pmask[lo:hi].tobytes())
        del ptok, pmask
        for name in POOL:
            (out / name).unlink()
    save_npy(offsets, out / "offsets.npy")
    return offsets


class SFTDataset:
    """Read-only view of a ``build_sft`` folder; checks the files exist with the sizes ``meta.json`` implies."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.meta = read_meta(self.path, FORMAT, VERSION, REBUILD)
        self.dtype = np.dtype(self.meta["dtype"])
        self.vocab_size: int = self.meta["vocab_size"]
        self.pad_id: int = self.meta["pad_id"]
        n = self.meta["n_tokens"]
        check_file(self.path / "tokens.bin", n * self.dtype.itemsize, REBUILD)
        check_file(self.path / "mask.bin", n, REBUILD)
        if not (self.path / "offsets.npy").is_file():
            raise FileNotFoundError(f"{self.path / 'offsets.npy'} is missing: rerun `{REBUILD}` with --out {self.path}")
        self.offsets = np.load(self.path / "offsets.npy")
        if len(self.offsets) != self.meta["n_examples"] + 1 or int(self.offsets[-1]) != n:
            raise ValueError(f"{self.path / 'offsets.npy'} does not match meta.json: "
                             f"rerun `{REBUILD}` with --out {self.path}")
        self._tokens = np.memmap(self.path / "tokens.bin", dtype=self.dtype, mode="r", shape=(n,))
        self._mask = np.memmap(self.path / "mask.bin", dtype=np.uint8, mode="r", shape=(n,))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def example(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids as int64, mask as uint8) of example ``i``."""
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return self._tokens[lo:hi].astype(np.int64), np.asarray(self._mask[lo:hi])

    def verify(self) -> None:
        """Recompute the files' sha256 and compare with ``meta.json``."""
        for name, digest in self.meta["files"].items():
            if sha256_file(self.path / name) != digest:
                raise ValueError(f"{self.path / name} does not match its sha256 in meta.json (corrupted): "
                                 f"rerun `{REBUILD}` with --out {self.path}")
