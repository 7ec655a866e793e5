"""Hugging Face LLaMA directories in and out: config.json + safetensors + tokenizer files.

What we write is what ``transformers.LlamaForCausalLM.from_pretrained`` reads with identical logits; what we
read is any LLaMA-architecture directory whose features we implement. Features we do not implement (biases,
RoPE scaling, other architectures) are refused by name rather than silently dropped, because a model loaded
without them would produce plausible but wrong logits.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from opencook.lm.model import Llama, ModelConfig, from_hf_state_dict, hf_config_dict, to_hf_state_dict

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")
_LLAMA_ARCHS = {"LlamaForCausalLM"}
_REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")


def _refuse(field: str, value: object, why: str) -> ValueError:
    return ValueError(f"HF config field {field}={value!r} is not supported: {why}")


def config_from_hf(d: Mapping[str, object]) -> ModelConfig:
    """Our ``ModelConfig`` from a LLaMA ``config.json`` dict (the inverse of ``hf_config_dict``)."""
    model_type = d.get("model_type", "llama")
    if model_type != "llama":
        raise _refuse("model_type", model_type, "only LLaMA-architecture models ('llama') can be loaded")
    archs = d.get("architectures") or ["LlamaForCausalLM"]
    if not set(archs) & _LLAMA_ARCHS:
        raise _refuse("architectures", archs, "only LlamaForCausalLM checkpoints can be loaded")
    for field in ("attention_bias", "mlp_bias"):
        if d.get(field):
            raise _refuse(field, d[field], "our Llama has no bias terms")
    act = d.get("hidden_act", "silu")
    if act != "silu":
        raise _refuse("hidden_act", act, "our MLP is SwiGLU (silu)")
    for field in ("rope_scaling", "rope_parameters"):
        rope = d.get(field)
        if isinstance(rope, Mapping):
            kind = rope.get("rope_type", rope.get("type", "default"))
            if kind != "default":
                raise _refuse(f"{field}.rope_type", kind, "only plain RoPE (rope_type 'default') is implemented")
    missing = [f for f in _REQUIRED if f not in d]
    if missing:
        raise ValueError(f"HF config lacks required field(s) {missing}: is this a LLaMA config.json?")
    dim, n_heads = int(d["hidden_size"]), int(d["num_attention_heads"])
    head_dim = d.get("head_dim")
    if head_dim is not None and dim % n_heads == 0 and int(head_dim) == dim // n_heads:
        head_dim = None
    rope = d.get("rope_parameters")
    theta = rope.get("rope_theta") if isinstance(rope, Mapping) else None
    if theta is None:
        theta = d.get("rope_theta", 10_000.0)
    return ModelConfig(
        vocab_size=int(d.get("vocab_size", 32_000)),
        dim=dim,
        n_layers=int(d["num_hidden_layers"]),
        n_heads=n_heads,
        n_kv_heads=int(d.get("num_key_value_heads") or n_heads),
        ffn_dim=int(d["intermediate_size"]),
        head_dim=None if head_dim is None else int(head_dim),
        rope_theta=float(theta),
        max_seq_len=int(d.get("max_position_embeddings", 2048)),
        norm_eps=float(d.get("rms_norm_eps", 1e-6)),
        tie_embeddings=bool(d.get("tie_word_embeddings", False)),
    )


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def special_ids(tok_dir: Path, eos_tokens: list[str] | None) -> dict[str, int | list[int]]:
    """bos/eos/pad ids as named in the tokenizer's config, resolved through its vocabulary."""
    from opencook.tokenizer import load_tokenizer

    tok = load_tokenizer(tok_dir)
    cfg = json.loads((tok_dir / "tokenizer_config.json").read_text())

    def token_id(entry: object) -> int | None:
        name = entry.get("content") if isinstance(entry, Mapping) else entry
        return tok.token_to_id(name) if isinstance(name, str) else None

    out: dict[str, int | list[int]] = {}
    for key in ("bos", "pad"):
        tid = token_id(cfg.get(f"{key}_token"))
        if tid is not None:
            out[f"{key}_token_id"] = tid
    eos = [token_id(t) for t in (eos_tokens or [cfg.get("eos_token")])]
    eos = [t for t in eos if t is not None]
    if eos:
        out["eos_token_id"] = eos[0] if len(eos) == 1 else eos
    return out


def _copy_tokenizer(src: Path, dst: Path, *, chat: bool) -> None:
    src = src.parent if src.is_file() else src
    missing = [f for f in TOKENIZER_FILES[:2] if not (src / f).is_file()]
    if missing == ["tokenizer.json"] and (src / "tokenizer.model").is_file():
        missing = []  # a SentencePiece tokenizer: copied as is, converted when loaded
    if missing:
        raise FileNotFoundError(f"tokenizer dir {src} lacks {missing}: save it with `opencook lm tokenizer train`")
    for name in (*TOKENIZER_FILES, "tokenizer.model"):
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)
    if chat:
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            if (dst / name).is_file():
                cfg = json.loads((dst / name).read_text())
                cfg["eos_token"] = "<|im_end|>"
                (dst / name).write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


