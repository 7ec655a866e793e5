"""Save/load in Hugging Face format: ``tokenizer.json`` plus the config files ``transformers`` reads (and\nSentencePiece ``tokenizer.model`` directories on load)."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer

DEFAULT_SYSTEM_PROMPT = "You are OpenCoder, created by OpenCoder Team."

CHAT_TEMPLATE = (
    "{%- if not messages or messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\n" + DEFAULT_SYSTEM_PROMPT + "<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)


def render_chat(messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
    """What ``CHAT_TEMPLATE`` renders, in Python, so training code needs no Jinja."""
    out = []
    if not messages or messages[0]["role"] != "system":
        out.append(f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n")
    out += [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


def save_tokenizer(tok: Tokenizer, out_dir: str | Path, *, model_max_length: int = 8192,
                   bos_token: str = "<|endoftext|>", eos_token: str = "<|endoftext|>",
                   pad_token: str = "<|pad|>") -> Path:
    """Write ``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json``. Byte-level BPE
    has no unknown token, so ``unk_token`` is null. A chat model overrides ``eos_token`` with ``<|im_end|>``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in (bos_token, eos_token, pad_token):
        if tok.token_to_id(name) is None:
            raise ValueError(f"{name!r} is not in the tokenizer's vocabulary; train with it as a special token")
    tok.save(str(out / "tokenizer.json"))
    added = {str(i): {"content": t.content, "lstrip": t.lstrip, "rstrip": t.rstrip, "normalized": t.normalized,
                      "single_word": t.single_word, "special": t.special}
             for i, t in sorted(tok.get_added_tokens_decoder().items())}
    specials = {"bos_token": bos_token, "eos_token": eos_token, "pad_token": pad_token, "unk_token": None}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": model_max_length,
        **specials,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "additional_special_tokens": [t["content"] for t in added.values()
                                      if t["content"] not in specials.values()],
        "added_tokens_decoder": added,
        "chat_template": CHAT_TEMPLATE,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    tokens_map = {k: v for k, v in specials.items() if v is not None}
    tokens_map["additional_special_tokens"] = config["additional_special_tokens"]
    (out / "special_tokens_map.json").write_text(json.dumps(tokens_map, indent=2, ensure_ascii=False) + "\n")
    return out


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A saved tokenizer: a directory with ``tokenizer.json`` (from ``save_tokenizer`` or any HF model), a
    ``tokenizer.json`` file, or SentencePiece's ``tokenizer.model`` (file, or a directory that has only that,
    as OpenCoder's released models do), converted by ``spm.sentencepiece_tokenizer``."""
    from opencook.tokenizer.spm import SPM_FILE, sentencepiece_tokenizer

    path = Path(path)
    if path.is_dir():
        if (path / "tokenizer.json").is_file():
            return Tokenizer.from_file(str(path / "tokenizer.json"))
        if (path / SPM_FILE).is_file():
            return sentencepiece_tokenizer(path / SPM_FILE)
        raise FileNotFoundError(f"{path} has neither tokenizer.json nor {SPM_FILE}: train one with `opencook lm "
                                "tokenizer train`, or point at the model directory that holds its tokenizer")
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: train one with `opencook lm tokenizer train`")
    if path.suffix == ".model":
        return sentencepiece_tokenizer(path)
    return Tokenizer.from_file(str(path))
