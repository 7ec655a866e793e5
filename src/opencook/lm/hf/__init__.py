"""Hugging Face interop: LLaMA-architecture directories (and GGUF files) in and out."""

from opencook.lm.hf.dir import config_from_hf, load_hf_dir, read_hf_config, save_hf_dir
from opencook.lm.hf.importer import import_hf

__all__ = ["config_from_hf", "import_hf", "load_hf_dir", "read_hf_config", "save_hf_dir"]
