"""Packed token shards and mixtures for pretraining, and masked ChatML examples for SFT.

Build once (``build_packed`` / ``build_sft``, or ``opencook lm data build|sft``), then train from
``PretrainLoader`` / ``SFTLoader``: both give every rank its slice of one global batch and carry a data
position in ``state_dict`` that resumes exactly, on any number of ranks."""

from opencook.kit.lazy import lazy_exports

# Names resolve on first use, so `opencook --help` (which builds this package's CLI) does not import torch.
_WHERE = {
    "encode_chat_prompt": "chat", "render_sft_example": "chat", "PretrainLoader": "mixture",
    "PackedDataset": "packed", "build_packed": "packed", "DataPositionError": "position",
    "SFTDataset": "sft", "build_sft": "sft", "IGNORE_INDEX": "sft_loader", "SFTLoader": "sft_loader",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_exports(__name__, globals(), _WHERE)
