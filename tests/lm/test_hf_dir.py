"""HF directories: transformers loads our export with our logits; load_hf_dir round-trips; bad input is refused."""

from __future__ import annotations

import dataclasses
import json
import sysconfig
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from opencook.lm.hf import config_from_hf, load_hf_dir, save_hf_dir  # noqa: E402
from opencook.lm.model import Llama, ModelConfig, hf_config_dict, model_config  # noqa: E402
from opencook.tokenizer import TokenizerConfig, render_chat, save_tokenizer, train_tokenizer  # noqa: E402

torch.set_num_threads(1)

BASE = dict(vocab_size=97, dim=64, n_layers=2, ffn_dim=96, max_seq_len=64, rope_theta=500.0, norm_eps=1e-5)
CONFIGS = {
    "tied": ModelConfig(**BASE, n_heads=4, n_kv_heads=4, tie_embeddings=True),
    "untied": ModelConfig(**BASE, n_heads=4, n_kv_heads=4, tie_embeddings=False),
    "gqa": ModelConfig(**BASE, n_heads=8, n_kv_heads=2, tie_embeddings=False),
}
TOKENS = torch.tensor([[5, 17, 3, 96, 0, 42, 42, 7, 11, 60], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])


def make_model(cfg: ModelConfig, seed: int = 0) -> Llama:
    torch.manual_seed(seed)
    model = Llama(cfg).eval()
    with torch.no_grad():  # norms away from 1 so a dropped or swapped norm weight shows in the logits
        for name, p in model.named_parameters():
            if name.endswith("layernorm.weight") or name == "norm.weight":
                p.uniform_(0.5, 1.5)
    return model


def hf_logits(out: Path, **kwargs: object) -> torch.Tensor:
    hf = transformers.LlamaForCausalLM.from_pretrained(str(out), **kwargs).eval()
    with torch.no_grad():
        return hf(TOKENS).logits.float()


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_transformers_reproduces_our_logits(tmp_path: Path, name: str) -> None:
    model = make_model(CONFIGS[name])
    out = save_hf_dir(model, tmp_path / "hf")
    with torch.no_grad():
        ours = model(TOKENS)
    torch.testing.assert_close(hf_logits(out), ours, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_load_hf_dir_round_trip_is_exact(tmp_path: Path, name: str) -> None:
    cfg = CONFIGS[name]
    model = make_model(cfg)
    loaded, loaded_cfg = load_hf_dir(save_hf_dir(model, tmp_path / "hf"))
    assert loaded_cfg == cfg
    original, back = model.state_dict(), loaded.state_dict()
    assert original.keys() == back.keys()
    for key, tensor in original.items():
        assert torch.equal(back[key], tensor), key
    assert (loaded.lm_head.weight is loaded.embed_tokens.weight) == cfg.tie_embeddings


def test_tied_head_is_stored_once(tmp_path: Path) -> None:
    out = save_hf_dir(make_model(CONFIGS["tied"]), tmp_path / "hf")
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        names = set(f.keys())
    assert "model.embed_tokens.weight" in names and "lm_head.weight" not in names


def test_bf16_export(tmp_path: Path) -> None:
    model = make_model(CONFIGS["gqa"])
    out = save_hf_dir(model, tmp_path / "hf", dtype=torch.bfloat16)
    assert {t.dtype for t in load_file(str(out / "model.safetensors")).values()} == {torch.bfloat16}
    loaded, _ = load_hf_dir(out)
    assert loaded.embed_tokens.weight.dtype == torch.bfloat16
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor.to(torch.bfloat16)), key
    hf = transformers.LlamaForCausalLM.from_pretrained(str(out)).eval()
    assert hf.dtype == torch.bfloat16
    with torch.no_grad():
        theirs, ours, full = hf(TOKENS).logits.float(), loaded(TOKENS), model(TOKENS)
    torch.testing.assert_close(ours, theirs, atol=2e-2, rtol=0)
    torch.testing.assert_close(ours, full, atol=5e-2, rtol=0)
    as_f32, _ = load_hf_dir(out, dtype=torch.float32)
    assert as_f32.embed_tokens.weight.dtype == torch.float32


def test_config_round_trip_for_presets() -> None:
    for name in ("tiny", "1.5b", "8b"):
        cfg = model_config(name)
        back = config_from_hf(hf_config_dict(cfg))
        assert back.head_size == cfg.head_size
        assert back == dataclasses.replace(cfg, head_dim=back.head_dim), name


