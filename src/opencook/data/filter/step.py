"""The quality filter as a pipeline step (see ``opencook.kit.step``)."""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from opencook.data.filter.evaluate import COMPAT_MODES, Verdict, evaluate
from opencook.data.filter.langid import document_lang
from opencook.data.filter.rules import all_rule_names
from opencook.kit.step import Filter, Record

# Linguist names whose reference key is not simply the lower-cased name.
_PROGRAM_LANG = {
    "C++": "cpp",
    "C#": "csharp",
    "HTML+Razor": "csharp",  # .cshtml: the reference maps the extension to csharp
    "F#": "fsharp",
    "Shell": "shell",
    "Objective-C++": "objective-c++",
    "Visual Basic .NET": "visualbasic",
    "Jupyter Notebook": "jupyter",
    "Protocol Buffer": "protobuf",
    "Batchfile": "batch",
    "Emacs Lisp": "emacs-lisp",
    "Common Lisp": "common-lisp",
}


def program_lang_for(language: str) -> str:
    """The reference's lower-case language key for a Linguist name ("C++" -> "cpp").

    The key also names the Pygments lexer used to find comments, so unknown names fall back to
    the lower-cased name with spaces as dashes, which is how Pygments spells most aliases.
    """
    if language in _PROGRAM_LANG:
        return _PROGRAM_LANG[language]
    return language.strip().lower().replace(" ", "-") or "unknown"


@dataclass
class QualityFilterConfig:
    """Settings of the quality filter.

    - ``seed``: with each record's ``id``, seeds the draws of the probabilistic rules.
    - ``disabled_rules``: rule names never applied (e.g. ``qsc_code_cate_autogen``).
    - ``compat``: ``"fixed"`` (default) fixes the reference's known faults; ``"reference"``
      reproduces it exactly (docs/filter.md).
    - ``langid``: identify the natural language of text files that carry no ``lang`` (Chinese
      gets the ``zh`` rules and jieba words, as in the reference); off, they are English.
    - ``langid_model``: a fastText ``lid.176.bin``/``.ftz`` path, the reference's identifier;
      empty means py3langid, whose model ships in its wheel.
    """

    seed: int = 0
    disabled_rules: list[str] = field(default_factory=list)
    compat: str = "fixed"
    langid: bool = True
    langid_model: str = ""

    def __post_init__(self) -> None:
        if self.compat not in COMPAT_MODES:
            raise ValueError(f"filter.compat={self.compat!r}: use one of {COMPAT_MODES}")
        unknown = sorted(set(self.disabled_rules) - set(all_rule_names()))
        if unknown:
            raise ValueError(f"filter.disabled_rules: unknown rule(s) {unknown}; see docs/filter.md")


def record_rng(seed: int, record_id: str) -> random.Random:
    """A generator that depends only on (seed, record id), never on shard order or worker."""
    digest = hashlib.sha256(f"{seed}\0{record_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def judge(record: Record, config: QualityFilterConfig) -> Verdict:
    """Evaluate one record with the step's settings."""
    text = record["text"]
    filename = record.get("filename") or os.path.basename(record.get("path", ""))
    ext = record.get("ext")
    if ext is None:
        ext = os.path.splitext(filename)[1][1:].lower()
    doc_type = record.get("doc_type") or "unknown"
    lang = record.get("lang")
    if not lang and doc_type == "text" and config.langid:
        lang = document_lang(text, config.langid_model or None)
    return evaluate(
        text,
        filename,
        ext,
        program_lang_for(record.get("language") or "unknown"),
        doc_type,
        record_rng(config.seed, str(record.get("id") or record.get("path", ""))),
        size_bytes=record.get("size_bytes"),
        lang=lang or "en",
        compat=config.compat,
        disabled_rules=config.disabled_rules,
    )


class QualityFilter(Filter):
    """Drop files that a rule of their rule set fires on; count every rule that fired."""

    name: ClassVar[str] = "filter"
    config_cls: ClassVar[type] = QualityFilterConfig
    config: QualityFilterConfig

    def verdict(self, record: Record) -> str | None:
        verdict = judge(record, self.config)
        for hit in verdict.hits:
            self.stats.add(f"rule:{hit}")
        for err in verdict.errors:
            self.stats.add(f"signal_error:{err}")
        if verdict.kept:
            return None
        self._last = verdict
        return f"filter:{verdict.hits[0] if verdict.hits else (verdict.reason or 'unknown')}"

    def signals(self, record: Record, reason: str) -> dict[str, Any]:
        """The values of the rules that fired (or of the signals that failed to compute)."""
        v = self._last
        return {h: v.signals.get(h) for h in v.hits} if v.hits else dict(v.errors)

    def judge(self, record: Record) -> Verdict:
        return judge(record, self.config)


def verdict_row(record: Record, verdict: Verdict) -> dict[str, Any]:
    """A flat description of a verdict for reports."""
    return {
        "path": record.get("path", ""),
        "language": record.get("language") or "unknown",
        "doc_type": record.get("doc_type") or "unknown",
        "kept": verdict.kept,
        "hits": list(verdict.hits),
        "rule_set": verdict.rule_set,
        "reason": verdict.reason,
    }
