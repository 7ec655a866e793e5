"""The ``github_text`` stage: code-related text files of repositories (OpenCoder's GitHub text recall).

After ``ingest``, a repository's READMEs, docs and notes are ordinary records. This stage keeps the ones
that are text by file name — ``names`` (``readme*``, ``contributing*``, ... matched case-insensitively
on the file name) or ``exts`` (``md``, ``rst``, ``txt``, ...) — plus the markdown cells of notebooks
(``notebooks``: ingest's percent-format text -> the cells' prose, comment markers removed), then scores
them with the recall loop's fastText classifier and keeps P(code) >= ``threshold``.

Counts: ``github_text:<rule>`` for each selected file (``readme``, ``name``, ``ext:md``, ``notebook``),
drops ``not_text_file``, ``notebook_without_markdown`` and ``recall:below_threshold``, and the score
bins ``recall_score_bin:<tenth>`` (as ``recall_score``). Kept records become ``doc_type`` ``text``;
a notebook's language becomes ``Markdown``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from opencook.data.recall.score import keep_scored, shared_classifier
from opencook.kit.stats import StageStats
from opencook.kit.step import Map, Record

NAMES = ["readme*", "contributing*", "changelog*", "changes*", "history*", "faq*", "install*", "usage*",
         "tutorial*", "howto*", "guide*", "hacking*", "authors*", "notes*"]
EXTS = ["md", "markdown", "mdown", "mkd", "rst", "rest", "txt", "text", "adoc", "asciidoc", "asc", "org",
        "textile", "rdoc", "pod", "rmd", "qmd", "wiki", "mediawiki", "creole"]
_CELL = re.compile(r"^(?P<mark>#|//|--|;;) %%(?P<tag> \[(?:markdown|raw)\])?\s*$")


@dataclass
class GithubTextConfig:
    """``model``: a recall classifier directory (``CodeClassifier.save``; every recall round writes one);
    ``tokenizer`` overrides the path stored with it; ``names``/``exts``: the file-name rules;
    ``notebooks``: recall notebooks' markdown cells; ``batch``: files per predict call."""

    model: str
    threshold: float = 0.5
    tokenizer: str | None = None
    names: list[str] = field(default_factory=lambda: list(NAMES))
    exts: list[str] = field(default_factory=lambda: list(EXTS))
    notebooks: bool = True
    batch: int = 256

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"github_text threshold={self.threshold} must be in [0, 1]")
        if self.batch < 1:
            raise ValueError("github_text batch must be >= 1")
        self.names = [n.lower() for n in self.names]
        self.exts = [e.lower().lstrip(".") for e in self.exts]


def text_rule(record: Record, config: GithubTextConfig) -> str | None:
    """Which rule selects this file (``readme``, ``name``, ``ext:<ext>``, ``notebook``), or ``None``."""
    filename = (record.get("filename") or record.get("path", "").rsplit("/", 1)[-1]).lower()
    ext = (record.get("ext") or "").lower().lstrip(".")
    if config.notebooks and ext == "ipynb":
        return "notebook"
    for pattern in config.names:
        if fnmatch.fnmatchcase(filename, pattern):
            return "readme" if pattern.startswith("readme") else "name"
    return f"ext:{ext}" if ext in config.exts else None


def notebook_markdown(text: str) -> str:
    """The markdown cells of ingest's percent-format notebook text, without their comment markers."""
    cells: list[list[str]] = []
    mark = None
    for line in text.splitlines():
        head = _CELL.match(line)
        if head:
            mark = head["mark"] if head["tag"] == " [markdown]" else None
            if mark:
                cells.append([])
            continue
        if mark:
            body = line[len(mark):]
            cells[-1].append(body[1:] if body.startswith(" ") else body)
    return "\n\n".join("\n".join(c).strip() for c in cells if any(s.strip() for s in c)).strip()


class GithubText(Map):
    name: ClassVar[str] = "github_text"
    config_cls: ClassVar[type] = GithubTextConfig
    config: GithubTextConfig

    def _select(self, records: Iterator[Record], stats: StageStats) -> Iterator[Record]:
        for record in records:
            nbytes = record.get("size_bytes") or len(record["text"].encode("utf-8", "surrogatepass"))
            rule = text_rule(record, self.config)
            if rule is None:
                stats.drop("not_text_file", nbytes)
                continue
            if rule == "notebook":
                prose = notebook_markdown(record["text"])
                if not prose:
                    stats.drop("notebook_without_markdown", nbytes)
                    continue
                record = {**record, "text": prose, "language": "Markdown",
                          "size_bytes": len(prose.encode("utf-8", "surrogatepass"))}
            stats.add(f"github_text:{rule}")
            yield {**record, "doc_type": "text"}

    def process(self, records: Iterator[Record], stats: StageStats) -> Iterator[Record]:
        clf = shared_classifier(self.config.model, self.config.tokenizer)
        yield from keep_scored(self._select(records, stats), clf, self.config.threshold, self.config.batch, stats)
