"""The report's "Fuzzy dedup" section: settings, S-curve, removals per language, cluster sizes, examples.

Read from the run directory alone: the stage's settings from ``config.yaml``, its counters from the
stats, the removed-files list from ``stages/NN_fuzzy_dedup/decision.parquet``, and the texts of the
example clusters from the input shards (the previous stage's ``shard-*.parquet``), reading only the
rows of the few files shown.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from opencook.data.report.rundata import RunData, Stage, config_stages
from opencook.kit.report import page as P
from opencook.kit.report import plots

EXAMPLES = 4
SNIPPET_LINES = 15
SNIPPET_WIDTH = 120
LANG_ROWS = 30

_PRE_CSS = ("<style>.pair { display: grid; grid-template-columns: 1fr 1fr; gap: .6em; } "
            ".pair pre { background: #f7f7f7; border: 1px solid #ddd; padding: .4em; overflow-x: auto; "
            "font-size: .78em; margin: 0; } .pair .cap { font-size: .85em; margin: .2em 0; }</style>\n")


def fuzzy_stages(run: RunData) -> list[Stage]:
    return [s for s in run.stages if s.name == "fuzzy_dedup"]


def _stage_dir(run: RunData, index: int) -> Path | None:
    root = run.run_dir / "stages"
    if not root.is_dir():
        return None
    return next((d for d in sorted(root.iterdir()) if d.is_dir() and d.name.startswith(f"{index:02d}_")), None)


def _config(run: RunData, stage: Stage) -> Any:
    """The stage's ``FuzzyDedupConfig`` rebuilt from config.yaml, or ``None``."""
    stages = config_stages(run.config)
    if stage.index >= len(stages):
        return None
    try:
        from opencook.data.dedup.minhash import FuzzyDedupConfig

        settings = dict(stages[stage.index][2])
        known = FuzzyDedupConfig.__dataclass_fields__
        return FuzzyDedupConfig(**{k: v for k, v in settings.items() if k in known})
    except Exception:  # an older or hand-edited config must not take the report down
        return None


def _snippet(text: str) -> str:
    lines = text.splitlines()[:SNIPPET_LINES]
    lines = [line if len(line) <= SNIPPET_WIDTH else line[: SNIPPET_WIDTH - 1] + "…" for line in lines]
    more = " …" if len(text.splitlines()) > SNIPPET_LINES else ""
    return "\n".join(lines) + ("\n" + more if more else "")


def _texts(shard_dir: Path | None, ids: set[str]) -> dict[str, str]:
    if shard_dir is None or not ids:
        return {}
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    found: dict[str, str] = {}
    for shard in sorted(shard_dir.glob("shard-*.parquet")):
        try:
            table = pq.read_table(shard, columns=["id", "text"],
                                  filters=pc.field("id").isin(pa.array(sorted(ids), pa.string())))
        except Exception:
            continue
        found.update(zip(table["id"].to_pylist(), table["text"].to_pylist(), strict=True))
        if len(found) >= len(ids):
            break
    return found


def _examples(run: RunData, stage: Stage, rows: list[dict[str, Any]]) -> str:
    removed = [r for r in rows if r["id"] != r["survivor_id"]]
    if not removed:
        return ""
    by_survivor: dict[str, dict[str, Any]] = {}
    for r in sorted(removed, key=lambda r: (-(r.get("cluster_size") or 0), r["survivor_id"],
                                            -(r.get("jaccard") or 0.0), r["id"])):
        by_survivor.setdefault(r["survivor_id"], r)
    picked = list(by_survivor.values())[:EXAMPLES]
    meta = {r["id"]: r for r in rows}
    texts = _texts(_stage_dir(run, stage.index - 1), {r["id"] for r in picked} | {r["survivor_id"] for r in picked})
    out = [P.heading(4, "Example clusters"), _PRE_CSS,
           P.para(f"Survivor (kept) on the left, one removed file on the right; first {SNIPPET_LINES} lines.",
                  "muted")]
    for r in picked:
        s = meta.get(r["survivor_id"], {})
        jac = r.get("jaccard")
        head = (f"cluster of {r.get('cluster_size')}; Jaccard to the survivor: "
                + (f"{jac:.3f}" if isinstance(jac, float) else "not verified"))
        out.append(P.para(head))
        cols = []
        for label, rec, rid in (("kept", s, r["survivor_id"]), ("removed", r, r["id"])):
            text = texts.get(rid)
            body = P.esc(_snippet(text)) if text is not None else P.esc("(text not found in the input shards)")
            cap = f"{label}: {rec.get('repo') or ''}/{rec.get('path') or rid}"
            cols.append(f'<div><p class="cap">{P.esc(cap)}</p><pre>{body}</pre></div>')
        out.append(f'<div class="pair">{"".join(cols)}</div>\n')
    return "".join(out)


def section_fuzzy(run: RunData) -> str:
    stages = fuzzy_stages(run)
    if not stages:
        return P.notice("No fuzzy dedup in this run.")
    out = []
    for stage in stages:
        if len(stages) > 1:
            out.append(P.heading(3, f"Stage {stage.label}"))
        out.append(_one_stage(run, stage))
    return "".join(out)


