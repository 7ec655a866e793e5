"""The evaluation backend for a model in this process: a Hugging Face LLaMA directory or a training run.

It meets ``opencook.completions.backends.Backend``, so evaluation and synthetic data never import the model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from opencook.completions.backends import Batch, Sample
from opencook.completions.sampling import Sampling


class CheckpointError(ValueError):
    """A training run that cannot be evaluated as it is: the message says how to export it."""


def _sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def _served_from_checkpoint(path: Path, dtype):
    """A training run or checkpoint, with the tokenizer (and chat template) its ``trainer.json`` names."""
    from opencook.lm.generate.decoding import default_eos_ids
    from opencook.lm.generate.served import ServedModel
    from opencook.lm.train.checkpoint import load_model_for_export
    from opencook.tokenizer import load_tokenizer

    model, state = load_model_for_export(path)
    tok_dir = state.get("tokenizer") if isinstance(state, dict) else None
    if not tok_dir:
        raise CheckpointError(f"{path} names no tokenizer in its trainer.json: export it with "
                           "`opencook lm export-hf RUN --tokenizer DIR --out HFDIR` and evaluate HFDIR")
    tokenizer = load_tokenizer(tok_dir)
    cfg_file = Path(tok_dir) / "tokenizer_config.json"
    tok_cfg = json.loads(cfg_file.read_text()) if cfg_file.is_file() else {}
    template = tok_cfg.get("chat_template")
    if dtype is not None:
        model = model.to(dtype)
    return ServedModel(model=model.eval(), tokenizer=tokenizer, name=path.resolve().name,
                       chat_template=template if isinstance(template, str) else None,
                       eos_ids=default_eos_ids(tokenizer),
                       template_vars={k: tok_cfg[k] for k in ("bos_token", "eos_token") if isinstance(tok_cfg.get(k), str)})


class InProcessBackend:
    """A Hugging Face LLaMA directory or an opencook training run/checkpoint, generated with ``generate``."""

    def __init__(self, path: str | Path, *, dtype=None) -> None:
        from opencook.lm.generate.served import load_served_model

        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"--model {self.path} does not exist: pass a Hugging Face LLaMA directory "
                                    "(config.json + model.safetensors + tokenizer.json) or a training run")
        if (self.path / "config.json").is_file():
            self.served = load_served_model(self.path, dtype=dtype)
            jinja = self.path / "chat_template.jinja"  # transformers >= 4.43 may keep the template in its own file
            if self.served.chat_template is None and jinja.is_file():
                self.served.chat_template = jinja.read_text(encoding="utf-8")
        else:
            self.served = _served_from_checkpoint(self.path, dtype)

    def _prompt_ids(self, batch: Batch) -> list[list[int]] | list[str]:
        from opencook.lm.generate.chat import render_messages
        from opencook.tokenizer import encode

        if batch.prompts is not None:
            return list(batch.prompts)
        s = self.served
        return [encode(s.tokenizer, render_messages(c, s.chat_template, s.template_vars), special=True)
                for c in batch.conversations]

    def run(self, batch: Batch, sampling: Sampling) -> list[Sample]:
        from opencook.lm.generate.decoding import generate
        from opencook.tokenizer import encode

        s = self.served
        prompts = self._prompt_ids(batch)
        longest = max(len(p) if isinstance(p, list) else len(encode(s.tokenizer, p, special=True)) for p in prompts)
        room = s.model.cfg.max_seq_len - longest
        if room < 1:
            raise ValueError(f"a prompt of batch {batch.index} is {longest} tokens, which fills the model's context "
                             f"of {s.model.cfg.max_seq_len}: evaluate a model with a longer context")
        eos = s.eos_ids if batch.prompts is not None else s.chat_eos_ids
        row = replace(sampling, n=1, max_new_tokens=min(sampling.max_new_tokens, room), stop=batch.stop,
                      seed=batch.seed)  # the batch's rows already repeat each prompt n times
        out = generate(s.model, s.tokenizer, prompts, row, eos_ids=eos)
        return [Sample(c.text, c.finish_reason) for c in out]

    def record(self) -> dict:
        s, cfg = self.served, self.served.model.cfg
        return {"type": "in-process", "model": str(self.path.resolve()), "name": s.name,
                "dtype": str(s.model.embed_tokens.weight.dtype).removeprefix("torch."),
                "parameters": sum(p.numel() for p in s.model.parameters()), "context": cfg.max_seq_len,
                "eos_ids": s.eos_ids, "chat_eos_ids": s.chat_eos_ids,
                "chat_template_sha256": _sha256(s.chat_template),
                "chat_template": "model's own" if s.chat_template else "built-in ChatML (render_chat)"}
