"""Differential check of the quality filter: every signal value, hit and error must be unchanged.

Computes the full ``evaluate(...)`` result (signals dict, hits, errors, reason) for a fixed set of
real files -- the standard library's ``.py`` files, ``/usr/include`` headers, Markdown files found
under ``/usr/share/doc`` and the Python installation, and the 120 conformance files -- in ``fixed``
mode (all files) and ``reference`` mode (a subset), and compares with either a saved JSONL baseline
or the code at a git revision. Values are compared exactly (``repr``), not within a tolerance.

Run:
  .venv/bin/python benchmarks/filter_equivalence.py --save /tmp/filter_baseline.jsonl
  .venv/bin/python benchmarks/filter_equivalence.py --against /tmp/filter_baseline.jsonl
  .venv/bin/python benchmarks/filter_equivalence.py --rev HEAD~3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def source_tree(rev: str, dest: Path) -> Path:
    """The package sources of git revision ``rev``, extracted under ``dest`` (``git archive``: no worktree
    is registered in the repository); returns ``dest / "src"``, the ``PYTHONPATH`` that imports them."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def inputs(py_limit: int, h_limit: int, md_limit: int, ref_limit: int) -> list[dict]:
    """The files to judge, in a deterministic order, with their evaluate() arguments."""
    import filter_conformance as conformance  # beside this file

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    py = sorted(str(p) for p in stdlib.rglob("*.py") if "site-packages" not in str(p))
    random.Random(0).shuffle(py)
    heads = sorted(str(p) for p in Path("/usr/include").rglob("*.h"))
    random.Random(1).shuffle(heads)
    mds = sorted(
        {str(p) for base in ("/usr/share/doc", str(stdlib.parent)) for p in Path(base).rglob("*.md")}
    )
    random.Random(2).shuffle(mds)
    items: list[dict] = []

    def add(path: str, lang: str, doc_type: str, compat: str, size: int | None = None) -> None:
        items.append(dict(path=path, lang=lang, doc_type=doc_type, compat=compat, size=size))

    for i, p in enumerate(py[:py_limit]):
        add(p, "python", "code", "fixed")
        if i < ref_limit:
            add(p, "python", "code", "reference")
    for i, p in enumerate(heads[:h_limit]):
        add(p, "c", "code", "fixed")
        if i < ref_limit // 4:
            add(p, "cpp", "code", "reference")
    for p in mds[:md_limit]:
        add(p, "markdown", "text", "fixed")
    croot = conformance.default_dir(ROOT)
    if (croot / "verdicts.jsonl").exists():
        for ref in conformance.load_reference(croot):
            p = croot / "files" / ref["path"]
            for compat in ("fixed", "reference"):
                add(str(p), ref["program_lang"], ref["doc_type"], compat, p.stat().st_size)
    return items


def _judge(item: dict) -> dict:
    from opencook.data.filter.evaluate import evaluate

    p = Path(item["path"])
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return {"key": _key(item), "error": repr(e)}
    v = evaluate(
        text,
        p.name,
        os.path.splitext(p.name)[1][1:],
        item["lang"],
        item["doc_type"],
        random.Random(0),
        size_bytes=item["size"],
        compat=item["compat"],
    )
    return {
        "key": _key(item),
        "kept": v.kept,
        "hits": v.hits,
        "reason": v.reason,
        "errors": v.errors,
        "signals": {k: repr(x) for k, x in v.signals.items()},
    }


def _key(item: dict) -> str:
    return f"{item['compat']}|{item['lang']}|{item['path']}"


def compute(items: list[dict], workers: int) -> list[dict]:
    if workers <= 1:
        return [_judge(it) for it in items]
    with get_context("fork").Pool(workers) as pool:
        return list(pool.imap(_judge, items, chunksize=8))


def save(rows: list[dict], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def compare(base: list[dict], new: list[dict], show: int = 20) -> int:
    old = {r["key"]: r for r in base}
    diffs: list[str] = []
    for r in new:
        o = old.get(r["key"])
        if o is None:
            diffs.append(f"{r['key']}: not in baseline")
            continue
        for field in ("kept", "hits", "reason", "errors", "error"):
            if o.get(field) != r.get(field):
                diffs.append(f"{r['key']}: {field} {o.get(field)!r} -> {r.get(field)!r}")
        so, sn = o.get("signals", {}), r.get("signals", {})
        for k in sorted(set(so) | set(sn)):
            if so.get(k) != sn.get(k):
                diffs.append(f"{r['key']}: {k} {so.get(k)} -> {sn.get(k)}")
    missing = set(old) - {r["key"] for r in new}
    diffs += [f"{k}: missing from new run" for k in sorted(missing)]
    for d in diffs[:show]:
        print(d)
    n_sig = sum(len(r.get("signals", {})) for r in new)
    print(f"{len(new)} evaluations, {n_sig} signal values compared: {len(diffs)} differences")
    return len(diffs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", type=Path, help="write this tree's results as a JSONL baseline")
    g.add_argument("--against", type=Path, help="compare this tree with a saved baseline")
    g.add_argument("--rev", help="compare this tree with the code at a git revision")
    ap.add_argument("--py", type=int, default=100_000, help="stdlib .py files (default: all)")
    ap.add_argument("--headers", type=int, default=400, help="/usr/include headers")
    ap.add_argument("--md", type=int, default=200, help="Markdown files (text signals)")
    ap.add_argument("--ref", type=int, default=400, help="files also judged in reference mode")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    items = inputs(args.py, args.headers, args.md, args.ref)
    if args.rev:
        with tempfile.TemporaryDirectory() as tmp:
            src = source_tree(args.rev, Path(tmp))
            base_file = Path(tmp) / "base.jsonl"
            cmd = [sys.executable, __file__, "--save", str(base_file), "--py", str(args.py)]
            cmd += ["--headers", str(args.headers), "--md", str(args.md), "--ref", str(args.ref)]
            cmd += ["--workers", str(args.workers)]
            env = dict(os.environ, PYTHONPATH=str(src))
            subprocess.run(cmd, check=True, env=env)
            base = load(base_file)
    elif args.against:
        base = load(args.against)
    rows = compute(items, args.workers)
    if args.save:
        save(rows, args.save)
        print(f"saved {len(rows)} evaluations to {args.save}")
        return
    sys.exit(1 if compare(base, rows) else 0)


if __name__ == "__main__":
    main()
