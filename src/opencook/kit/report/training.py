"""Pieces shared by the training reports (xc and lm): reading ``metrics.jsonl`` and the run's JSON files,
per-step series, smoothing, summary tables, and the config/versions section.

Every reader turns an absent or malformed input into a notice, never an error, so a report renders for a
crashed or still-running run too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opencook.kit.report import page as P
from opencook.kit.report.page import num_or_none

_PRE = ' style="background:#f7f7f7; padding:.6em; overflow-x:auto; font-size:.85em"'


@dataclass
class Metrics:
    """``metrics.jsonl`` split by ``kind``, plus what could not be read."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    bad_lines: list[int] = field(default_factory=list)
    truncated_tail: bool = False


def load_metrics(path: Path, kinds: Sequence[str]) -> Metrics | None:
    """Parse ``metrics.jsonl``; ``None`` when it is absent. Unknown kinds are ignored.

    A malformed last line is the normal trace of a crash mid-write, so it is only flagged; other
    malformed lines are skipped and listed, since they mean something else wrote into the file.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = Metrics({k: [] for k in kinds})
    lines = text.splitlines()
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        if not isinstance(rec, dict):
            if no == len(lines) and not text.endswith("\n"):
                m.truncated_tail = True
            else:
                m.bad_lines.append(no)
            continue
        if rec.get("kind") in m.records:
            m.records[rec["kind"]].append(rec)
    return m


def read_json(path: Path, problems: list[str]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        problems.append(f"{path.name} could not be read ({type(e).__name__}: {e}); it is skipped.")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name} is not a JSON object; it is skipped.")
        return None
    return data


def run_name(run_dir: Path) -> str:
    """The run's own name (``name`` in ``summary.json`` or ``config.yaml``); the folder's name only when neither
    says, since ``--out`` folders are often ``run``, ``out`` or a date."""
    for name in ("summary.json", "config.yaml"):
        try:
            data = yaml.safe_load((run_dir / name).read_text(encoding="utf-8"))  # JSON is YAML
        except (OSError, ValueError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("name"), str) and data["name"].strip():
            return data["name"]
    return Path(run_dir).resolve().name


def by_step(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records sorted by step; a resumed run re-logs steps after its checkpoint, and the later line wins."""
    latest = {r["step"]: r for r in records if isinstance(num_or_none(r.get("step")), int)}
    return [latest[s] for s in sorted(latest)]


def xy(records: list[dict[str, Any]], key: str, scale: float = 1.0) -> tuple[list[float], list[float]]:
    """(steps, values) of the records that carry a finite ``key``; the rest are left out of the curve."""
    xs, ys = [], []
    for r in records:
        v = num_or_none(r.get(key))
        if v is not None and math.isfinite(v):
            xs.append(r["step"])
            ys.append(v * scale)
    return xs, ys


def ema(ys: list[float]) -> list[float]:
    """Debiased moving average over ~2% of the points, so its shape does not depend on the log rate."""
    beta = min(0.995, 1.0 - 1.0 / max(2.0, len(ys) / 50))
    out, avg = [], 0.0
    for i, y in enumerate(ys, start=1):
        avg = beta * avg + (1 - beta) * y
        out.append(avg / (1 - beta**i))
    return out


def fmt(key: str, v: Any) -> Any:
    """A summary value as a table cell: accuracies as percentages, wall times as durations."""
    if v is None or isinstance(v, bool | str):
        return str(v)
    if isinstance(v, int):
        return P.num(v)
    if isinstance(v, float):
        if re.fullmatch(r"top\d+|.*(acc|accuracy|recall)", key) and 0.0 <= v <= 1.0:
            return P.Cell(f"{100 * v:.2f}%", "num", repr(v))
        if key.endswith("wall_s") or key in ("time_s", "elapsed_s"):
            return P.Cell(P.fmt_seconds(v), "num", repr(v))
        return P.Cell(f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}", "num", repr(v))
    text = json.dumps(v, default=str)
    return P.mono(text if len(text) <= 200 else text[:199] + "…")


def kv(d: dict[str, Any]) -> str:
    """Key/value table, nested dicts flattened one level (``train.samples``)."""
    rows = []
    for k, v in d.items():
        if isinstance(v, dict):
            rows += [(P.mono(f"{k}.{k2}"), fmt(str(k2), v2)) for k2, v2 in v.items()]
        else:
            rows.append((P.mono(k), fmt(str(k), v)))
    return P.table(["key", "value"], rows)


def plot_or_notice(uri: str | None, alt: str, missing: str) -> str:
    return P.img(uri, alt) if uri else P.notice(missing)


def section_config(run_dir: Path) -> str:
    out = [P.heading(3, "Resolved config")]
    try:
        out.append(f"<pre{_PRE}>{P.esc((run_dir / 'config.yaml').read_text(encoding='utf-8'))}</pre>\n")
    except (OSError, UnicodeDecodeError):
        out.append(P.notice("config.yaml is missing: the settings of this run are unknown."))
    out.append(P.heading(3, "Versions"))
    problems: list[str] = []
    versions = read_json(run_dir / "versions.json", problems)
    out += [P.notice(p) for p in problems]
    out.append(kv(versions) if versions else P.notice("versions.json is missing."))
    return "".join(out)


def write_report(run_dir: Path, render: Callable[[Path], str]) -> Path:
    """Write ``run_dir/report.html`` (inline CSS, PNGs as data URIs, no scripts) and return its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(
            f"run directory {run_dir} does not exist: pass the output directory of a training run"
        )
    out = run_dir / "report.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(render(run_dir), encoding="utf-8")
    tmp.replace(out)
    return out
