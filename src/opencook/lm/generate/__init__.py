"""KV-cache generation and an OpenAI-compatible server (``opencook lm serve``) with a matching client."""

from opencook.lm.generate.client import Reply, ServerError, complete, list_models
from opencook.lm.generate.generate import Completion, as_tokenizer, default_eos_ids, generate
from opencook.lm.generate.sampling import next_tokens
from opencook.lm.generate.served import ServedModel, load_served_model
from opencook.lm.generate.server import make_server

__all__ = [
    "Completion", "Reply", "ServedModel", "ServerError", "as_tokenizer", "complete", "default_eos_ids",
    "generate", "list_models", "load_served_model", "make_server", "next_tokens",
]
