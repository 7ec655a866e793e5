"""``opencook lm data build|sft``: tokenise a dataset into packed shards, or SFT JSONL into masked examples."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def cmd_build(args: argparse.Namespace) -> int:
    from opencook.lm.data.packed import build_packed

    t0 = time.perf_counter()
    meta = build_packed(args.sources, args.tokenizer, args.out, shard_tokens=args.shard_tokens,
                        progress=not args.quiet, max_docs=args.max_docs)
    secs = max(time.perf_counter() - t0, 1e-9)
    mb, tokens = meta["bytes_read"] / 1e6, meta["n_tokens"]
    replaced = f", {meta['replaced_files']} with invalid UTF-8 replaced" if meta["replaced_files"] else ""
    print(f"packed: {meta['n_docs']} docs from {meta['files_read']} file(s){replaced}; {mb:.2f} MB of text")
    print(f"  {tokens} tokens ({meta['dtype']}, vocab {meta['vocab_size']}), "
          f"{meta['bytes_read'] / max(tokens, 1):.2f} bytes/token, {len(meta['shards'])} shard(s)")
    print(f"  {secs:.1f} s: {mb / secs:.2f} MB/s, {tokens / secs / 1e6:.2f} M tokens/s")
    print(f"saved: {Path(args.out)}")
    return 0


def cmd_sft(args: argparse.Namespace) -> int:
    from opencook.lm.data.sft import build_sft

    t0 = time.perf_counter()
    meta = build_sft(args.sources, args.tokenizer, args.out, max_len=args.max_len, progress=not args.quiet)
    secs = max(time.perf_counter() - t0, 1e-9)
    print(f"sft: {meta['n_examples']} examples from {meta['lines']} lines; {meta['n_tokens']} tokens, "
          f"{meta['n_loss_tokens']} with loss ({meta['n_loss_tokens'] / meta['n_tokens']:.0%})")
    print(f"  longest {meta['longest']} tokens; {meta['truncated']} truncated to --max-len {meta['max_len']}, "
          f"{meta['dropped_no_loss']} dropped (no answer token left); {secs:.1f} s")
    print(f"saved: {Path(args.out)}")
    return 0


def add_parser(lm_sub) -> None:
    """Register ``opencook lm data ...`` on ``lm_sub`` (an argparse subparsers object)."""
    data = lm_sub.add_parser("data", help="tokenised training data").add_subparsers(dest="data_command",
                                                                                   required=True)
    build = data.add_parser("build", help="tokenise documents into packed shards for pretraining")
    build.add_argument("sources", nargs="+", help="dataset folders, Parquet/JSONL files (column 'text'), code files")
    build.add_argument("--tokenizer", required=True, help="tokenizer folder from `opencook lm tokenizer train`")
    build.add_argument("--out", required=True, help="output folder (shards + meta.json)")
    build.add_argument("--shard-tokens", type=int, default=50_000_000, help="tokens per shard")
    build.add_argument("--max-docs", type=int, default=None, help="tokenise at most this many documents")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=cmd_build)

    sft = data.add_parser("sft", help="tokenise ChatML SFT examples (JSONL) with a loss mask")
    sft.add_argument("sources", nargs="+", help="JSONL files (or folders of them): 'messages' or "
                                                "'instruction'/'output' per line")
    sft.add_argument("--tokenizer", required=True, help="tokenizer folder from `opencook lm tokenizer train`")
    sft.add_argument("--out", required=True, help="output folder (tokens.bin, mask.bin, offsets.npy, meta.json)")
    sft.add_argument("--max-len", type=int, required=True, help="truncate examples to this many tokens")
    sft.add_argument("--quiet", action="store_true", help="no progress bar")
    sft.set_defaults(func=cmd_sft)