def _publishable(tmp: Path) -> None:
    """Give the temp dir (created 0700) and its files the permissions a normal mkdir/open would."""
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    for f in tmp.iterdir():
        f.chmod(0o666 & ~umask)


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move ``tmp`` to ``out``; an earlier export at ``out`` is replaced only after the new one is complete."""
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / "config.json").is_file()):
            raise FileExistsError(f"{out} exists and is not a model directory: choose another --out or remove it")
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def write_hf_dir(out: str | Path, config: dict[str, object], tensors: Mapping[str, torch.Tensor],
                 generation: dict[str, object], fill: Callable[[Path], None] | None = None) -> Path:
    """Atomically write config.json, model.safetensors and generation_config.json. ``fill(tmp_dir)`` runs
    first: it adds tokenizer files and may update ``config``/``generation`` (special-token ids)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        if fill is not None:
            fill(tmp)
        (tmp / "config.json").write_text(json.dumps(dict(config), indent=2) + "\n")
        (tmp / "generation_config.json").write_text(json.dumps(dict(generation), indent=2) + "\n")
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / "model.safetensors"),
                  metadata={"format": "pt"})
        _publishable(tmp)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def hf_tensors(model: Llama, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """HF-named tensors in ``dtype``; a tied head is stored once, as the embedding (as transformers does)."""
    sd = to_hf_state_dict(model)
    if model.cfg.tie_embeddings:
        sd.pop("lm_head.weight")
    return {k: v.detach().to("cpu", dtype) for k, v in sd.items()}


def save_hf_dir(model: Llama, out: str | Path, *, tokenizer: str | Path | None = None,
                dtype: torch.dtype = torch.float32, chat: bool = False) -> Path:
    """Write ``model`` (and the tokenizer files from ``tokenizer``) as a directory transformers loads.

    ``chat=True`` marks an SFT model: generation stops at ``<|im_end|>`` (and ``<|endoftext|>``) and the
    copied tokenizer's ``eos_token`` becomes ``<|im_end|>``. ``out`` appears only once complete.
    """
    if not dtype.is_floating_point:
        raise ValueError(f"dtype {dtype} is not a floating-point type: use torch.float32 or torch.bfloat16")
    config = {**hf_config_dict(model.cfg), "torch_dtype": _dtype_name(dtype), "dtype": _dtype_name(dtype)}
    generation: dict[str, object] = {}
    tok_dir = None if tokenizer is None else Path(tokenizer)
    if tok_dir is not None and not tok_dir.exists():
        raise FileNotFoundError(f"tokenizer {tok_dir} does not exist: pass the directory written by "
                                "`opencook lm tokenizer train`")

    def fill(tmp: Path) -> None:
        if tok_dir is None:
            return
        _copy_tokenizer(tok_dir, tmp, chat=chat)
        ids = special_ids(tmp, ["<|im_end|>", "<|endoftext|>"] if chat else None)
        generation.update(ids)
        config.update(ids)

    return write_hf_dir(out, config, hf_tensors(model, dtype), generation, fill=fill)


def read_hf_config(path: str | Path) -> dict[str, object]:
    """``path/config.json`` as a dict, with an error that says what ``path`` should be."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"HF model directory {path} does not exist")
    file = path / "config.json"
    if not file.is_file():
        raise FileNotFoundError(f"{path} has no config.json: it is not a Hugging Face model directory")
    return json.loads(file.read_text())


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    single, index = path / "model.safetensors", path / "model.safetensors.index.json"
    if single.is_file():
        return load_file(str(single))
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing = [s for s in shards if not (path / s).is_file()]
        if missing:
            raise FileNotFoundError(f"{index} names shard(s) {missing[:3]} that are not in {path}")
        out: dict[str, torch.Tensor] = {}
        for shard in shards:
            out.update(load_file(str(path / shard)))
        return out
    found = sorted(p.name for p in path.glob("*.bin")) + sorted(p.name for p in path.glob("*.gguf"))
    hint = f" (found {found[:3]}: convert with `opencook lm import-hf`)" if found else ""
    raise FileNotFoundError(f"{path} has neither model.safetensors nor model.safetensors.index.json{hint}")


def check_hf_names(cfg: ModelConfig, sd: Mapping[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in to_hf_state_dict(Llama(cfg)).items()}
    got = {k: v for k, v in sd.items() if not k.endswith("rotary_emb.inv_freq")}
    if cfg.tie_embeddings:
        expected.pop("lm_head.weight")
        got.pop("lm_head.weight", None)
    missing, unexpected = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing or unexpected:
        parts = [f"{len(missing)} missing (e.g. {missing[:3]})" if missing else "",
                 f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})" if unexpected else ""]
        raise ValueError(f"weights in {path} do not match its config.json: "
                         f"{'; '.join(p for p in parts if p)}")
    wrong = [f"{k} {tuple(v.shape)} != {expected[k]}" for k, v in got.items() if tuple(v.shape) != expected[k]]
    if wrong:
        raise ValueError(f"{len(wrong)} tensor(s) in {path} have shapes that contradict config.json, "
                         f"e.g. {wrong[:3]}")
    return got


def load_hf_dir(path: str | Path, *, dtype: torch.dtype | None = None) -> tuple[Llama, ModelConfig]:
    """Our Llama from an HF LLaMA directory; ``dtype=None`` keeps the stored dtype (of the embedding)."""
    path = Path(path)
    cfg = config_from_hf(read_hf_config(path))
    sd = check_hf_names(cfg, _read_tensors(path), path)
    target = dtype or sd["model.embed_tokens.weight"].dtype
    model = from_hf_state_dict(cfg, {k: v.to(target) for k, v in sd.items()})
    return model.eval(), cfg
