"""The documents behind the counts: a few dropped inputs per reason (path, size, first lines, the signal values
that fired), the ``unknown_language`` drops by extension, and where the kept rejects are.

Examples come from the stage's stats (``kit/stats.py`` keeps up to three per reason, chosen by a hash of the
record id or path, so the same run gives the same examples however it was sharded).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from opencook.data.report.rundata import RunData, Stage
from opencook.kit.report import page as P

EXT_ROWS = 25
_PRE = "<pre style='margin:0; white-space:pre-wrap; font-size:.8em; max-height:9em; overflow:auto'>"


def _signals(values: object) -> str:
    if not isinstance(values, dict) or not values:
        return ""
    return ", ".join(f"{k} = {json.dumps(v) if not isinstance(v, float) else f'{v:.4g}'}" for k, v in values.items())


def _row(reason: str, ex: dict) -> str:
    first = ex.get("head")
    lines = f"{_PRE}{P.esc(first)}</pre>" if isinstance(first, str) and first else "<span class='muted'>—</span>"
    extra = {k: v for k, v in ex.items() if k not in ("key", "path", "size", "head", "signals", "language")}
    signals = "; ".join(x for x in (_signals(ex.get("signals")), _signals(extra)) if x)
    size = ex.get("size")
    return (f"<tr><td class='mono'>{P.esc(reason)}</td><td class='mono'>{P.esc(ex.get('path', ''))}</td>"
            f"<td class='num'>{P.esc(P.fmt_bytes(size) if isinstance(size, int) else '')}</td>"
            f"<td>{lines}</td><td class='mono'>{P.esc(signals)}</td></tr>\n")


def drop_examples(stage: Stage) -> str:
    """A table of the examples kept for each drop reason of ``stage``, reasons by count."""
    if stage.stats is None or not stage.stats.examples:
        return ""
    order = sorted(stage.stats.examples, key=lambda r: (-stage.stats.dropped.get(r, 0), r))
    rows = "".join(_row(reason, ex) for reason in order for ex in stage.stats.examples[reason])
    return (P.heading(4, f"Examples of what {stage.name} dropped")
            + "<table>\n<tr><th>reason</th><th>path</th><th>size</th><th>first lines</th>"
            "<th>signals</th></tr>\n" + rows + "</table>\n")


def unknown_by_extension(stage: Stage) -> str:
    """``unknown_language`` drops by file extension: which kinds of files no language claimed."""
    if stage.stats is None:
        return ""
    files = Counter({k.removeprefix("unknown_language_ext:"): v for k, v in stage.stats.counters.items()
                     if k.startswith("unknown_language_ext:")})
    if not files:
        return ""
    nbytes = {k.removeprefix("unknown_language_ext_bytes:"): v for k, v in stage.stats.counters.items()
              if k.startswith("unknown_language_ext_bytes:")}
    ranked = sorted(files, key=lambda e: (-nbytes.get(e, 0), -files[e], e))
    rows = [[P.mono(f".{e}" if e != "(none)" else e), P.num(files[e]), P.nbytes(nbytes.get(e, 0))]
            for e in ranked[:EXT_ROWS]]
    more = f" ({len(ranked) - EXT_ROWS} more extensions not shown)" if len(ranked) > EXT_ROWS else ""
    return (P.heading(4, "unknown_language by extension")
            + P.para("Files whose extension (or shebang) maps to no language; add a mapping to keep a kind."
                     + more, "muted")
            + P.table(["extension", "files", "bytes"], rows))


def rejects_note(run: RunData, stage: Stage) -> str:
    """Where this stage's kept rejects are (recipes with ``rejects: true``), with their row count."""
    folder = run.run_dir / "stages" / f"{stage.index:02d}_{stage.name}" / "rejects"
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return ""
    rows = 0
    for f in files:
        try:
            rows += pq.ParquetFile(f).metadata.num_rows
        except OSError:
            continue
    rel = Path(folder).relative_to(run.run_dir)
    return P.para(f"{rows:,} rejected rows kept with their reason in {rel}/ ({len(files)} file(s), the record "
                  "columns plus 'reason').")
