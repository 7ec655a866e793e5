"""The training-run report: one self-contained HTML page per xc run, built from the run directory alone.

It reads what the trainer already wrote (``summary.json``, ``dataset.json``, ``metrics.jsonl``,
``config.yaml``, ``versions.json``) and recomputes nothing, so it renders for a crashed or
still-running run too: every absent or malformed input becomes a notice on the page, never an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opencook.kit.report import page as P
from opencook.kit.report import plots, training
from opencook.kit.report.page import num_or_none
from opencook.kit.report.training import Metrics
from opencook.kit.report.training import by_step as _by_step
from opencook.kit.report.training import ema as _ema
from opencook.kit.report.training import kv as _kv
from opencook.kit.report.training import plot_or_notice as _plot_or_notice
from opencook.kit.report.training import read_json as _read_json
from opencook.kit.report.training import xy as _xy

TABLE_ROWS = 100
KINDS = ("train", "eval", "graph", "resume", "coverage")


@dataclass
class Run:
    run_dir: Path
    summary: dict[str, Any] | None
    dataset: dict[str, Any] | None
    metrics: Metrics | None
    problems: list[str]


def load_metrics(path: Path) -> Metrics | None:
    """``metrics.jsonl`` of an xc run, split by kind (train, eval, graph, resume, coverage)."""
    return training.load_metrics(path, KINDS)


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
        [("step", *_xy(train, "step_ms")), ("compute", *_xy(train, "compute_ms")),
         ("exposed communication", *_xy(train, "comm_ms")), ("selection", *_xy(train, "selection_ms"))],
        "step time split: compute, communication the step waited for, active-set selection",
        "step",
        "ms",
        marks=resumes,
    )
    out.append(_plot_or_notice(uri, "step time split", "No train record carries step_ms."))

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


def section_coverage(run: Run) -> str:
    """The coverage gauge: the full softmax's mass and top-10 the active set holds, against uniform."""
    m = run.metrics
    gauges = _by_step(m.records["coverage"]) if m else []
    if not gauges:
        return P.para("No coverage records (head.coverage_every is 0, or the head is full softmax).", "muted")
    out = [P.para("For a sample of gathered rows at each gauged step: the share of the full softmax's probability "
                  "mass (over all C classes) that falls on the active set, and the share of the full softmax's "
                  "top-10 classes it holds -- for the selection in use and for uniform random classes of the "
                  "same number.")]
    keys = [("selected_mass", "mass, selection"), ("uniform_mass", "mass, uniform"),
            ("selected_top10_recall", "top-10 recall, selection"), ("uniform_top10_recall", "top-10 recall, uniform")]
    uri = plots.lines([(label, *_xy(gauges, key, 100)) for key, label in keys], "coverage of the full softmax",
                      "step", "%")
    out.append(_plot_or_notice(uri, "coverage", "No coverage record carries a finite value."))
    rows = [(P.num(r["step"]), P.num(r.get("active_classes", "")),
             *(_cell(100 * n if (n := num_or_none(r.get(key))) is not None else None, "{:.1f}%") for key, _ in keys))
            for r in gauges[-TABLE_ROWS:]]
    out.append(P.table(["step", "active classes", *(label for _, label in keys)], rows))
    return "".join(out)


def section_config(run: Run) -> str:
    return training.section_config(run.run_dir)


SECTIONS = [
    ("summary", "Summary", section_summary),
    ("curves", "Curves", section_curves),
    ("coverage", "Coverage of the full softmax", section_coverage),
    ("events", "Graph rebuilds and resumes", section_events),
    ("config", "Config and versions", section_config),
]


def render_training_report(run_dir: Path) -> str:
    """The report as an HTML string (what ``write_training_report`` writes)."""
    run = load(Path(run_dir))
    body = "".join(P.heading(2, title, anchor) + fn(run) for anchor, title, fn in SECTIONS)
    return P.document(
        f"opencook xc training run: {training.run_name(Path(run_dir))}", [(a, t) for a, t, _ in SECTIONS], body
    )


def write_training_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` (inline CSS, PNGs as data URIs, no scripts) and return its path."""
    return training.write_report(Path(run_dir), render_training_report)
