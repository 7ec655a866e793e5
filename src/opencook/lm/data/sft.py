"""SFT data on disk: every example's ids and loss mask back to back, with offsets.

A malformed line (bad JSON, missing keys, unknown role, no assistant turn) stops the build with its
``file:line``: silently dropping data hides bugs in the pipeline that made it. Examples longer than
``max_len`` are truncated; one whose truncation leaves no loss token is dropped. Both are counted."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from opencook.kit.io import Dataset, atomic_write, is_dataset_file, sha256_file
from opencook.lm.data.chat import encode_turns, example_messages, tokenizer_with
from opencook.lm.data.files import check_file, read_meta, save_npy, start_build, token_dtype, write_meta

FORMAT = "opencook-sft"
VERSION = 1
PAD_TOKEN = "<|pad|>"
REBUILD = "opencook lm data sft JSONL... --tokenizer DIR --max-len N"
FILES = ("tokens.bin", "mask.bin", "offsets.npy")


def _dataset_files(sources: Sequence[str | Path]) -> list[Path]:
    from opencook.tokenizer.sources import resolve_files

    files = resolve_files(sources)
    wrong = [str(p) for p in files if not is_dataset_file(p)]
    if wrong:
        raise ValueError(f"SFT sources must be JSONL (.jsonl, .jsonl.gz, .jsonl.zst) or Parquet files, "
                         f"got {wrong[:5]}")
    return files


def _examples(files: list[Path]) -> Iterator[tuple[str, dict]]:
    """(``file:line``, example) for every record (a bad JSON line is a ``file:line`` error)."""
    for path in files:
        yield from Dataset(path).located_records()


def build_sft(sources: Sequence[str | Path], tokenizer: str | Path, out: str | Path, *, max_len: int,
              progress: bool = True) -> dict:
    """Tokenise the JSONL examples of ``sources`` (see ``render_sft_example``) into ``out``; returns the
    ``meta.json`` contents."""
    if max_len < 2:
        raise ValueError(f"max_len={max_len} must be >= 2")
    tok, pad, tok_file = tokenizer_with(tokenizer, PAD_TOKEN)
    vocab_size = tok.get_vocab_size()
    dtype = token_dtype(vocab_size)
    files = _dataset_files(sources)
    out = Path(out)
    start_build(out, FILES)

    examples: Iterable[tuple[str, dict]] = _examples(files)
    if progress:
        from tqdm import tqdm

        examples = tqdm(examples, desc="sft", unit="example")
    offsets = [0]
    counts = {"lines": 0, "truncated": 0, "dropped_no_loss": 0, "loss_tokens": 0, "longest": 0}
    with atomic_write(out / "tokens.bin", "wb") as ftok, atomic_write(out / "mask.bin", "wb") as fmask:
        for where, example in examples:
            counts["lines"] += 1
            try:
                ids, mask = encode_turns(tok, example_messages(example))
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            if len(ids) > max_len:
                counts["truncated"] += 1
                ids, mask = ids[:max_len], mask[:max_len]
            loss = sum(mask[1:])
            if loss == 0:
                counts["dropped_no_loss"] += 1
                continue
            ftok.write(np.array(ids, dtype=dtype).tobytes())
            fmask.write(np.array(mask, dtype=np.uint8).tobytes())
            offsets.append(offsets[-1] + len(ids))
            counts["loss_tokens"] += loss
            counts["longest"] = max(counts["longest"], len(ids))
        if len(offsets) == 1:
            raise ValueError(f"no usable SFT examples in {[str(s) for s in sources]} ({counts['lines']} lines, "
                             f"{counts['dropped_no_loss']} with no assistant token left within "
                             f"max_len={max_len}): give JSONL with 'messages' or 'instruction'/'output', "
                             "or raise --max-len")
    save_npy(np.array(offsets, dtype=np.int64), out / "offsets.npy")
    meta = {
        "format": FORMAT, "version": VERSION, "dtype": dtype.name, "vocab_size": vocab_size, "pad_id": pad,
        "tokenizer": str(tokenizer), "tokenizer_sha256": sha256_file(tok_file), "max_len": max_len,
        "n_examples": len(offsets) - 1, "n_tokens": offsets[-1], "n_loss_tokens": counts["loss_tokens"],
        "longest": counts["longest"], "lines": counts["lines"], "truncated": counts["truncated"],
        "dropped_no_loss": counts["dropped_no_loss"], "sources": [str(s) for s in sources],
        "files": {name: sha256_file(out / name) for name in FILES},
    }
    write_meta(out, meta)
    return meta


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
