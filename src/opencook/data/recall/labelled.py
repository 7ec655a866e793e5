"""A labelled page sample (``url``, ``text``, ``label``) for precision and recall per round; a local file or
an fsspec URL."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opencook.data.recall.pages import parquet_file
from opencook.kit.io.compression import open_decompressed

_TRUE = {"1", "true", "yes", "code", "pos", "positive"}
_FALSE = {"0", "false", "no", "other", "neg", "negative", "none", ""}


@dataclass
class LabelledPages:
    urls: list[str]
    lines: list[str]
    labels: list[bool]


def _label(value: object, where: str) -> bool:
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{where}: label {value!r} is neither code (1/true/code) nor other (0/false/other)")


def load_labelled(path: str, to_lines: Callable[[Sequence[str]], list[str]]) -> LabelledPages:
    if path.endswith(".parquet"):
        with parquet_file(path) as pf:
            rows = pf.read().to_pylist()
    else:
        with open_decompressed(path) as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    urls, texts, labels = [], [], []
    for n, row in enumerate(rows, 1):
        where = f"{path} row {n}"
        if "text" not in row or "label" not in row:
            raise ValueError(f"{where}: a labelled page needs 'text' and 'label' (and 'url' for URL patterns)")
        urls.append(str(row.get("url") or ""))
        texts.append(row["text"])
        labels.append(_label(row["label"], where))
    if not any(labels) or all(labels):
        raise ValueError(f"{path}: the held-out sample needs both code and other pages to measure precision/recall")
    return LabelledPages(urls, to_lines(texts), labels)
