"""A model directory made ready to serve: weights, tokenizer, chat template and stop tokens, one lock."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer

from opencook.lm.generate.decoding import default_eos_ids
from opencook.lm.model.llama import Llama
from opencook.tokenizer import load_tokenizer

CHAT_END = "<|im_end|>"


@dataclass
class ServedModel:
    """Everything a request needs. ``lock`` serialises generation: one model, one batch at a time."""

    model: Llama
    tokenizer: Tokenizer
    name: str
    chat_template: str | None = None
    eos_ids: list[int] = field(default_factory=list)
    template_vars: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def chat_eos_ids(self) -> list[int]:
        """The completion EOS ids plus ``<|im_end|>``, which ends every assistant turn."""
        end = self.tokenizer.token_to_id(CHAT_END)
        return sorted(set(self.eos_ids) | ({end} if end is not None else set()))


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _eos_from_config(tokenizer: Tokenizer, model_dir: Path) -> list[int]:
    """``eos_token_id`` from generation_config.json, else config.json, else the tokenizer's defaults."""
    for name in ("generation_config.json", "config.json"):
        eos = _read_json(model_dir / name).get("eos_token_id")
        if isinstance(eos, int):
            return [eos]
        if isinstance(eos, list) and eos and all(isinstance(e, int) for e in eos):
            return list(eos)
    return default_eos_ids(tokenizer)


def load_served_model(model_dir: str | Path, *, name: str | None = None,
                      dtype: torch.dtype | None = None) -> ServedModel:
    """Load a Hugging Face LLaMA directory (config.json, model.safetensors, tokenizer.json or SentencePiece
    tokenizer.model) for serving."""
    from opencook.lm.hf import load_hf_dir

    path = Path(model_dir)
    model, _ = load_hf_dir(path, dtype=dtype)
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer.model").is_file():
        raise FileNotFoundError(f"{path} has no tokenizer.json (nor a SentencePiece tokenizer.model): export the "
                                "model with its tokenizer (save_hf_dir(..., tokenizer=DIR))")
    tokenizer = load_tokenizer(path)
    tok_cfg = _read_json(path / "tokenizer_config.json")
    template = tok_cfg.get("chat_template")
    jinja_file = path / "chat_template.jinja"  # where newer transformers save it (e.g. an imported SmolLM2)
    if not isinstance(template, str) and jinja_file.is_file():
        template = jinja_file.read_text(encoding="utf-8")
    names = {k: tok_cfg[k] for k in ("bos_token", "eos_token", "pad_token") if isinstance(tok_cfg.get(k), str)}
    return ServedModel(model=model.eval(), tokenizer=tokenizer, name=name or path.resolve().name,
                       chat_template=template if isinstance(template, str) else None,
                       eos_ids=_eos_from_config(tokenizer, path), template_vars=names)
