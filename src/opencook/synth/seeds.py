"""Seed code for the teacher: records of a dataset, cut to a length a teacher's context holds."""

from __future__ import annotations

from pathlib import Path

from opencook.kit.io import Dataset


def load_seeds(dataset: str | Path, limit: int | None = None, max_chars: int = 2000) -> list[dict]:
    """Up to ``limit`` seeds (``id``, ``text``) in dataset order; texts over ``max_chars`` are cut at a line
    boundary (a seed only inspires the teacher, it need not be whole). Empty texts are skipped."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit={limit}: give at least 1 seed (or no limit)")
    seeds = []
    for n, record in enumerate(Dataset(dataset).records()):
        text = (record.get("text") or "").strip()
        if not text:
            continue
        if len(text) > max_chars:
            cut = text.rfind("\n", 0, max_chars)
            text = text[: cut if cut > 0 else max_chars]
        seeds.append({"id": str(record.get("id") or n), "text": text})
        if limit is not None and len(seeds) >= limit:
            break
    if not seeds:
        raise ValueError(f"{dataset} holds no non-empty 'text' to use as seeds")
    return seeds


def sft_row(instruction: str, output: str, source: str, **meta: object) -> dict:
    """One SFT example in both shapes `opencook lm data sft` reads (it uses ``messages`` when present)."""
    return {"instruction": instruction, "output": output,
            "messages": [{"role": "user", "content": instruction}, {"role": "assistant", "content": output}],
            "source": source, **meta}
