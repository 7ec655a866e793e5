"""KV-cache generation and an OpenAI-compatible server (``opencook lm serve``) with a matching client."""

import importlib

# Names resolve on first use, so `opencook --help` (which builds this package's CLI) does not import torch.
_WHERE = {
    "Reply": "client", "ServerError": "client", "complete": "client", "list_models": "client",
    "Completion": "generate", "as_tokenizer": "generate", "default_eos_ids": "generate", "generate": "generate",
    "next_tokens": "sampling", "ServedModel": "served", "load_served_model": "served", "make_server": "server",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
