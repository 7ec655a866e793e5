"""The ``sample`` stage (RefineCode step 6): downsample over-represented languages.

The paper keeps 64 of 474 GB of HTML and 200 of 449 GB of Java and everything else at its
natural share. A record is kept iff ``u(seed, id) < ratio[language]`` where ``u`` is a uniform
number in [0, 1) from BLAKE2b of the seed and the record id: the verdict depends on nothing
else, so it is the same for any sharding, worker count or rerun.
"""

from __future__ import annotations

import difflib
import hashlib
import math
from dataclasses import dataclass, field
from typing import ClassVar

from opencook.data.ingest.languages import DOC_TYPE, UNKNOWN, canonical_language
from opencook.kit.step import Filter, Record


def _paper_ratios() -> dict[str, float]:
    return {"HTML": 64 / 474, "Java": 200 / 449}


@dataclass
class SampleConfig:
    """``ratios``: Linguist language name -> fraction of its files to keep; unlisted languages keep all."""

    ratios: dict[str, float] = field(default_factory=_paper_ratios)
    seed: int = 0

    def __post_init__(self) -> None:
        for language, ratio in self.ratios.items():
            if language not in DOC_TYPE and language != UNKNOWN:
                raise ValueError(_unknown_language(language))
            ok = isinstance(ratio, int | float) and not isinstance(ratio, bool) and math.isfinite(ratio)
            if not ok or not 0.0 <= ratio <= 1.0:
                raise ValueError(
                    f"sample: ratios[{language!r}] = {ratio!r} is not a number in [0, 1]; "
                    "give the fraction of that language's files to keep (e.g. 0.135)"
                )


def _unknown_language(name: object) -> str:
    """A ratio for a name no record carries would silently sample nothing: say which names exist."""
    close = canonical_language(str(name)) or next(iter(difflib.get_close_matches(str(name), list(DOC_TYPE), n=1)), None)
    hint = f"did you mean '{close}'?" if close else "languages are Linguist names such as 'Python', 'C++', 'HTML'"
    return f"ratios: unknown language {name!r}; {hint}"


def uniform(seed: int, record_id: str) -> float:
    """A number in [0, 1) that depends only on ``seed`` and ``record_id``."""
    digest = hashlib.blake2b(f"{seed}\0{record_id}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) / 2**53  # 53 bits: exactly representable, < 1


class Sample(Filter):
    """Keep each record of a listed language with probability ``ratios[language]``."""

    name: ClassVar[str] = "sample"
    config_cls: ClassVar[type] = SampleConfig
    config: SampleConfig

    def verdict(self, record: Record) -> str | None:
        language = record.get("language") or "unknown"
        ratio = self.config.ratios.get(language)
        if ratio is not None and not uniform(self.config.seed, record["id"]) < ratio:
            return f"sample:{language}"
        return None

    def signals(self, record: Record, reason: str) -> dict[str, float]:
        language = record.get("language") or "unknown"
        return {"ratio": self.config.ratios[language], "draw": uniform(self.config.seed, record["id"])}

    def nbytes(self, record: Record) -> int:
        """The text as it is now (a transform may have shortened it), not the raw file size."""
        return len(record["text"].encode())
