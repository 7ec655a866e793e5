"""The LM training report: one self-contained HTML page per run (loss, validation loss against tokens, LR,
throughput, memory, resumes).

Built from the run directory alone (``summary.json``, ``model.json``, ``data.json``, ``metrics.jsonl``,
``config.yaml``, ``versions.json``), so it also renders for a crashed or still-running run.
"""

from __future__ import annotations

from pathlib import Path

from opencook.kit.report import page as P
from opencook.kit.report import plots, training
from opencook.kit.report.training import by_step, ema, fmt, kv, plot_or_notice, read_json, run_name, xy

KINDS = ("train", "resume", "eval")
INIT = "init_from "  # how the trainer's resume record names a start from another run's weights


def _start(source: object) -> tuple[str, str] | None:
    """(key, where) for a ``resumed_from`` value: a resume of this run, or an initialisation from another."""
    if not isinstance(source, str) or not source:
        return None
    if source.startswith(INIT):
        return "initialised_from", source[len(INIT):]
    return "resumed_from", source


def marks(records: list[dict]) -> list[tuple[float, str]]:
    """The charts' dashed lines: where this run resumed, or where it started from another run's weights."""
    out = []
    for r in by_step(records):
        start = _start(r.get("from"))
        label = f"initialised from {Path(start[1]).name}" if start and start[0] == "initialised_from" else "resume"
        out.append((float(r["step"]), label))
    return out


def _data_table(data: dict) -> str:
    """The data position: the scalars, then one row per source with what training has consumed of it
    (``data.json`` is rewritten at every checkpoint and at the end of a run)."""
    sources = data.get("sources")
    scalars = {k: v for k, v in data.items() if k != "sources"}
    out = kv(scalars)
    if isinstance(sources, list) and sources and all(isinstance(x, dict) for x in sources):
        keys = list(dict.fromkeys(k for x in sources for k in x))
        out += P.table(keys, [[P.mono(str(x[k])) if k == "path" else fmt(k, x.get(k)) for k in keys]
                              for x in sources])
    return out


def _summary(run_dir: Path, problems: list[str]) -> str:
    out = [P.table(["run directory"], [[P.mono(str(run_dir.resolve()))]])]
    summary = read_json(run_dir / "summary.json", problems)
    model = read_json(run_dir / "model.json", problems)
    data = read_json(run_dir / "data.json", problems)
    out += [P.notice(p) for p in problems]
    out.append(P.heading(3, "Final figures"))
    if summary:
        start = _start(summary.get("resumed_from"))
        shown = {k: v for k, v in summary.items() if k != "resumed_from"}
        if start:
            shown[start[0]] = start[1]
        out.append(kv(shown))
    else:
        out.append(P.notice("summary.json is missing: the run crashed or is still running."))
    out.append(P.heading(3, "Model"))
    out.append(kv(model) if model else P.notice("model.json is missing."))
    out.append(P.heading(3, "Data"))
    out.append(_data_table(data) if data else P.notice("data.json is missing."))
    return "".join(out)


def _curves(run_dir: Path) -> str:
    m = training.load_metrics(run_dir / "metrics.jsonl", KINDS)
    if m is None:
        return P.notice("metrics.jsonl is missing: the run has not finished a step.")
    train = by_step(m.records["train"])
    resumes = marks(m.records["resume"])
    out = []
    if m.truncated_tail:
        out.append(P.notice("The last line of metrics.jsonl is cut off (a crash mid-write); it is skipped."))
    xs, ys = xy(train, "loss")
    out.append(
        plot_or_notice(
            plots.lines(
                [("loss", xs, ys), ("smoothed", xs, ema(ys))],
                "training loss",
                "step",
                "cross-entropy (nats/token)",
                faint=["loss"],
                marks=resumes,
            ),
            "training loss",
            "No train record carries a finite loss.",
        )
    )
    evals = by_step(m.records["eval"])
    if evals:
        def by_tokens(records, key):
            pts = [(r["tokens_seen"], r[key]) for r in records if isinstance(r.get(key), int | float)
                   and isinstance(r.get("tokens_seen"), int | float)]
            return [x for x, _ in pts], [y for _, y in pts]

        tx, ty = by_tokens(train, "loss")
        out.append(
            plot_or_notice(
                plots.lines(
                    [("training loss (smoothed)", tx, ema(ty)), ("validation loss", *by_tokens(evals, "val_loss"))],
                    "validation loss against tokens",
                    "target tokens seen",
                    "cross-entropy (nats/token)",
                ),
                "validation loss",
                "No eval record carries a finite val_loss.",
            )
        )
        def cell(r, key, spec):  # an eval point may carry val_loss, humaneval/pass@1 or both
            return format(r[key], spec) if isinstance(r.get(key), int | float) else "—"

        out.append(P.table(["step", "tokens seen", "validation loss", "HumanEval pass@1"],
                           [[str(r["step"]), f"{r['tokens_seen']:,}", cell(r, "val_loss", ".4f"),
                             cell(r, "humaneval/pass@1", ".2%")] for r in evals]))
    out.append(
        plot_or_notice(
            plots.lines(
                [("learning rate", *xy(train, "lr"))],
                "learning rate",
                "step",
                "LR",
                right=[("grad norm", *xy(train, "grad_norm"))],
                right_label="grad norm",
                marks=resumes,
            ),
            "learning rate",
            "No train record carries lr.",
        )
    )
    out.append(
        plot_or_notice(
            plots.lines(
                [("tokens/s per device", *xy(train, "tokens_per_s_per_device"))],
                "throughput",
                "step",
                "tokens/s",
                right=[("MFU %", *xy(train, "mfu", 100))],
                right_label="MFU (%)",
                marks=resumes,
            ),
            "throughput",
            "No train record carries tokens_per_s_per_device.",
        )
    )
    out.append(
        plot_or_notice(
            plots.lines(
                [("peak memory", *xy(train, "memory_mib"))], "peak memory", "step", "MiB", marks=resumes
            ),
            "memory",
            "No train record carries memory_mib.",
        )
    )
    return "".join(out)


def render_lm_report(run_dir: Path) -> str:
    run_dir = Path(run_dir)
    problems: list[str] = []
    sections = [
        ("summary", "Summary", lambda: _summary(run_dir, problems)),
        ("curves", "Curves", lambda: _curves(run_dir)),
        ("config", "Config and versions", lambda: training.section_config(run_dir)),
    ]
    body = "".join(P.heading(2, title, anchor) + fn() for anchor, title, fn in sections)
    return P.document(f"opencook lm training run: {run_name(run_dir)}", [(a, t) for a, t, _ in sections], body)


def write_training_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` and return its path."""
    return training.write_report(Path(run_dir), render_lm_report)
