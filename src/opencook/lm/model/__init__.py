"""The LLaMA-style decoder: configs and presets, the model, HF conversion, FLOPs/MFU."""

from opencook.lm.model.config import MODEL_PRESETS, ModelConfig, model_config, num_params
from opencook.lm.model.flops import PEAK_FLOPS, flops_per_token, matmul_params, mfu
from opencook.lm.model.llama import (
    Llama,
    document_ids,
    from_hf_state_dict,
    head_chunks,
    hf_config_dict,
    to_hf_state_dict,
)

__all__ = [
    "MODEL_PRESETS",
    "PEAK_FLOPS",
    "Llama",
    "document_ids",
    "ModelConfig",
    "flops_per_token",
    "from_hf_state_dict",
    "head_chunks",
    "hf_config_dict",
    "matmul_params",
    "mfu",
    "model_config",
    "num_params",
    "to_hf_state_dict",
]
