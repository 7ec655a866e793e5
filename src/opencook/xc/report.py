"""The training-run report: one self-contained HTML page per xc run, built from the run directory alone.

It reads what the trainer already wrote (``summary.json``, ``dataset.json``, ``metrics.jsonl``,
``config.yaml``, ``versions.json``) and recomputes nothing, so it renders for a crashed or
still-running run too: every absent or malformed input becomes a notice on the page, never an error.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opencook.core.report import page as P
from opencook.core.report import plots
from opencook.core.report.rundata import num_or_none

TABLE_ROWS = 100
KINDS = ("train", "eval", "graph", "resume")
_PRE = ' style="background:#f7f7f7; padding:.6em; overflow-x:auto; font-size:.85em"'


@dataclass
class Metrics:
    """``metrics.jsonl`` split by ``kind``, plus what could not be read."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k: [] for k in KINDS})
    bad_lines: list[int] = field(default_factory=list)
    truncated_tail: bool = False


def load_metrics(path: Path) -> Metrics | None:
    """Parse ``metrics.jsonl``; ``None`` when it is absent. Unknown kinds are ignored.

    A malformed last line is the normal trace of a crash mid-write, so it is only flagged; other
    malformed lines are skipped and listed, since they mean something else wrote into the file.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = Metrics()
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


def _read_json(path: Path, problems: list[str]) -> dict[str, Any] | None:
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


def _by_step(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records sorted by step; a resumed run re-logs steps after its checkpoint, and the later line wins."""
    latest = {r["step"]: r for r in records if isinstance(num_or_none(r.get("step")), int)}
    return [latest[s] for s in sorted(latest)]


def _xy(records: list[dict[str, Any]], key: str, scale: float = 1.0) -> tuple[list[float], list[float]]:
    """(steps, values) of the records that carry a finite ``key``; the rest are left out of the curve."""
    xs, ys = [], []
    for r in records:
        v = num_or_none(r.get(key))
        if v is not None and math.isfinite(v):
            xs.append(r["step"])
            ys.append(v * scale)
    return xs, ys


def _ema(ys: list[float]) -> list[float]:
    """Debiased moving average over ~2% of the points, so its shape does not depend on the log rate."""
    beta = min(0.995, 1.0 - 1.0 / max(2.0, len(ys) / 50))
    out, avg = [], 0.0
    for i, y in enumerate(ys, start=1):
        avg = beta * avg + (1 - beta) * y
        out.append(avg / (1 - beta**i))
    return out


def _fmt(key: str, v: Any) -> Any:
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


def _kv(d: dict[str, Any]) -> str:
    """Key/value table, nested dicts flattened one level (``train.samples``)."""
    rows = []
    for k, v in d.items():
        if isinstance(v, dict):
            rows += [(P.mono(f"{k}.{k2}"), _fmt(str(k2), v2)) for k2, v2 in v.items()]
        else:
            rows.append((P.mono(k), _fmt(str(k), v)))
    return P.table(["key", "value"], rows)


def _plot_or_notice(uri: str | None, alt: str, missing: str) -> str:
    return P.img(uri, alt) if uri else P.notice(missing)


@dataclass
class Run:
    run_dir: Path
    summary: dict[str, Any] | None
    dataset: dict[str, Any] | None
    metrics: Metrics | None
    problems: list[str]


def load(run_dir: Path) -> Run:
    problems: list[str] = []
    summary = _read_json(run_dir / "summary.json", problems)
    dataset = _read_json(run_dir / "dataset.json", problems)
    return Run(run_dir, summary, dataset, load_metrics(run_dir / "metrics.jsonl"), problems)


