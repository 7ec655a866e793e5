"""``opencook lm ...``: language-model tooling. Each subpackage registers its own subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_tokenizer_train(args: argparse.Namespace) -> int:
    from opencook.tokenizer import (
        SourceStats,
        TokenizerConfig,
        bytes_per_token,
        iter_texts,
        save_tokenizer,
        train_tokenizer,
    )

    cfg = TokenizerConfig(vocab_size=args.vocab_size, min_frequency=args.min_frequency,
                          max_docs=args.max_docs, seed=args.seed)
    stats = SourceStats()
    tok = train_tokenizer(args.sources, cfg, progress=not args.quiet, stats=stats)
    out = save_tokenizer(tok, Path(args.out))
    n_bytes, n_tokens = bytes_per_token(tok, iter_texts(args.sources, max_docs=cfg.max_docs, seed=cfg.seed))
    print(f"tokenizer: vocab {tok.get_vocab_size()} ({len(cfg.special_tokens)} special tokens)")
    replaced = f", {stats.replaced_files} with invalid UTF-8 replaced" if stats.replaced_files else ""
    print(f"  read {stats.docs} docs from {stats.files} file(s){replaced}; {n_bytes / 1e6:.2f} MB")
    print(f"  compression on the training data: {n_bytes / max(n_tokens, 1):.2f} bytes/token "
          f"({n_tokens} tokens)")
    print(f"saved: {out}")
    return 0


def add_parser(sub) -> None:
    lm = sub.add_parser("lm", help="language-model training").add_subparsers(dest="lm_command", required=True)
    tk = lm.add_parser("tokenizer", help="the BPE tokenizer").add_subparsers(dest="tokenizer_command",
                                                                           required=True)
    train = tk.add_parser("train", help="train a byte-level BPE on a dataset or code files")
    train.add_argument("sources", nargs="+", help="dataset folders, Parquet/JSONL files, or code files/folders")
    train.add_argument("--out", required=True, help="directory for the Hugging Face tokenizer files")
    train.add_argument("--vocab-size", type=int, default=32768)
    train.add_argument("--min-frequency", type=int, default=2)
    train.add_argument("--max-docs", type=int, default=None, help="train on at most this many documents")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_tokenizer_train)

    from opencook.cli.lm_data import add_parser as add_data
    from opencook.cli.lm_generate import add_parser as add_generate
    from opencook.cli.lm_hf import add_parser as add_hf
    from opencook.cli.lm_train import add_parser as add_train

    for add in (add_data, add_train, add_hf, add_generate):
        add(lm)
