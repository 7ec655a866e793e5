"""What a teacher stage asks (``Item``) and what it keeps (``Candidate``), and the parser between them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Messages = list[dict[str, str]]


@dataclass
class Item:
    """One request to the teacher; ``seed`` travels to the output for provenance."""

    id: str
    messages: Messages
    seed: dict[str, Any] = field(default_factory=dict)


@dataclass
class Candidate:
    """A parsed sample: ``program`` runs in the sandbox (None: nothing to run, kept as is); ``text`` is what
    decontamination checks; ``record`` becomes the output row."""

    item: Item
    program: str | None
    text: str
    record: dict[str, Any]


Parser = Callable[[Item, str, str], Candidate]


def item_id(stage: str, *parts: str) -> str:
    """A stable id from the content that made the request, so reruns match their journal."""
    return f"{stage}-{hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]}"


def seed_items(stage: str, prompt: str, system: str, seeds: list[dict]) -> list[Item]:
    """One item per seed: ``system`` plus ``prompt`` filled with the seed's text; the seed id travels along."""
    return [Item(item_id(stage, s["text"], prompt), [{"role": "system", "content": system},
                                                     {"role": "user", "content": prompt.format(seed=s["text"])}],
                 {"seed_id": s["id"]}) for s in seeds]
