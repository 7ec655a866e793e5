"""Jupyter notebooks -> percent-format source text.

A notebook's JSON is mostly structure, escaping and (often huge) outputs; a code model
should see what a person wrote. We emit the jupytext "percent" format, which is itself a
valid script in the kernel's language:

    # %% [markdown]
    # Some prose, one comment line per markdown line
    # %%
    import numpy as np

Outputs and execution counts are dropped (generated, not written). The language is the
kernel's (``metadata.kernelspec.language`` or ``metadata.language_info.name``) mapped to
its Linguist name; a notebook that names no kernel is taken to be Python, the default of
the Jupyter format and the language of the large majority of notebooks on GitHub. An
unrecognised kernel keeps the language "Jupyter Notebook". Both nbformat 4 (``cells``)
and nbformat 3 (``worksheets[].cells`` with ``input``) are read.
"""

from __future__ import annotations

import json
from typing import Any

from opencook.data.ingest.languages import canonical_language

NOTEBOOK_LANGUAGE = "Jupyter Notebook"
_SLASH_COMMENT = {
    "C++",
    "C#",
    "C",
    "Java",
    "JavaScript",
    "TypeScript",
    "Go",
    "Rust",
    "Scala",
    "Kotlin",
    "Swift",
}
_DASH_COMMENT = {"Haskell", "Lua", "SQL"}
_SEMICOLON_COMMENT = {"Clojure", "Common Lisp", "Scheme", "Racket"}


class MalformedNotebook(ValueError):
    """The file is not a readable notebook (bad JSON or an unexpected structure)."""


def _comment_prefix(language: str) -> str:
    if language in _SLASH_COMMENT:
        return "//"
    if language in _DASH_COMMENT:
        return "--"
    if language in _SEMICOLON_COMMENT:
        return ";;"
    return "#"


def _kernel_language(nb: dict[str, Any]) -> str:
    meta = nb.get("metadata") or {}
    if not isinstance(meta, dict):
        return "Python"
    kernel = meta.get("kernelspec") or {}
    info = meta.get("language_info") or {}
    name = (kernel.get("language") if isinstance(kernel, dict) else None) or (
        info.get("name") if isinstance(info, dict) else None
    )
    if not name:
        return "Python"
    return canonical_language(str(name)) or NOTEBOOK_LANGUAGE


def _cells(nb: dict[str, Any]) -> list[Any]:
    if "cells" in nb:
        cells = nb["cells"]
    else:
        sheets = nb.get("worksheets")
        if not isinstance(sheets, list):
            raise MalformedNotebook("no 'cells' or 'worksheets'")
        cells = [c for ws in sheets if isinstance(ws, dict) for c in ws.get("cells") or []]
    if not isinstance(cells, list):
        raise MalformedNotebook("'cells' is not a list")
    return cells


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", cell.get("input", ""))
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    if not isinstance(src, str):
        raise MalformedNotebook("cell source is neither a string nor a list of strings")
    return src.strip("\n")


def notebook_to_text(raw: str) -> tuple[str, str]:
    """Convert a notebook's JSON text to ``(percent-format text, language)``.

    Raises ``MalformedNotebook``. Empty cells are skipped; the result may be "" when the
    notebook has no content (the caller counts that as ``empty``).
    """
    try:
        nb = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as e:
        raise MalformedNotebook(f"invalid JSON: {e}") from None
    if not isinstance(nb, dict):
        raise MalformedNotebook("top level is not an object")
    language = _kernel_language(nb)
    hash_ = _comment_prefix(language)
    parts: list[str] = []
    for cell in _cells(nb):
        if not isinstance(cell, dict):
            raise MalformedNotebook("a cell is not an object")
        src = _source(cell)
        if not src.strip():
            continue
        kind = cell.get("cell_type", "code")
        if kind == "code":
            parts.append(f"{hash_} %%\n{src}")
        else:
            tag = "markdown" if kind in ("markdown", "heading") else "raw"
            body = "\n".join(f"{hash_} {line}" if line else hash_ for line in src.split("\n"))
            parts.append(f"{hash_} %% [{tag}]\n{body}")
    text = "\n\n".join(parts)
    return (text + "\n" if text else ""), language
