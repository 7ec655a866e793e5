"""Small self-made source trees for pipeline tests (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = ["total", "count", "index", "value", "buffer", "result", "offset", "weight", "name", "limit",
         "item", "node", "left", "right", "score", "price", "delta", "cache", "queue", "depth"]


def python_module(rng: random.Random, n_funcs: int = 4) -> str:
    """A plausible Python module with logic (loops, branches, assignments): passes quality rules."""
    lines = ['"""Utilities for processing records."""', "", "import math", ""]
    for _ in range(n_funcs):
        a, b, c = rng.sample(WORDS, 3)
        k = rng.randint(2, 9)
        lines += [
            "",
            f"def compute_{a}_{b}(items, {c}={k}):",
            f"    {a} = 0",
            "    for position, element in enumerate(items):",
            f"        if element % {k} == 0:",
            f"            {a} += element * {c}",
            "        else:",
            f"            {a} -= math.floor(element / {k + 1})",
            f"    {b} = [{a} + step for step in range({k})]",
            f"    return sum({b}) / max(len({b}), 1)",
        ]
    return "\n".join(lines) + "\n"


def c_source(rng: random.Random, n_funcs: int = 3) -> str:
    lines = ["#include <stdio.h>", "#include <stdlib.h>", ""]
    for _ in range(n_funcs):
        a, b = rng.sample(WORDS, 2)
        k = rng.randint(2, 9)
        lines += [
            f"static int {a}_{b}(const int *data, int length)",
            "{",
            f"    int {a} = 0;",
            "    for (int i = 0; i < length; i++) {",
            f"        if (data[i] % {k} == 0) {{",
            f"            {a} += data[i] * {k};",
            "        } else {",
            f"            {a} -= data[i] / {k + 1};",
            "        }",
            "    }",
            f"    return {a};",
            "}",
            "",
        ]
    return "\n".join(lines)


def make_repos(root: Path, seed: int = 0) -> Path:
    """Three repositories with exact duplicates across them, binary files and a sidecar of stars."""
    rng = random.Random(seed)
    shared = python_module(rng)
    for r in ("alpha", "beta", "gamma"):
        repo = root / "repos" / r
        (repo / "pkg").mkdir(parents=True)
        for i in range(4):
            (repo / "pkg" / f"mod{i}.py").write_text(python_module(rng))
        (repo / "src").mkdir()
        (repo / "src" / "core.c").write_text(c_source(rng))
        (repo / "pkg" / "shared.py").write_text(shared)  # identical in every repo
        (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
        (repo / "pkg" / "blob.py").write_bytes(b"import os\x00\x00\x01\x02" * 64)  # binary under a code name
        (repo / "notes.txt").write_text(f"short note for {r}\n")
    meta = root / "meta.jsonl"
    meta.write_text("".join(json.dumps({"repo": r, "stars": s, "commit_time": 1_700_000_000 + s}) + "\n"
                            for r, s in (("alpha", 10), ("beta", 500), ("gamma", 3))))
    return root


def pipeline_recipe(root: Path, **write: object) -> dict:
    """Every stage of the data pipeline over ``make_repos(root)``; small shards so there are many."""
    return {
        "name": "t",
        "seed": 1,
        "stages": [
            {"ingest": {"paths": [str(root / "repos")], "layout": "repos", "metadata": str(root / "meta.jsonl"),
                        "files_per_task": 4}},
            {"exact_dedup": {}},
            {"transform": {}},
            {"filter": {}},
            {"sample": {}},
            {"write": {"max_rows": 5, **write}},
        ],
    }


def dataset_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "dataset").glob("part-*"))}
