"""SFT sources: which files make a source, which shape its rows have, and why a row cannot be used.

Two row shapes are read, whatever the file format (JSONL or Parquet, through ``kit.io.Dataset``):

- ``messages``: ``{"messages": [{"role", "content"}, ...]}`` (the chat shape);
- ``instruction``: ``{"instruction", "output"}`` (+ an optional ``input``), the shape of OpenCoder's released
  ``opc-sft-stage1`` and ``opc-sft-stage2`` Parquet files. Their other columns (``tag``, ``seq_id``, ``code``,
  ``entry_point``, ``testcase``...) are not trained on and are ignored.

The shape of each file is decided from its first row, so a file of neither shape is refused at once with
its name and columns, instead of turning every row into a "malformed" drop. A well-formed row that is not
a usable example is dropped under a reason (``malformed``, ``empty``), never silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opencook.benchmarks.decontam import DecontamConfig
from opencook.kit.io import Dataset
from opencook.lm.data.chat import example_messages


class SFTSchemaError(ValueError):
    """A source file whose columns match neither SFT shape; the message names the file and its columns."""


@dataclass
class SFTSourceConfig:
    """One source of a mixture: a JSONL/Parquet file or a folder of them.

    - ``weight``: the source's share of the weighted part of the mixture (relative to the other weights);
    - ``repeat``: how many times each kept row is used instead (2 = twice, 0.5 = a seeded half).
    Give one of them; neither means ``repeat: 1``. ``name`` labels the source in the manifest (default: the
    path's name)."""

    path: str
    weight: float | None = None
    repeat: float | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if self.weight is not None and self.repeat is not None:
            raise ValueError(f"source {self.path}: give weight or repeat, not both")
        for key in ("weight", "repeat"):
            value = getattr(self, key)
            if value is not None and not (isinstance(value, int | float) and 0 < value < float("inf")):
                raise ValueError(f"source {self.path}: {key}={value!r} must be a finite number > 0")
        self.name = self.name or Path(self.path).name


@dataclass
class SFTMixConfig:
    """A weighted SFT mixture (``opencook lm data sft --mix FILE``).

    - ``total``: rows the *weighted* sources give together; default: the rows they keep after filtering,
      so weights only change the proportions. ``repeat`` sources come on top.
    - ``seed``: which rows a fractional repeat or a weight samples; the same seed gives the same bytes.
    - ``decontaminate``/``decontam``: drop rows overlapping the evaluation sets, with the index the
      pipeline's ``decontaminate`` stage builds (``opencook.benchmarks.decontam``); on by default."""

    sources: list[SFTSourceConfig] = field(default_factory=list)
    seed: int = 0
    total: int | None = None
    decontaminate: bool = True
    decontam: DecontamConfig = field(default_factory=DecontamConfig)

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("sources: list at least one {path, weight | repeat} source")
        names = [s.name for s in self.sources]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"sources: names {dup} appear twice; give each source a distinct name")
        if self.total is not None and self.total < 1:
            raise ValueError(f"total={self.total}: give a positive number of rows, or leave it out")
        if self.total is not None and not any(s.weight is not None for s in self.sources):
            raise ValueError("total applies to weighted sources, and no source has a weight")


def load_mix(path: str | Path, overrides: dict[str, Any] | None = None) -> SFTMixConfig:
    """A mixture YAML as a typed config (a typo fails here, naming the key), dotted ``overrides`` (``--set``)
    on top. Source paths are taken as written (relative to the working directory), as in every recipe."""
    from opencook.kit.config import build_config, read_yaml_config

    return build_config(SFTMixConfig, read_yaml_config(Path(path), overrides), str(path))


def detect_shape(columns: list[str], where: str) -> str:
    """``messages`` or ``instruction`` from a row's columns; ``SFTSchemaError`` naming ``where`` otherwise."""
    if "messages" in columns:
        return "messages"
    if "instruction" in columns and "output" in columns:
        return "instruction"
    raise SFTSchemaError(f"{where}: columns {sorted(columns)} match no SFT shape: give 'messages' (a list of "
                         "{role, content}) or 'instruction' and 'output' (OpenCoder's opc-sft-stage1/stage2)")


def check_shape(file: Path) -> None:
    """Refuse a file whose first row matches no SFT shape (or that cannot be read) before any work."""
    for _, row in Dataset(file).located_records():
        detect_shape(list(row), str(file))
        return


def row_messages(row: dict) -> tuple[list[dict[str, str]] | None, str, str]:
    """``(messages, "", "")`` for a usable row, else ``(None, reason, detail)`` with reason ``malformed`` or
    ``empty`` (a missing/blank instruction or answer, or any blank user/assistant turn)."""
    if "messages" not in row and any(row.get(k) is None or (isinstance(row.get(k), str) and not row[k].strip())
                                     for k in ("instruction", "output")):
        return None, "empty", "blank or missing 'instruction'/'output'"
    try:
        messages = example_messages(row)
    except ValueError as exc:
        return None, "malformed", str(exc)
    blank = next((i for i, m in enumerate(messages) if m["role"] != "system" and not m["content"].strip()), None)
    if blank is not None:
        return None, "empty", f"a blank {messages[blank]['role']} turn"
    return messages, "", ""


def conversation_text(messages: list[dict[str, str]]) -> str:
    """What decontamination checks: every user and assistant turn (the system prompt is ours, not data)."""
    return "\n".join(m["content"] for m in messages if m["role"] != "system")
