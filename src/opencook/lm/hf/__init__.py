"""Hugging Face interop: LLaMA-architecture directories (and GGUF files) in and out."""

import importlib

# Names resolve on first use, so `opencook --help` (which builds this package's CLI) does not import torch.
_WHERE = {"config_from_hf": "dir", "load_hf_dir": "dir", "read_hf_config": "dir", "save_hf_dir": "dir",
          "import_hf": "importer"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value  # also replaces a same-named submodule the import bound here (``generate``)
    return value
