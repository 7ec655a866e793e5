"""``opencook lm data build|sft``: tokenise a dataset into packed shards, or an SFT mixture into masked examples."""

from __future__ import annotations

import argparse
import time

from opencook.cli.flags import (
    add_common,
    add_out,
    add_set,
    dataset_input,
    existing,
    input_name,
    out_dir,
    positive,
)
from opencook.cli.remote_out import local_folder, local_out
from opencook.kit.config import ConfigError


def cmd_build(args: argparse.Namespace) -> int:
    from opencook.lm.data.packed import build_packed

    args.out = str(out_dir(args, "lm", "data-build", input_name(args.sources[0])))
    t0 = time.perf_counter()
    with local_out(args.out) as folder:  # a remote --out: its local copy, uploaded after
        meta = build_packed(args.sources, local_folder(args.tokenizer), folder, shard_tokens=args.shard_tokens,
                            progress=not args.quiet, max_docs=args.max_docs)
    secs = max(time.perf_counter() - t0, 1e-9)
    mb, tokens = meta["bytes_read"] / 1e6, meta["n_tokens"]
    replaced = f", {meta['replaced_files']} with invalid UTF-8 replaced" if meta["replaced_files"] else ""
    print(f"packed: {meta['n_docs']} docs from {meta['files_read']} file(s){replaced}; {mb:.2f} MB of text")
    print(f"  {tokens} tokens ({meta['dtype']}, vocab {meta['vocab_size']}), "
          f"{meta['bytes_read'] / max(tokens, 1):.2f} bytes/token, {len(meta['shards'])} shard(s)")
    print(f"  {secs:.1f} s: {mb / secs:.2f} MB/s, {tokens / secs / 1e6:.2f} M tokens/s")
    print(f"saved: {args.out}")
    return 0


def cmd_sft(args: argparse.Namespace) -> int:
    from opencook.kit.config import blame_overrides, parse_set_pairs
    from opencook.lm.data.sft import DROP_REASONS, build_sft
    from opencook.lm.data.sft_sources import load_mix

    if bool(args.sources) == bool(args.mix):
        raise ConfigError("give SOURCES... or --mix FILE (one of them)")
    if args.set and not args.mix:
        raise ConfigError("--set changes the --mix file's settings: add --mix FILE, or drop --set")
    sources = (blame_overrides(lambda o: load_mix(args.mix, o), parse_set_pairs(args.set), str(args.mix))
               if args.mix else args.sources)
    args.out = str(out_dir(args, "lm", "data-sft", input_name(args.mix or args.sources[0])))
    t0 = time.perf_counter()
    with local_out(args.out) as folder:  # a remote --out: its local copy, uploaded after
        meta = build_sft(sources, local_folder(args.tokenizer), folder, max_len=args.max_len,
                         progress=not args.quiet, decontaminate=False if args.no_decontam else None)
    secs = max(time.perf_counter() - t0, 1e-9)
    print(f"sft: {meta['n_examples']} examples from {meta['lines']} lines; {meta['n_tokens']} tokens, "
          f"{meta['n_loss_tokens']} with loss ({meta['n_loss_tokens'] / meta['n_tokens']:.0%})")
    print(f"  longest {meta['longest']} tokens; {meta['truncated']} truncated to --max-len {meta['max_len']}, "
          f"{meta['dropped_no_loss']} dropped (no answer token left); {secs:.1f} s")
    decontam = meta["decontam"]
    print("  decontamination: " + (f"{'+'.join(decontam['benchmarks'] + decontam['extra_paths'])}, "
                                   f"{decontam['ngram']}-grams" if decontam else "off (--no-decontam)"))
    print(f"  {'source':<28} {'shape':<20} {'rows':>9} {'kept':>9} " + " ".join(f"{r:>12}" for r in DROP_REASONS)
          + f" {'out':>9} {'epochs':>7}")
    for s in meta["mixture"]:
        print(f"  {s['name'][-28:]:<28} {'+'.join(s['shapes']) or '-':<20} {s['rows']:>9} {s['kept']:>9} "
              + " ".join(f"{s['drops'][r]:>12}" for r in DROP_REASONS) + f" {s['rows_out']:>9} {s['epochs']:>7.2f}")
    for reason, where in meta["drop_examples"].items():
        print(f"  first {reason}: {where[:200]}")
    print(f"saved: {args.out}")
    return 0


def add_parser(lm_sub) -> None:
    """Register ``opencook lm data ...`` on ``lm_sub`` (an argparse subparsers object)."""
    data = lm_sub.add_parser("data", help="tokenised training data").add_subparsers(dest="data_command",
                                                                                   required=True)
    build = data.add_parser("build", help="tokenise documents into packed shards for pretraining")
    build.add_argument("sources", nargs="+", type=dataset_input,
                       help="dataset folders, Parquet/JSONL files (column 'text'), code files; local or fsspec URLs")
    build.add_argument("--tokenizer", required=True, type=dataset_input,
                       help="tokenizer folder from `opencook lm tokenizer train`")
    add_out(build, "runs/lm/data-build-<first input name>", "output folder (shards + meta.json)")
    build.add_argument("--shard-tokens", type=positive, default=50_000_000, help="tokens per shard")
    build.add_argument("--max-docs", type=positive, default=None,
                       help="tokenise at most this many documents (default: all)")
    add_common(build)
    build.set_defaults(func=cmd_build, remote_out=True)

    sft = data.add_parser("sft", help="tokenise SFT examples (JSONL/Parquet, a weighted mixture) with a loss mask")
    sft.add_argument("sources", nargs="*", type=dataset_input, help="JSONL/Parquet files or folders, each used once: 'messages' or "
                                                "'instruction'/'output' per row (OpenCoder's opc-sft-stage1/2)")
    sft.add_argument("--mix", default=None, type=existing,
                     help="a mixture YAML instead of SOURCES: sources with weight or repeat, seed, total, decontam "
                          "(docs/lm_data.md; default: SOURCES, each used once)")
    add_set(sft)
    sft.add_argument("--tokenizer", required=True, type=dataset_input,
                     help="tokenizer folder from `opencook lm tokenizer train`")
    add_out(sft, "runs/lm/data-sft-<mix or first source name>",
            "output folder (tokens.bin, mask.bin, offsets.npy, meta.json)")
    sft.add_argument("--max-len", type=positive, required=True, help="truncate examples to this many tokens")
    sft.add_argument("--no-decontam", action="store_true",
                     help="keep rows that overlap HumanEval/MBPP (decontamination is on by default)")
    add_common(sft)
    sft.set_defaults(func=cmd_sft, remote_out=True)
