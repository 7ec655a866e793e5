"""KV-cache generation and an OpenAI-compatible server (``opencook lm serve``) with a matching client."""

import importlib

# Names resolve on first use, so `opencook --help` (which builds this package's CLI) does not import torch.
_WHERE = {
    "Reply": "client", "ServerError": "client", "complete": "client", "list_models": "client",
    "Completion": "decoding", "as_tokenizer": "decoding", "default_eos_ids": "decoding", "generate": "decoding",
    "next_tokens": "sampling", "ServedModel": "served", "load_served_model": "served", "make_server": "server",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value  # also replaces a same-named submodule the import bound here (``generate``)
    return value
