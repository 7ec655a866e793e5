"""The LLaMA decoder: shapes, causality, GQA, exact agreement with transformers, presets, FLOPs."""

from __future__ import annotations

import pytest
import torch

from opencook.lm.model import (
    MODEL_PRESETS,
    Llama,
    ModelConfig,
    flops_per_token,
    from_hf_state_dict,
    hf_config_dict,
    matmul_params,
    mfu,
    model_config,
    num_params,
    to_hf_state_dict,
)

SMALL = dict(vocab_size=97, dim=64, n_layers=2, max_seq_len=32)


def _model(cfg: ModelConfig, seed: int = 0) -> Llama:
    torch.manual_seed(seed)
    return Llama(cfg).eval()


def _tokens(cfg: ModelConfig, b: int = 2, t: int = 16, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, cfg.vocab_size, (b, t), generator=torch.Generator().manual_seed(seed))


def test_tiny_forward_shape_and_dtype():
    cfg = model_config("tiny")
    logits = _model(cfg)(_tokens(cfg, b=2, t=24))
    assert logits.shape == (2, 24, cfg.vocab_size)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


def test_causal_future_tokens_do_not_change_earlier_logits():
    cfg = model_config("tiny")
    model = _model(cfg)
    x = _tokens(cfg, b=1, t=20)
    y = x.clone()
    y[0, 12:] = (y[0, 12:] + 1) % cfg.vocab_size
    with torch.no_grad():
        a, b = model(x), model(y)
    torch.testing.assert_close(a[:, :12], b[:, :12], rtol=0, atol=0)
    assert not torch.allclose(a[:, 12:], b[:, 12:])


def test_gqa_config_has_smaller_kv_projections_and_runs():
    cfg = model_config("tiny", n_heads=8, n_kv_heads=2, dim=128)
    model = _model(cfg)
    layer = model.layers[0].self_attn
    assert layer.q_proj.weight.shape == (8 * 16, 128)
    assert layer.k_proj.weight.shape == (2 * 16, 128)
    assert model(_tokens(cfg, t=8)).shape == (2, 8, cfg.vocab_size)
    assert sum(p.numel() for p in model.parameters()) == num_params(cfg)


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(**SMALL, n_heads=4, n_kv_heads=4, ffn_dim=160, tie_embeddings=False),
        ModelConfig(**SMALL, n_heads=4, n_kv_heads=4, ffn_dim=160, tie_embeddings=True),
        ModelConfig(**SMALL, n_heads=8, n_kv_heads=2, ffn_dim=96, rope_theta=500_000.0),
        ModelConfig(**SMALL, n_heads=2, n_kv_heads=1, ffn_dim=96, head_dim=48, norm_eps=1e-6),
    ],
    ids=["untied", "tied", "gqa", "head_dim"],
)
def test_logits_match_transformers_llama(cfg):
    transformers = pytest.importorskip("transformers")
    ours = _model(cfg)
    hf_cfg = transformers.LlamaConfig(**hf_config_dict(cfg))
    hf_cfg._attn_implementation = "eager"
    hf = transformers.LlamaForCausalLM(hf_cfg).eval()
    missing, unexpected = hf.load_state_dict(to_hf_state_dict(ours), strict=False)
    assert not unexpected and not [k for k in missing if "rotary" not in k]
    if cfg.tie_embeddings:
        assert hf.lm_head.weight.data_ptr() == hf.model.embed_tokens.weight.data_ptr()
    x = _tokens(cfg, b=2, t=cfg.max_seq_len)
    with torch.no_grad():
        expected = hf(input_ids=x).logits.float()
        got = ours(x)
        back = from_hf_state_dict(cfg, hf.state_dict()).eval()(x)
    assert (got - expected).abs().max().item() < 1e-5
    assert (back - expected).abs().max().item() < 1e-5


def test_from_hf_state_dict_ties_the_head():
    cfg = ModelConfig(**SMALL, n_heads=4, n_kv_heads=4, ffn_dim=160, tie_embeddings=True)
    sd = {k: v for k, v in to_hf_state_dict(_model(cfg)).items() if k != "lm_head.weight"}
    model = from_hf_state_dict(cfg, sd)
    assert model.lm_head.weight is model.embed_tokens.weight


