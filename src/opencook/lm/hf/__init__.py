"""Hugging Face interop: LLaMA-architecture directories (and GGUF files) in and out."""
