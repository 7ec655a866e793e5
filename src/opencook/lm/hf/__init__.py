"""Hugging Face interop: LLaMA-architecture directories (and GGUF files) in and out."""

from opencook.kit.lazy import lazy_exports

# Names resolve on first use, so `opencook --help` (which builds this package's CLI) does not import torch.
_WHERE = {"config_from_hf": "dir", "load_hf_dir": "dir", "read_hf_config": "dir", "save_hf_dir": "dir",
          "import_hf": "importer"}
__all__ = sorted(_WHERE)

__getattr__ = lazy_exports(__name__, globals(), _WHERE)
