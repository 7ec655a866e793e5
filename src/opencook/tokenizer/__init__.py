"""Byte-level BPE tokenizer for code: train from a RefineCode dataset, round-trip exactly, save for HF."""

from opencook.tokenizer.config import CHATML_TOKENS, FIM_TOKENS, PAD_TOKEN, SPECIAL_TOKENS, TokenizerConfig
from opencook.tokenizer.hf import DEFAULT_SYSTEM_PROMPT, load_tokenizer, render_chat, save_tokenizer
from opencook.tokenizer.sources import SourceStats, iter_texts
from opencook.tokenizer.train import GPT4_SPLIT_PATTERN, bytes_per_token, decode, encode, train_tokenizer

__all__ = [
    "CHATML_TOKENS", "DEFAULT_SYSTEM_PROMPT", "FIM_TOKENS", "GPT4_SPLIT_PATTERN", "PAD_TOKEN", "SPECIAL_TOKENS",
    "SourceStats", "TokenizerConfig", "bytes_per_token", "decode", "encode", "iter_texts", "load_tokenizer",
    "render_chat", "save_tokenizer", "train_tokenizer",
]