def section_summary(run: Run) -> str:
    out = [P.table(["run directory"], [[P.mono(str(run.run_dir.resolve()))]])]
    out += [P.notice(p) for p in run.problems]
    out.append(P.heading(3, "Final figures"))
    if run.summary is None:
        train = _by_step(run.metrics.records["train"]) if run.metrics else []
        last = f" The last logged training step is {train[-1]['step']:,}." if train else ""
        out.append(P.notice("summary.json is missing: the run crashed or is still running." + last))
    else:
        out.append(_kv(run.summary))
    out.append(P.heading(3, "Dataset"))
    out.append(_kv(run.dataset) if run.dataset else P.notice("dataset.json is missing or empty."))
    return "".join(out)


def section_curves(run: Run) -> str:
    """The six step plots: loss, eval, throughput, step time, memory, active set."""
    m = run.metrics
    if m is None:
        return P.notice(
            "metrics.jsonl is missing: the trainer logged nothing (did it start?), so there are no curves."
        )
    out = []
    if m.truncated_tail:
        out.append(
            P.para("The last line of metrics.jsonl is truncated (a write cut short); it is skipped.", "muted")
        )
    if m.bad_lines:
        shown = ", ".join(str(n) for n in m.bad_lines[:10]) + (" …" if len(m.bad_lines) > 10 else "")
        out.append(P.notice(f"{len(m.bad_lines)} malformed line(s) in metrics.jsonl skipped: line {shown}."))
    train, evals = _by_step(m.records["train"]), _by_step(m.records["eval"])
    if not train and not evals:
        return "".join(out) + P.notice("metrics.jsonl holds no train or eval records: nothing to plot.")
    resumes = [(float(r["step"]), "resume") for r in _by_step(m.records["resume"])]

    out.append(P.heading(3, "Training loss"))
    bad = [r["step"] for r in train if not math.isfinite(num_or_none(r.get("loss")) or 0.0)]
    if bad:
        out.append(P.notice(f"{len(bad)} step(s) logged a non-finite loss, the first at step {bad[0]:,}."))
    xs, ys = _xy(train, "loss")
    uri = plots.lines(
        [("loss", xs, ys), ("smoothed", xs, _ema(ys))],
        "training loss (sampled active-set loss)",
        "step",
        "loss",
        faint=["loss"],
        marks=resumes,
    )
    out.append(_plot_or_notice(uri, "training loss", "No train record carries a finite loss."))

    out.append(P.heading(3, "Evaluation"))
    out.append(
        P.para(
            "Top-1 and top-5 use the full softmax normaliser over all C classes, not the sampled "
            "training loss, so they are comparable across full, KNN and random heads."
        )
    )
    t1, t5 = _xy(evals, "top1", 100), _xy(evals, "top5", 100)
    uri = plots.lines(
        [("top-1", *t1), ("top-5", *t5)],
        "eval accuracy (full normaliser, all classes)",
        "step",
        "accuracy (%)",
        marks=resumes,
    )
    out.append(_plot_or_notice(uri, "eval accuracy", "No eval records: the run never evaluated."))
    if t1[0]:
        out.append(P.para(_last_eval(next(r for r in reversed(evals) if r["step"] == t1[0][-1]))))

    out.append(P.heading(3, "Throughput and step time"))
    uri = plots.lines(
        [("samples/s", *_xy(train, "samples_per_s"))], "throughput", "step", "samples/s", marks=resumes
    )
    out.append(_plot_or_notice(uri, "throughput", "No train record carries samples_per_s."))
    uri = plots.lines(
        [("step", *_xy(train, "step_ms")), ("head", *_xy(train, "head_ms"))],
        "step time and classifier-head time",
        "step",
        "ms",
        marks=resumes,
    )
    out.append(_plot_or_notice(uri, "step and head time", "No train record carries step_ms or head_ms."))

    out.append(P.heading(3, "Memory"))
    uri = plots.lines(
        [("peak memory", *_xy(train, "peak_mem_mb"))], "peak memory", "step", "MB", marks=resumes
    )
    out.append(_plot_or_notice(uri, "peak memory", "No train record carries peak_mem_mb."))

    out.append(P.heading(3, "Active set"))
    uri = plots.lines(
        [("active classes", *_xy(train, "active_classes"))],
        "active-set size",
        "step",
        "classes",
        right=[("fraction of C", *_xy(train, "active_fraction", 100))],
        right_label="% of C",
        marks=resumes,
    )
    out.append(
        _plot_or_notice(uri, "active-set size", "No train record carries active_classes or active_fraction.")
    )
    return "".join(out)


