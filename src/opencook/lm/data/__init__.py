"""Packed token shards and mixtures for pretraining, and masked ChatML examples for SFT.

Build once (``build_packed`` / ``build_sft``, or ``opencook lm data build|sft``), then train from
``PretrainLoader`` / ``SFTLoader``: both give every rank its slice of one global batch and carry a data
position in ``state_dict`` that resumes exactly, on any number of ranks."""

import importlib

# Names resolve on first use, so `opencook --help` (which builds this package's CLI) does not import torch.
_WHERE = {
    "encode_chat_prompt": "chat", "render_sft_example": "chat", "PretrainLoader": "mixture",
    "PackedDataset": "packed", "build_packed": "packed", "DataPositionError": "position",
    "SFTDataset": "sft", "build_sft": "sft", "IGNORE_INDEX": "sft_loader", "SFTLoader": "sft_loader",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value  # also replaces a same-named submodule the import bound here (``generate``)
    return value
