"""Packed token shards and mixtures for pretraining, and masked ChatML examples for SFT.

Build once (``build_packed`` / ``build_sft``, or ``opencook lm data build|sft``), then train from
``PretrainLoader`` / ``SFTLoader``: both give every rank its slice of one global batch and carry a data
position in ``state_dict`` that resumes exactly, on any number of ranks."""

from opencook.lm.data.chat import encode_chat_prompt, render_sft_example
from opencook.lm.data.mixture import PretrainLoader
from opencook.lm.data.packed import PackedDataset, build_packed
from opencook.lm.data.position import DataPositionError
from opencook.lm.data.sft import SFTDataset, build_sft
from opencook.lm.data.sft_loader import IGNORE_INDEX, SFTLoader

__all__ = [
    "IGNORE_INDEX", "DataPositionError", "PackedDataset", "PretrainLoader", "SFTDataset", "SFTLoader",
    "build_packed", "build_sft", "encode_chat_prompt", "render_sft_example",
]
