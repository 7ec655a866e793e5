"""The data report: one self-contained HTML page per run, built from the run directory alone.

The report answers "what did each step remove, and why?" from the stats the runner already
wrote; it recomputes nothing from the dataset, so it renders in about a second even for a
large run, and it renders for a broken or half-finished run too.
"""

from __future__ import annotations

from pathlib import Path

from opencook.data.report.fuzzy import fuzzy_stages, section_fuzzy
from opencook.data.report.rundata import load_run
from opencook.data.report.sections import (
    section_dedup,
    section_drops,
    section_funnel,
    section_header,
    section_languages,
    section_manifest,
    section_rules,
    section_transform,
)
from opencook.kit.report import page as P
from opencook.kit.report.training import run_name

SECTIONS = [
    ("run", "Run", section_header),
    ("funnel", "Funnel", section_funnel),
    ("drops", "Drops by reason", section_drops),
    ("rules", "Filter rules", section_rules),
    ("languages", "Languages", section_languages),
    ("dedup", "Exact dedup", section_dedup),
    ("fuzzy", "Fuzzy dedup", section_fuzzy),
    ("transform", "Transform", section_transform),
    ("manifest", "Manifest", section_manifest),
]


def render_data_report(run_dir: Path) -> str:
    """The report as an HTML string (what ``write_data_report`` writes)."""
    run = load_run(Path(run_dir))
    # the fuzzy dedup section only appears when a fuzzy_dedup stage ran
    shown = [s for s in SECTIONS if s[0] != "fuzzy" or fuzzy_stages(run)]
    body = "".join(P.heading(2, title, anchor) + fn(run) for anchor, title, fn in shown)
    return P.document(f"opencook data run: {run_name(Path(run_dir))}", [(a, t) for a, t, _ in shown], body)


def write_data_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` (self-contained: inline CSS, PNGs as data URIs) and return its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist: pass the --out directory of a run")
    out = run_dir / "report.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(render_data_report(run_dir), encoding="utf-8")
    tmp.replace(out)
    return out