def _one_stage(run: RunData, stage: Stage) -> str:
    import numpy as np

    from opencook.data.dedup.minhash import implied_threshold, p_candidate

    cfg = _config(run, stage)
    c = stage.stats.counters if stage.stats is not None else Counter()
    out = []
    settings: list[list[Any]] = []
    bands = rows = None
    if cfg is not None:
        bands, rows = cfg.bands, cfg.rows
        settings += [["ngram", P.num(cfg.ngram)], ["permutations", P.num(cfg.num_perm)],
                     ["bands × rows", f"{cfg.bands} × {cfg.rows}"],
                     ["implied threshold (1/b)^(1/r)", f"{cfg.implied_threshold:.3f}"],
                     ["verification", f"on, Jaccard ≥ {cfg.jaccard_threshold:.3f}" if cfg.verify else "off"],
                     ["normalisation", P.mono(cfg.normalise)]]
        if cfg.preset:
            settings.append(["preset", P.mono(cfg.preset)])
    else:
        out.append(P.notice("The stage's settings could not be read from config.yaml."))
        if "fuzzy_implied_threshold_permille" in c:
            settings.append(["implied threshold", f"{c['fuzzy_implied_threshold_permille'] / 1000:.3f}"])
    settings += [["files hashed", P.num(c.get("fuzzy_files_hashed", 0))],
                 ["candidate pairs", P.num(c.get("fuzzy_candidate_pairs", 0))],
                 ["verified pairs", P.num(c.get("fuzzy_verified_pairs", 0))],
                 ["clusters", P.num(c.get("fuzzy_clusters", 0))],
                 ["files removed", P.num(c.get("fuzzy_files_removed", 0))],
                 ["bytes removed", P.nbytes(c.get("fuzzy_bytes_removed", 0))]]
    out.append(P.table(["", "value"], settings))

    if bands and rows:
        points = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)
        out.append(P.table(["J"] + [f"{s:.2f}" for s in points],
                           [["P(candidate)"] + [f"{float(p_candidate(s, bands, rows)):.2f}" for s in points]]))
        xs = np.linspace(0.0, 1.0, 201)
        marks = [(implied_threshold(bands, rows), f"implied threshold {implied_threshold(bands, rows):.3f}")]
        if cfg is not None and cfg.verify:
            marks.append((cfg.jaccard_threshold, f"verified at {cfg.jaccard_threshold:.3f}"))
        out.append(P.img(plots.s_curve(xs, p_candidate(xs, bands, rows),
                                       f"S-curve P(candidate | J), b={bands}, r={rows}", marks=marks),
                         "LSH S-curve for the settings used"))

    sizes = Counter({k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("fuzzy_cluster_size:")})
    if sizes:
        from opencook.data.report.sections import _bucket_key

        buckets = sorted(sizes, key=_bucket_key)
        out.append(P.heading(4, "Cluster sizes"))
        out.append(P.table(["cluster size", "clusters"], [[P.mono(b), P.num(sizes[b])] for b in buckets]))
        out.append(P.img(plots.histogram(buckets, [sizes[b] for b in buckets], "Near-duplicate cluster sizes",
                                         "files per cluster"), "fuzzy dedup cluster size histogram"))

    table = _decision(run, stage, out)
    if table is not None and table.num_rows:
        import pyarrow.compute as pc

        removed = table.filter(pc.not_equal(table["id"], table["survivor_id"]))
        agg = removed.group_by("language").aggregate([("id", "count"), ("nbytes", "sum")]).to_pylist()
        per_lang = {r["language"] or "unknown": (r["id_count"], r["nbytes_sum"] or 0) for r in agg}
        langs = sorted(per_lang, key=lambda lang: (-per_lang[lang][1], lang))
        out.append(P.heading(4, "Removed per language"))
        out.append(P.table(["language", "files removed", "bytes removed"],
                           [[P.mono(lang), P.num(per_lang[lang][0]), P.nbytes(per_lang[lang][1])]
                            for lang in langs[:LANG_ROWS]]))
        top = langs[:20]
        out.append(P.img(plots.hbar(top, [per_lang[x][1] for x in top],
                                    "Bytes removed by fuzzy dedup per language", "bytes"),
                         "bytes removed by fuzzy dedup per language"))
        first = removed.sort_by([("cluster_size", "descending"), ("survivor_id", "ascending"),
                                 ("id", "ascending")]).slice(0, 50 * EXAMPLES).to_pylist()
        survivors = {r["survivor_id"] for r in first}
        import pyarrow as pa

        kept = table.filter(pc.is_in(table["id"], pa.array(sorted(survivors), pa.string()))).to_pylist()
        out.append(_examples(run, stage, first + kept))
    return "".join(out)


def _decision(run: RunData, stage: Stage, out: list[str]) -> Any:
    d = _stage_dir(run, stage.index)
    path = d / "decision.parquet" if d is not None else None
    if path is None or not path.is_file():
        out.append(P.notice("decision.parquet (the removed-files list) is missing."))
        return None
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=["id", "repo", "path", "language", "nbytes", "survivor_id",
                                             "cluster_size", "jaccard"])
    except Exception as e:
        out.append(P.notice(f"decision.parquet could not be read ({type(e).__name__})."))
        return None
    out.append(P.para(f"Removed-files list: {path}", "muted"))
    return table
