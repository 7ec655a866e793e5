"""Language models: packed and SFT data (data/), the LLaMA-style model (model/), its trainer (train/),
Hugging Face import/export (hf/) and generation, serving and the in-process eval backend (generate/).
The tokenizer lives one floor down, in ``opencook.tokenizer``."""
