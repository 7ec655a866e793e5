"""The tokenizer's settings; the special tokens come first so their ids are fixed (0, 1, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field

CHATML_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
FIM_TOKENS = ("<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>")
PAD_TOKEN = "<|pad|>"
SPECIAL_TOKENS = (*CHATML_TOKENS, *FIM_TOKENS, PAD_TOKEN)

N_BYTES = 256


@dataclass
class TokenizerConfig:
    """``vocab_size`` counts special tokens and the 256 byte tokens; ``max_docs`` caps the training texts;
    ``seed`` fixes the order in which source files are read (and so which docs ``max_docs`` keeps)."""

    vocab_size: int = 32768
    min_frequency: int = 2
    special_tokens: tuple[str, ...] = field(default=SPECIAL_TOKENS)
    max_docs: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        self.special_tokens = tuple(self.special_tokens)
        floor = N_BYTES + len(self.special_tokens)
        if self.vocab_size <= floor:
            raise ValueError(f"vocab_size={self.vocab_size} must exceed 256 byte tokens + "
                             f"{len(self.special_tokens)} special tokens = {floor}; raise --vocab-size")
        if self.min_frequency < 1:
            raise ValueError(f"min_frequency={self.min_frequency} must be >= 1")
        if self.max_docs is not None and self.max_docs < 1:
            raise ValueError(f"max_docs={self.max_docs} must be >= 1 (or None for all documents)")
        if any(not t for t in self.special_tokens):
            raise ValueError("special_tokens holds an empty string")
        if len(set(self.special_tokens)) != len(self.special_tokens):
            raise ValueError(f"special_tokens has duplicates: {list(self.special_tokens)}")
