"""KV-cache generation and an OpenAI-compatible server."""

from opencook.lm.generate.generate import Completion, as_tokenizer, default_eos_ids, generate
from opencook.lm.generate.sampling import next_tokens

__all__ = ["Completion", "as_tokenizer", "default_eos_ids", "generate", "next_tokens"]
