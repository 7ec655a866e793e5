"""Read a run directory (docs/run_directory.md) into one object the report sections share.

Reading never raises on a broken or half-finished run: a missing file becomes ``None`` and an
unreadable one also leaves a line in ``problems``, so the report can say what is absent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opencook.kit.report.page import num_or_none
from opencook.kit.stats import StageStats

_STAGE_DIR = re.compile(r"^(\d+)_(.+)$")


@dataclass
class Stage:
    """One pipeline stage as the report sees it; ``stats`` is ``None`` when none were written."""

    index: int
    name: str
    kind: str = ""
    seconds: float | None = None
    stats: StageStats | None = None
    shards: int | None = None
    shards_skipped: int | None = None

    @property
    def label(self) -> str:
        return f"{self.index:02d} {self.name}"


@dataclass
class RunData:
    """Everything read from a run directory; absent pieces stay ``None``/empty."""

    run_dir: Path
    config: dict[str, Any] | None = None
    versions: dict[str, Any] | None = None
    stages: list[Stage] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    manifest: Any = None
    problems: list[str] = field(default_factory=list)


def _read(path: Path, problems: list[str], loader: str = "json") -> Any:
    """Parse one file; a missing file is ``None``, an unreadable one is ``None`` plus a notice."""
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if loader == "json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as e:
        problems.append(f"{path.name} could not be read ({type(e).__name__}: {e}); its section is skipped.")
        return None


def _stats_from(d: Any) -> StageStats | None:
    return StageStats.from_dict(d) if isinstance(d, dict) else None


def _stage_from(idx: int, meta: dict[str, Any], stats: Any) -> Stage:
    """A stage from a stats.json entry (run level) or a stage's own stats.json (same keys, flat)."""
    return Stage(
        idx,
        str(meta.get("name", f"stage {idx}")),
        str(meta.get("kind") or ""),
        num_or_none(meta.get("seconds")),
        _stats_from(stats),
        meta.get("shards") if isinstance(meta.get("shards"), int) else None,
        meta.get("shards_skipped") if isinstance(meta.get("shards_skipped"), int) else None,
    )


def config_stages(config: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, kind, settings) per configured stage, tolerant of the common recipe shapes.

    Accepts ``stages: [{name: x, kind: y, ...}]``, ``stages: [{x: {...}}]`` and ``stages: [x]``.
    """
    if not isinstance(config, dict):
        return []
    items = next((config[k] for k in ("stages", "pipeline", "steps") if isinstance(config.get(k), list)), [])
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append((item, "", {}))
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            settings = {k: v for k, v in item.items() if k not in ("name", "kind", "type", "step")}
            kind = next((str(item[k]) for k in ("kind", "type", "step") if k in item), "")
            out.append((item["name"], kind, settings))
        elif isinstance(item, dict) and len(item) == 1:
            ((name, settings),) = item.items()
            out.append((str(name), "", settings if isinstance(settings, dict) else {"value": settings}))
        else:
            out.append((f"stage {i}", "", item if isinstance(item, dict) else {}))
    return out


def load_run(run_dir: Path) -> RunData:
    """Gather everything the report shows; stage order comes from the indices (NN_ prefix)."""
    run = RunData(run_dir=run_dir)
    cfg = _read(run_dir / "config.yaml", run.problems, "yaml")
    run.config = cfg if isinstance(cfg, dict) else None
    ver = _read(run_dir / "versions.json", run.problems)
    run.versions = ver if isinstance(ver, dict) else None
    top = _read(run_dir / "stats.json", run.problems)
    run.manifest = _read(run_dir / "manifest.json", run.problems)

    stages: dict[int, Stage] = {}
    if isinstance(top, dict):
        # run-level scalars ("recipe", "seconds") sit at the top level or under "totals"
        scalars = {k: v for k, v in top.items() if not isinstance(v, dict | list)}
        run.totals = {**scalars, **(top.get("totals") if isinstance(top.get("totals"), dict) else {})}
        for pos, s in enumerate(top.get("stages") or []):
            if isinstance(s, dict):
                idx = s.get("index") if isinstance(s.get("index"), int) else pos
                stages[idx] = _stage_from(idx, s, s.get("stats"))

    stage_root = run_dir / "stages"
    for d in sorted(stage_root.iterdir()) if stage_root.is_dir() else []:
        m = _STAGE_DIR.match(d.name)
        if not (d.is_dir() and m):
            continue
        idx = int(m.group(1))
        if idx not in stages or stages[idx].stats is None:
            raw = _read(d / "stats.json", run.problems)
            stages[idx] = _stage_from(
                idx, {"name": m.group(2), **(raw if isinstance(raw, dict) else {})}, raw
            )

    for idx, (name, kind, _) in enumerate(config_stages(run.config)):
        st = stages.setdefault(idx, Stage(idx, name, kind))
        st.kind = st.kind or kind
    run.stages = [stages[i] for i in sorted(stages)]
    return run
