"""Filter throughput per core on a mixed corpus of this machine's real code, this tree against a baseline.

The corpus is a deterministic sample of the machine's own files (``--corpus DIR`` uses every file
under DIR instead): Python standard libraries (``pyenv root``), ``/usr/include``, global npm modules
(``npm root -g``), shell and Perl scripts from ``/usr/bin`` (by shebang), the Go and Perl standard
libraries and ``/usr/share`` (Vim, CMake, Tcl, Emacs Lisp, PHP, ...). Each source's files are ordered by
the SHA-1 of their path and taken until the source's megabyte cap.

Both filters run in this one invocation, each in its own long-lived subprocess (1 process, 1 thread;
speed is bytes over the CPU time spent judging, so a shared machine's load slows the wall clock more
than the figure), fed the same slices of 40 files in turn, so changing load falls on both alike. The baseline is the package at ``--baseline`` (a git
revision, its ``src`` extracted under /tmp). Every file's verdict, hit list, signal
values and errors are compared between the two. Writes benchmarks/results/<name>.{json,md}.
Run: .venv/bin/python benchmarks/filter_speed_mixed.py [--baseline 564214e] [--modes reference fixed]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MAX_FILE_BYTES = 1_000_000  # a few huge generated files would otherwise dominate a 30 MB sample


def _sh(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def sources() -> list[tuple[str, list[Path], float, str]]:
    """(name, roots, megabyte cap, which files): the machine's real code, by kind."""
    pyenv = _sh("pyenv", "root")
    py_roots = sorted(Path(pyenv, "versions").glob("3.*/lib/python3.*")) if pyenv else []
    npm = _sh("npm", "root", "-g")
    return [
        ("python-stdlib", py_roots, 9.0, "known"),
        ("usr-include", [Path("/usr/include")], 7.0, "known"),
        ("npm", [Path(npm)] if npm else [], 5.0, "known"),
        ("usr-bin-scripts", [Path("/usr/bin"), Path("/usr/sbin")], 2.0, "shebang"),
        ("go-stdlib", sorted(Path("/usr/lib").glob("go-*/src")), 3.0, "known"),
        ("perl", [Path("/usr/share/perl"), Path("/usr/lib/x86_64-linux-gnu/perl-base")], 2.0, "known"),
        ("usr-share", [Path("/usr/share")], 4.0, "known"),
    ]


def _candidates(roots: list[Path], which: str, seen: set[Path]) -> list[tuple[str, Path, int]]:
    out = []
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [
                d
                for d in dirnames
                if d not in ("site-packages", "node_modules") or root.name == "node_modules"
            ]
            for name in filenames:
                p = Path(dirpath, name)
                try:
                    st = p.lstat()
                except OSError:
                    continue
                if not p.is_file() or p.is_symlink() or not 0 < st.st_size <= MAX_FILE_BYTES or p in seen:
                    continue
                if which == "shebang" and st.st_size > 200_000:
                    continue
                out.append((hashlib.sha1(str(p).encode()).hexdigest(), p, st.st_size))
    out.sort()
    return out


def build_corpus(corpus_dir: Path | None) -> list[dict]:
    from opencook.data.ingest.decode import is_binary, normalize_newlines
    from opencook.data.ingest.languages import detect_language, doc_type_for

    def record(source: str, p: Path, raw: bytes) -> dict | None:
        if is_binary(raw):
            return None
        lang = detect_language(p.name, raw[:512])
        doc_type = doc_type_for(lang)
        if doc_type not in ("code", "data", "text"):
            return None
        return dict(
            id=str(p),
            path=str(p),
            filename=p.name,
            size_bytes=len(raw),
            language=lang,
            doc_type=doc_type,
            source=source,
            text=normalize_newlines(raw.decode("utf-8", "replace")),
        )

    recs: list[dict] = []
    plan = [("corpus", [corpus_dir], float("inf"), "known")] if corpus_dir else sources()
    seen: set[Path] = set()
    for source, roots, cap_mb, which in plan:
        taken = 0
        for _, p, size in _candidates(roots, which, seen):
            if taken >= cap_mb * 1e6:
                break
            if which == "shebang":
                with open(p, "rb") as f:
                    if f.read(2) != b"#!":
                        continue
            try:
                raw = p.read_bytes()
            except OSError:
                continue
            r = record(source, p, raw)
            if r is None:
                continue
            seen.add(p)
            recs.append(r)
            taken += size
    return recs


# --- the worker: one filter version, one mode, timed per file ------------------------------------


