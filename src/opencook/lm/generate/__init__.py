"""KV-cache generation and an OpenAI-compatible server (``opencook lm serve``); its client is
``opencook.completions.client``."""

from opencook.kit.lazy import lazy_exports

# Names resolve on first use, so `opencook --help` (which builds this package's CLI) does not import torch.
_WHERE = {
    "Completion": "decoding", "as_tokenizer": "decoding", "default_eos_ids": "decoding", "generate": "decoding",
    "next_tokens": "sampling", "ServedModel": "served", "load_served_model": "served", "make_server": "server",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_exports(__name__, globals(), _WHERE)
