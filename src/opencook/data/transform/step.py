"""The ``transform`` stage: fix files instead of dropping them (RefineCode step 4)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from opencook.data.transform.copyright import remove_copyright_header
from opencook.data.transform.pii import redact_pii
from opencook.kit.stats import StageStats
from opencook.kit.step import Map, Record


@dataclass
class TransformConfig:
    remove_copyright: bool = True
    redact_pii: bool = True


class Transform(Map):
    """Strip leading copyright headers and redact PII/secrets; ``size_bytes`` keeps the raw size.

    A record is dropped (``transform:empty``) only when the transform itself left it blank,
    e.g. a file that was nothing but a licence notice.
    """

    name: ClassVar[str] = "transform"
    config_cls: ClassVar[type] = TransformConfig
    config: TransformConfig

    def process(self, records: Iterator[Record], stats: StageStats) -> Iterator[Record]:
        for record in records:
            text: str = record["text"]
            language = record.get("language") or ""
            new = text
            if self.config.remove_copyright:
                stripped = remove_copyright_header(new, language)
                if stripped != new:
                    stats.add("copyright_header_removed")
                    stats.add("copyright_header_bytes", len(new.encode()) - len(stripped.encode()))
                    new = stripped
            if self.config.redact_pii:
                new, counts = redact_pii(new, language)
                for kind, n in counts.items():
                    stats.add(f"pii:{kind}", n)
                if counts:
                    stats.add("pii_files")
            if new is not text and not new.strip() and text.strip():
                stats.drop("transform:empty", len(text.encode()), record)
                continue
            nbytes = len(new.encode())
            stats.kept(language or "unknown", nbytes)
            yield record if new is text else {**record, "text": new}