def test_config_from_old_style_llama_json() -> None:
    """A transformers-4-era config: top-level rope_theta, no head_dim, no num_key_value_heads."""
    old = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256,
           "intermediate_size": 688, "num_hidden_layers": 3, "num_attention_heads": 8, "rope_theta": 50_000.0,
           "rope_scaling": None, "max_position_embeddings": 1024, "rms_norm_eps": 1e-6, "vocab_size": 500,
           "tie_word_embeddings": True}
    cfg = config_from_hf(old)
    assert (cfg.n_kv_heads, cfg.head_dim, cfg.head_size, cfg.rope_theta) == (8, None, 32, 50_000.0)
    assert (cfg.max_seq_len, cfg.norm_eps, cfg.tie_embeddings, cfg.vocab_size) == (1024, 1e-6, True, 500)
    theirs = transformers.LlamaConfig(**old)
    assert theirs.head_dim == cfg.head_size and theirs.num_key_value_heads == cfg.n_kv_heads


def test_head_dim_other_than_dim_over_heads_is_kept() -> None:
    cfg = config_from_hf({**hf_config_dict(CONFIGS["gqa"]), "head_dim": 16})
    assert cfg.head_dim == 16 and cfg.head_size == 16


@pytest.mark.parametrize(("change", "words"), [
    ({"model_type": "mistral"}, ["model_type", "mistral"]),
    ({"architectures": ["Qwen2ForCausalLM"]}, ["architectures", "Qwen2ForCausalLM"]),
    ({"attention_bias": True}, ["attention_bias", "True"]),
    ({"mlp_bias": True}, ["mlp_bias"]),
    ({"hidden_act": "gelu"}, ["hidden_act", "gelu"]),
    ({"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}, ["rope_scaling", "llama3"]),
    ({"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e4}}, ["rope_parameters", "yarn"]),
])
def test_unsupported_configs_are_refused_by_name(change: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as err:
        config_from_hf({**hf_config_dict(CONFIGS["tied"]), **change})
    for word in words:
        assert word in str(err.value)


def test_missing_required_field_is_named() -> None:
    d = hf_config_dict(CONFIGS["tied"])
    del d["intermediate_size"]
    with pytest.raises(ValueError, match="intermediate_size"):
        config_from_hf(d)


def test_missing_and_unexpected_tensors_are_listed(tmp_path: Path) -> None:
    out = save_hf_dir(make_model(CONFIGS["untied"]), tmp_path / "hf")
    tensors = load_file(str(out / "model.safetensors"))
    removed = tensors.pop("model.layers.1.mlp.down_proj.weight")
    save_file(tensors, str(out / "model.safetensors"))
    with pytest.raises(ValueError, match=r"1 missing .*model\.layers\.1\.mlp\.down_proj\.weight"):
        load_hf_dir(out)
    tensors["model.layers.1.mlp.down_proj.weight"] = removed
    tensors["model.layers.1.self_attn.q_proj.bias"] = torch.zeros(64)
    save_file(tensors, str(out / "model.safetensors"))
    with pytest.raises(ValueError, match=r"unexpected .*q_proj\.bias"):
        load_hf_dir(out)
    del tensors["model.layers.1.self_attn.q_proj.bias"]
    tensors["model.norm.weight"] = torch.ones(32)
    save_file(tensors, str(out / "model.safetensors"))
    with pytest.raises(ValueError, match=r"model\.norm\.weight \(32,\) != \(64,\)"):
        load_hf_dir(out)


def test_missing_paths_are_explained(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_hf_dir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_hf_dir(tmp_path / "empty")
    out = save_hf_dir(make_model(CONFIGS["tied"]), tmp_path / "hf")
    (out / "model.safetensors").rename(out / "other.bin")
    with pytest.raises(FileNotFoundError, match=r"neither model\.safetensors.*other\.bin"):
        load_hf_dir(out)


def test_sharded_checkpoint_written_by_transformers_loads(tmp_path: Path) -> None:
    model = make_model(CONFIGS["gqa"])
    hf = transformers.LlamaForCausalLM.from_pretrained(str(save_hf_dir(model, tmp_path / "hf")))
    hf.save_pretrained(str(tmp_path / "sharded"), max_shard_size="40KB")
    index = json.loads((tmp_path / "sharded" / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    loaded, _ = load_hf_dir(tmp_path / "sharded")
    with torch.no_grad():
        torch.testing.assert_close(loaded(TOKENS), model(TOKENS), atol=1e-6, rtol=0)


def test_export_replaces_an_earlier_export_but_not_other_dirs(tmp_path: Path) -> None:
    first, second = make_model(CONFIGS["tied"], seed=1), make_model(CONFIGS["tied"], seed=2)
    out = save_hf_dir(first, tmp_path / "hf")
    save_hf_dir(second, out)
    loaded, _ = load_hf_dir(out)
    assert torch.equal(loaded.embed_tokens.weight, second.embed_tokens.weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf"]
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "todo.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a model directory"):
        save_hf_dir(first, precious)
    assert (precious / "todo.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "notes"]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    tok = train_tokenizer([stdlib / "textwrap.py", stdlib / "shlex.py"], TokenizerConfig(vocab_size=400),
                          progress=False)
    return save_tokenizer(tok, tmp_path_factory.mktemp("tok") / "tok")


MESSAGES = [{"role": "user", "content": "Write a function that splits a shell line."},
            {"role": "assistant", "content": "import shlex\n\ndef split(s):\n    return shlex.split(s)\n"},
            {"role": "user", "content": "Thanks!"}]


@pytest.mark.parametrize("chat", [False, True])
def test_tokenizer_files_load_in_transformers(tmp_path: Path, tokenizer_dir: Path, chat: bool) -> None:
    from tokenizers import Tokenizer

    ours = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    cfg = dataclasses.replace(CONFIGS["gqa"], vocab_size=ours.get_vocab_size())
    out = save_hf_dir(make_model(cfg), tmp_path / "hf", tokenizer=tokenizer_dir, chat=chat)
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    text = "def wrap(text, width=70):\n    return text.split()\n"
    assert tok(text)["input_ids"] == ours.encode(text).ids
    for generation_prompt in (False, True):
        assert tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=generation_prompt) == \
            render_chat(MESSAGES, add_generation_prompt=generation_prompt)
    eos = "<|im_end|>" if chat else "<|endoftext|>"
    assert tok.eos_token == eos
    gen = transformers.GenerationConfig.from_pretrained(str(out))
    expected_eos = [ours.token_to_id("<|im_end|>"), ours.token_to_id("<|endoftext|>")] if chat \
        else ours.token_to_id("<|endoftext|>")
    assert gen.eos_token_id == expected_eos
    assert gen.pad_token_id == ours.token_to_id("<|pad|>")
    hf = transformers.LlamaForCausalLM.from_pretrained(str(out))
    assert hf.config.vocab_size == ours.get_vocab_size()


def test_missing_tokenizer_dir_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="tokenizer .*does not exist"):
        save_hf_dir(make_model(CONFIGS["tied"]), tmp_path / "hf", tokenizer=tmp_path / "no-tok")
    assert not (tmp_path / "hf").exists()


@pytest.mark.slow
def test_cli_export_of_a_training_run_loads_in_transformers(tmp_path: Path) -> None:
    """`opencook lm pretrain` then `export-hf RUN`: the trainer's checkpoint reader, the run's own tokenizer."""
    checkpoint = pytest.importorskip("opencook.lm.train.checkpoint")
    from lm_assets import build_assets, recipe, run_cli

    assets = build_assets(tmp_path / "assets")
    run_cli("lm", "pretrain", str(recipe(tmp_path / "r.yaml", assets, steps=2)), "--out", str(tmp_path / "run"))
    proc = run_cli("lm", "export-hf", str(tmp_path / "run"), "--out", str(tmp_path / "hf"), "--dtype",
                   "bfloat16", "--chat")
    assert f"tokenizer: {assets['tokenizer']}" in proc.stdout
    trained, _ = checkpoint.load_model_for_export(tmp_path / "run")
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    assert tok.eos_token == "<|im_end|>"
    ids = tok("def add(a, b):\n    return a + b\n", return_tensors="pt")["input_ids"]
    hf = transformers.LlamaForCausalLM.from_pretrained(str(tmp_path / "hf")).eval()
    assert hf.dtype == torch.bfloat16
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits.float(), trained.eval()(ids), atol=5e-2, rtol=0)
    proc = run_cli("lm", "export-hf", str(tmp_path / "assets"), "--out", str(tmp_path / "x"), check=False)
    assert proc.returncode != 0 and "assets" in proc.stderr