def worker(corpus_file: str, mode: str, out_file: str) -> None:
    """Judge the slices of the corpus named on stdin ("start end" lines, then "end"); answer each with "ok"."""
    import gc

    from opencook.data.filter.step import QualityFilterConfig, judge

    with open(corpus_file, "rb") as f:
        recs = pickle.load(f)
    config = QualityFilterConfig(compat=mode)
    # One file of each language, and a Chinese text: lexers, parsers, grammars, jieba's dictionary
    # and regexes are loaded before timing (a one-off cost that a long run amortises).
    warm = {(r["language"], r["doc_type"]): r for r in reversed(recs)}
    for r in [
        *warm.values(),
        dict(
            id="zh",
            path="zh.txt",
            language="Text",
            doc_type="text",
            lang="zh",
            text="数据清洗流水线对每个文件计算质量信号。" * 20,
        ),
        # JavaScript that no tree-sitter grammar parses: fixed mode's fallback comment scanner
        dict(id="js", path="bad.js", language="JavaScript", doc_type="code", text="var x = ;\n// broken\n"),
    ]:
        judge(r, config)
    gc.collect()
    gc.freeze()  # the corpus held in memory is not the filter's garbage to traverse
    rows: list[tuple] = []
    wall = 0.0
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "end":
            break
        start, end = map(int, line.split())
        w = time.perf_counter()
        for r in recs[start:end]:
            t = time.process_time()
            v = judge(r, config)
            dt = time.process_time() - t
            rows.append(
                (
                    v.kept,
                    tuple(v.hits),
                    json.dumps(v.signals, sort_keys=True, default=str),
                    tuple(sorted(v.errors)),
                    v.rule_set,
                    v.reason,
                    dt,
                )
            )
        wall += time.perf_counter() - w
        print("ok", flush=True)
    out = {
        "cpu_s": sum(r[-1] for r in rows),
        "wall_s": wall,
        "rows": rows,
        "package": __import__("opencook").__file__,
    }
    with open(out_file, "wb") as f:
        pickle.dump(out, f)


def run_pair(srcs: dict[str, Path], corpus_file: str, mode: str, n: int, step: int = 40) -> dict[str, dict]:
    """Both versions as long-lived workers, fed the same slices of ``step`` files in turn (the order
    alternating), so a shared machine's changing load falls on both alike."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    procs, outs = {}, {}
    for label, src in srcs.items():
        fd, outs[label] = tempfile.mkstemp(suffix=".pkl")
        os.close(fd)
        procs[label] = subprocess.Popen(
            [sys.executable, __file__, "--worker", corpus_file, mode, outs[label]],
            env=dict(env, PYTHONPATH=str(src)),
            cwd=tempfile.gettempdir(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
    try:
        for p in procs.values():
            assert p.stdout.readline().strip() == "ready"
        labels = list(procs)
        for i, start in enumerate(range(0, n, step)):
            for label in labels if i % 2 == 0 else labels[::-1]:
                procs[label].stdin.write(f"{start} {min(n, start + step)}\n")
                procs[label].stdin.flush()
                assert procs[label].stdout.readline().strip() == "ok"
        res = {}
        for label, p in procs.items():
            p.stdin.write("end\n")
            p.stdin.close()
            assert p.wait() == 0
            with open(outs[label], "rb") as f:
                res[label] = pickle.load(f)
            pkg = Path(res[label]["package"]).resolve()
            assert pkg.is_relative_to(srcs[label].resolve()), f"{pkg} is not under {srcs[label]}"
        return res
    finally:
        for label, p in procs.items():
            if p.poll() is None:
                p.kill()
            os.unlink(outs[label])


def baseline_tree(rev: str) -> tuple[Path, str]:
    """``rev``'s package sources, extracted once under /tmp and reused by later runs."""
    from filter_equivalence import source_tree  # beside this file

    sha = _sh("git", "-C", str(ROOT), "rev-parse", "--short", rev)
    path = Path(tempfile.gettempdir()) / f"opencook_filter_base_{sha}"
    if not path.exists():
        tmp = Path(tempfile.mkdtemp(prefix=f"{path.name}."))
        source_tree(sha, tmp)
        tmp.rename(path)  # whole or not at all: an interrupted extraction is not reused
    return path / "src", sha


def summarise(recs: list[dict], res: dict) -> dict:
    by: dict[str, list[float]] = {}
    for r, row in zip(recs, res["rows"], strict=True):
        for key in ("all", f"source:{r['source']}", f"language:{r['language']}"):
            acc = by.setdefault(key, [0, 0.0, 0.0])
            acc[0] += 1
            acc[1] += r["size_bytes"]
            acc[2] += row[-1]
    return {
        k: {
            "files": n,
            "mb": round(b / 1e6, 3),
            "cpu_s": round(s, 3),
            "mb_s": round(b / 1e6 / s, 3) if s else None,
        }
        for k, (n, b, s) in by.items()
    }


def compare(recs: list[dict], a: dict, b: dict) -> dict:
    """Files whose verdict (kept, hits), signals, errors or rule set differ between two runs."""
    diff = {"kept": [], "hits": [], "signals": [], "errors": []}
    for r, x, y in zip(recs, a["rows"], b["rows"], strict=True):
        if x[0] != y[0]:
            diff["kept"].append(r["path"])
        if x[1] != y[1]:
            diff["hits"].append(r["path"])
        if x[2] != y[2]:
            diff["signals"].append(r["path"])
        if x[3:6] != y[3:6]:
            diff["errors"].append(r["path"])
    return {k: {"count": len(v), "examples": v[:5]} for k, v in diff.items()}