def _last_eval(r: dict[str, Any]) -> str:
    text = f"Last eval at step {r['step']:,}: top-1 {100 * r['top1']:.2f}%"
    if num_or_none(r.get("top5")) is not None:
        text += f", top-5 {100 * r['top5']:.2f}%"
    if num_or_none(r.get("eval_samples")) is not None:
        text += f", over {P.fmt_int(r['eval_samples'])} samples"
    return text + "."


def _cell(v: Any, fmt: str, missing: str = "") -> Any:
    n = num_or_none(v)
    return P.Cell(fmt.format(n), "num") if n is not None else (missing if v is None else str(v))


def section_events(run: Run) -> str:
    """Graph rebuilds and resumes: the discrete events that explain kinks in the curves."""
    m = run.metrics
    graphs = _by_step(m.records["graph"]) if m else []
    resumes = _by_step(m.records["resume"]) if m else []
    out = [P.heading(3, "KNN graph rebuilds")]
    if graphs:
        rows = [
            (
                P.num(r["step"]),
                r.get("method", ""),
                P.num(r.get("k", "")),
                _cell(r.get("build_s"), "{:.3f} s"),
                _cell(r.get("recall"), "{:.4f}", "not measured"),
            )
            for r in graphs[:TABLE_ROWS]
        ]
        out.append(P.table(["step", "method", "k", "build time", "recall@k"], rows))
        if len(graphs) > TABLE_ROWS:
            out.append(P.para(f"… and {len(graphs) - TABLE_ROWS:,} more rebuilds not shown.", "muted"))
    else:
        out.append(P.para("No graph rebuilds logged (a full or random head builds none).", "muted"))
    out.append(P.heading(3, "Resumes"))
    if resumes:
        rows = [
            (P.num(r["step"]), P.num(r.get("from_world_size", "")), P.num(r.get("world_size", "")))
            for r in resumes[:TABLE_ROWS]
        ]
        out.append(P.table(["step", "from world size", "world size"], rows))
    else:
        out.append(P.para("The run was never resumed.", "muted"))
    return "".join(out)


def section_config(run: Run) -> str:
    out = [P.heading(3, "Resolved config")]
    try:
        out.append(f"<pre{_PRE}>{P.esc((run.run_dir / 'config.yaml').read_text(encoding='utf-8'))}</pre>\n")
    except (OSError, UnicodeDecodeError):
        out.append(P.notice("config.yaml is missing: the settings of this run are unknown."))
    out.append(P.heading(3, "Versions"))
    problems: list[str] = []
    versions = _read_json(run.run_dir / "versions.json", problems)
    out += [P.notice(p) for p in problems]
    out.append(_kv(versions) if versions else P.notice("versions.json is missing."))
    return "".join(out)


SECTIONS = [
    ("summary", "Summary", section_summary),
    ("curves", "Curves", section_curves),
    ("events", "Graph rebuilds and resumes", section_events),
    ("config", "Config and versions", section_config),
]


def render_training_report(run_dir: Path) -> str:
    """The report as an HTML string (what ``write_training_report`` writes)."""
    run = load(Path(run_dir))
    body = "".join(P.heading(2, title, anchor) + fn(run) for anchor, title, fn in SECTIONS)
    return P.document(
        f"opencook xc training run: {Path(run_dir).name}", [(a, t) for a, t, _ in SECTIONS], body
    )


def write_training_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` (inline CSS, PNGs as data URIs, no scripts) and return its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(
            f"run directory {run_dir} does not exist: pass the output directory of a training run"
        )
    out = run_dir / "report.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(render_training_report(run_dir), encoding="utf-8")
    tmp.replace(out)
    return out
