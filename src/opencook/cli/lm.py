"""``opencook lm ...``: language-model tooling. Each subpackage registers its own subcommands."""

from __future__ import annotations

import argparse

from opencook.cli.flags import add_common, add_out, dataset_input, input_name, out_dir, positive
from opencook.cli.remote_out import local_out


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
    target = out_dir(args, "lm", "tokenizer", input_name(args.sources[0]))
    with local_out(target) as folder:  # a remote --out: its local copy, uploaded after
        save_tokenizer(tok, folder)
    n_bytes, n_tokens = bytes_per_token(tok, iter_texts(args.sources, max_docs=cfg.max_docs, seed=cfg.seed))
    print(f"tokenizer: vocab {tok.get_vocab_size()} ({len(cfg.special_tokens)} special tokens)")
    replaced = f", {stats.replaced_files} with invalid UTF-8 replaced" if stats.replaced_files else ""
    print(f"  read {stats.docs} docs from {stats.files} file(s){replaced}; {n_bytes / 1e6:.2f} MB")
    print(f"  compression on the training data: {n_bytes / max(n_tokens, 1):.2f} bytes/token "
          f"({n_tokens} tokens)")
    print(f"saved: {target}")
    return 0


def add_parser(sub) -> None:
    lm = sub.add_parser("lm", help="language-model training").add_subparsers(dest="lm_command", required=True)
    tk = lm.add_parser("tokenizer", help="the BPE tokenizer").add_subparsers(dest="tokenizer_command",
                                                                           required=True)
    train = tk.add_parser("train", help="train a byte-level BPE on a dataset or code files")
    train.add_argument("sources", nargs="+", type=dataset_input,
                       help="dataset folders, Parquet/JSONL files, or code files/folders (local or fsspec URLs)")
    add_out(train, "runs/lm/tokenizer-<first input name>", "folder for the Hugging Face tokenizer files")
    train.add_argument("--vocab-size", type=positive, default=32768, help="tokens in the vocabulary")
    train.add_argument("--min-frequency", type=positive, default=2, help="merges seen fewer times are not learnt")
    train.add_argument("--max-docs", type=positive, default=None,
                       help="train on at most this many documents (default: all)")
    train.add_argument("--seed", type=int, default=0, help="seed of the document sample")
    add_common(train)
    train.set_defaults(func=cmd_tokenizer_train, remote_out=True)

    from opencook.cli.lm_data import add_parser as add_data
    from opencook.cli.lm_generate import add_parser as add_generate
    from opencook.cli.lm_hf import add_parser as add_hf
    from opencook.cli.lm_train import add_parser as add_train

    for add in (add_data, add_train, add_hf, add_generate):
        add(lm)