def main() -> None:
    from _machine import command_line, git_commit, machine_info, write_results

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--corpus", type=Path, default=None, help="every file under this folder instead of the sample"
    )
    ap.add_argument("--baseline", default="564214e", help="git revision of the previous filter")
    ap.add_argument("--modes", nargs="+", default=["reference", "fixed"])
    ap.add_argument("--name", default="filter_speed_mixed")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    t = time.perf_counter()
    recs = build_corpus(args.corpus)
    print(
        f"corpus: {len(recs)} files, {sum(r['size_bytes'] for r in recs) / 1e6:.1f} MB "
        f"({time.perf_counter() - t:.0f} s)",
        flush=True,
    )
    listing = "\n".join(f"{r['path']}\t{r['size_bytes']}" for r in recs)
    base_src, base_sha = baseline_tree(args.baseline)
    commit, dirty = git_commit(ROOT, "src/opencook/data/filter")
    load_before = os.getloadavg()
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as tmp:
        pickle.dump(recs, tmp)
        corpus_file = tmp.name
    modes = {}
    try:
        for mode in args.modes:
            runs = run_pair({"baseline": base_src, "current": ROOT / "src"}, corpus_file, mode, len(recs))
            print(mode, {k: f"{v['cpu_s']:.1f} s CPU" for k, v in runs.items()}, flush=True)
            modes[mode] = {
                "baseline": summarise(recs, runs["baseline"]),
                "current": summarise(recs, runs["current"]),
                "baseline_wall_s": round(runs["baseline"]["wall_s"], 1),
                "current_wall_s": round(runs["current"]["wall_s"], 1),
                "differences": compare(recs, runs["baseline"], runs["current"]),
                "kept": sum(row[0] for row in runs["current"]["rows"]),
            }
    finally:
        os.unlink(corpus_file)
    load_after = os.getloadavg()
    by_source: dict[str, int] = {}
    for r in recs:
        by_source[r["source"]] = by_source.get(r["source"], 0) + 1
    result = {
        "command": command_line("filter_speed_mixed.py"),
        "commit": commit,
        "dirty": dirty,
        "baseline": base_sha,
        "machine": machine_info(),
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in load_after],
        "files": len(recs),
        "mb": round(sum(r["size_bytes"] for r in recs) / 1e6, 2),
        "files_by_source": by_source,
        "corpus_sha256": hashlib.sha256(listing.encode()).hexdigest(),
        "modes": modes,
    }
    write_results(RESULTS, args.name, result, render(result))
    print(render(result))


def render(res: dict) -> str:
    md = [
        "# Quality filter throughput on a mixed real corpus: current vs previous release",
        "",
        f"`{res['command']}` at {res['commit']}{' (dirty)' if res['dirty'] else ''}, baseline {res['baseline']}. "
        f"{res['files']} files, {res['mb']} MB (corpus list sha256 {res['corpus_sha256'][:12]}).",
        f"Machine: {res['machine']['cpu']}, {res['machine']['cores']} cores shared with other jobs "
        f"(load average {res['load_avg_before'][0]} before, {res['load_avg_after'][0]} after). "
        "MB/s per core = bytes / CPU time of one single-threaded process (both versions in this run).",
        "",
    ]
    for mode, m in res["modes"].items():
        d = m["differences"]
        md += [
            f"## `{mode}` mode",
            "",
            f"Files differing baseline vs current: kept {d['kept']['count']}, hits {d['hits']['count']}, "
            f"signal values {d['signals']['count']}, errors/rule set {d['errors']['count']}. "
            f"Kept: {m['kept']} of {res['files']}. Wall: {m['baseline_wall_s']} s vs {m['current_wall_s']} s.",
            "",
            "| slice | files | MB | baseline MB/s | current MB/s | speed-up |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        keys = ["all"] + sorted(k for k in m["current"] if k.startswith("source:"))
        keys += sorted(
            (k for k in m["current"] if k.startswith("language:")), key=lambda k: -m["current"][k]["mb"]
        )[:12]
        for k in keys:
            b, c = m["baseline"][k], m["current"][k]
            up = f"{c['mb_s'] / b['mb_s']:.2f}x" if b["mb_s"] and c["mb_s"] else "n/a"
            md.append(f"| {k} | {c['files']} | {c['mb']} | {b['mb_s']} | {c['mb_s']} | {up} |")
        md.append("")
    md.append(
        "Goals (issue 17): 2 MB/s per core on the mixed corpus (item 10); JavaScript 5 MB/s per core (item 1)."
    )
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:5])
    else:
        main()
