"""Train a byte-level BPE with a GPT-4 (cl100k) style pre-tokenizer, and encode/decode losslessly."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from opencook.kit.progress import track
from opencook.tokenizer.config import TokenizerConfig
from opencook.tokenizer.sources import SourceStats, iter_texts

GPT4_SPLIT_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                      r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

BATCH_DOCS = 1000


def empty_tokenizer() -> Tokenizer:
    """An untrained BPE with the split → byte-level pipeline; no unknown token, since every byte has one."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GPT4_SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    return tok


def _batches(texts: Iterable[str], size: int = BATCH_DOCS) -> Iterator[list[str]]:
    it = iter(texts)
    while batch := list(islice(it, size)):
        yield batch


def train_tokenizer(sources: Sequence[str | Path], cfg: TokenizerConfig | None = None, *,
                    progress: bool = True, stats: SourceStats | None = None) -> Tokenizer:
    """Train on the texts of ``sources`` (see ``iter_texts``). Special tokens get ids 0.. in config order,
    then the 256 byte tokens, then merges; ``stats`` (if given) is filled with what was read."""
    cfg = cfg or TokenizerConfig()
    stats = stats if stats is not None else SourceStats()
    tok = empty_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency, special_tokens=list(cfg.special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    texts = iter_texts(sources, max_docs=cfg.max_docs, seed=cfg.seed, stats=stats)
    texts = track(texts, cfg.max_docs, "tokenizer: reading", "doc", enabled=progress)
    tok.train_from_iterator(_batches(texts), trainer=trainer)
    if stats.docs == 0:
        raise ValueError(f"no training text found in {[str(s) for s in sources]}: "
                         "give Parquet/JSONL files with a 'text' column, a dataset folder, or code files")
    return tok


def encode(tok: Tokenizer, text: str, *, special: bool = False) -> list[int]:
    """Token ids of ``text``. With ``special=False`` (for raw data) a literal ``<|im_end|>`` inside code is
    split like any other text; with ``special=True`` (for prompts we build) it becomes its reserved id.
    Either way ``decode`` gives back ``text`` exactly."""
    previous = tok.encode_special_tokens
    tok.encode_special_tokens = not special
    try:
        return tok.encode(text, add_special_tokens=False).ids
    finally:
        tok.encode_special_tokens = previous


def decode(tok: Tokenizer, ids: Sequence[int]) -> str:
    """The exact text of ``ids``, special tokens included (``Tokenizer.decode`` drops them by default)."""
    return tok.decode(list(ids), skip_special_tokens=False)


def bytes_per_token(tok: Tokenizer, texts: Iterable[str]) -> tuple[int, int]:
    """(UTF-8 bytes, tokens) over ``texts`` encoded as raw data; their ratio is the compression."""
    n_bytes = n_tokens = 0
    previous = tok.encode_special_tokens
    tok.encode_special_tokens = True
    try:
        for batch in _batches(texts):
            n_bytes += sum(len(t.encode("utf-8")) for t in batch)
            n_tokens += sum(len(e.ids) for e in tok.encode_batch(batch, add_special_tokens=False))
    finally:
        tok.encode_special_tokens = previous
    return n_bytes, n_tokens