@pytest.mark.parametrize("name", ["tiny", "1.5b", "8b"])
def test_meta_build_param_count_matches_analytic(name):
    cfg = model_config(name)
    with torch.device("meta"):
        model = Llama(cfg)
    assert sum(p.numel() for p in model.parameters()) == num_params(cfg)
    assert all(p.is_meta for p in model.parameters())


@pytest.mark.parametrize("tied", [False, True])
def test_meta_build_then_materialise_equals_direct_build(tied):
    cfg = model_config("tiny", n_layers=2, tie_embeddings=tied)
    direct = _model(cfg, seed=3)
    torch.manual_seed(3)
    direct.reset_parameters()  # construction itself draws from the RNG (nn.Linear's own init)
    with torch.device("meta"):
        model = Llama(cfg)
    model.to_empty(device="cpu")
    torch.manual_seed(3)
    model.reset_parameters()
    assert (model.lm_head.weight is model.embed_tokens.weight) == tied
    assert sum(p.numel() for p in model.parameters()) == num_params(cfg)
    x = _tokens(cfg, t=8)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), direct(x), rtol=0, atol=0)


def test_published_shapes():
    small, big = MODEL_PRESETS["1.5b"], MODEL_PRESETS["8b"]
    shape = (small.n_layers, small.dim, small.ffn_dim, small.n_heads, small.n_kv_heads)
    assert shape == (24, 2240, 6144, 14, 14)
    assert (small.head_size, small.rope_theta, small.max_seq_len) == (160, 10_000.0, 4096)
    assert (big.n_layers, big.dim, big.ffn_dim, big.n_heads, big.n_kv_heads) == (32, 4096, 14336, 32, 8)
    assert (big.head_size, big.rope_theta, big.max_seq_len) == (128, 500_000.0, 8192)
    for cfg in (small, big):
        assert (cfg.vocab_size, cfg.norm_eps, cfg.tie_embeddings) == (96_640, 1e-5, False)
    with torch.device("meta"):
        model = Llama(small)
    attn, mlp = model.layers[0].self_attn, model.layers[0].mlp
    assert attn.q_proj.weight.shape == (14 * 160, 2240) and attn.k_proj.weight.shape == (14 * 160, 2240)
    assert mlp.gate_proj.weight.shape == (6144, 2240) and model.lm_head.weight.shape == (96_640, 2240)
    assert num_params(small) == 1_905_650_880
    assert num_params(big) == 7_771_262_976
    assert hf_config_dict(small)["head_dim"] == 160


def test_unknown_preset_suggests_close_name():
    with pytest.raises(KeyError, match="did you mean 'tiny'"):
        model_config("tinny")
    with pytest.raises(TypeError, match="unknown ModelConfig field"):
        model_config("tiny", hidden=3)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(n_heads=4, n_kv_heads=3), "multiple of n_kv_heads"),
        (dict(dim=130, n_heads=4), "set head_dim"),
        (dict(head_dim=15), "must be even"),
        (dict(n_layers=0), "positive int"),
    ],
)
def test_config_validation(overrides, message):
    with pytest.raises(ValueError, match=message):
        model_config("tiny", **overrides)


def test_flops_per_token_by_hand_for_tiny():
    cfg = model_config("tiny")  # V=2048 D=128 L=4 H=4 KV=2 hd=32 F=352, untied
    d, hd, layers, v, f = 128, 32, 4, 2048, 352
    per_layer = d * 4 * hd + 2 * d * 2 * hd + 4 * hd * d + 3 * d * f + 2 * d
    n = v * d + layers * per_layer + d  # lm_head + blocks + final norm; input embedding excluded
    assert matmul_params(cfg) == n
    assert flops_per_token(cfg) == 6 * n + 12 * layers * d * 256
    assert flops_per_token(cfg, seq_len=64) == 6 * n + 12 * layers * d * 64
    assert mfu(1e6, cfg, peak_flops=1e13) == pytest.approx(flops_per_token(cfg) * 1e6 / 1e13)
    assert mfu(1e3, cfg, peak_flops="H100") == pytest.approx(flops_per_token(cfg) * 1e3 / 989e12)
