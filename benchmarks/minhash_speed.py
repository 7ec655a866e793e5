"""MinHash speed side by side: opencook vs datasketch 2.0, rensa and datatrove, one input, one run.

Setup once (peers live in their own venv so their pins never touch the project's), then run:

    python3.11 -m venv .venv-peers
    .venv-peers/bin/pip install datatrove==0.10.1 "xxhash<4" spacy "datasketch>=2,<3" rensa scipy
    .venv/bin/python benchmarks/minhash_speed.py                 # --max-files 400 (default), --corpus DIR

Input: ``--max-files`` ``.py`` files sampled (by SHA-1 of their path, so the sample spreads over versions
and modules) from the CPython standard libraries under ``$(pyenv root)/versions/*/lib/python3.*/``
(``site-packages`` and ``__pycache__`` excluded; non-UTF-8 and empty files skipped), or from ``--corpus``.

One shingle definition for all: opencook's (lower-case, tokens = runs of ``\\w``, word 5-grams; a file
with fewer than 5 tokens has one shingle of all of them). opencook hashes a shingle to a uint64; the
peers that take strings get the very same shingles as space-joined strings (the parent checks that
every file has as many distinct strings as distinct hashes). Measured per core:

- (a) shingling alone: opencook ``shingle_batch`` (text -> sorted unique uint64 hashes, 4 MB batches as
  the stage uses) vs a pure-Python shingler of the same definition (text -> set of strings).
- (b) hashing alone on identical shingle sets: opencook ``signature_batch`` on its uint64 shingle hashes;
  rensa on the same uint64 hashes (``digest_matrix_from_flat_token_hashes``) and on the strings;
  datasketch 2.0 ``MinHash.bulk`` (``update_batch``) on the UTF-8 strings with sha1_hash32 (its default)
  and xxh32; datatrove's permutation step (``get_signature``) on the uint64 hashes.
- (c) end to end, text -> signatures: opencook ``shingle_batch`` + ``signature_batch`` + ``band_hashes``,
  and opencook's stage phase ``summarize`` (verify on: shingles kept) + writing its Parquet summary;
  pure-Python shingling + datasketch; datatrove ``MinhashDedupSignature`` with its own shingling
  (spaCy English tokens, 5-grams, xxhash64), bucket files written and sorted (end to end only).

Permutations 112 (datatrove's default 14x8), 128 (16x8), 256 (32x8), 2048 (OpenCoder's, 16x128); the
(b, r) pair only matters for band hashes and datatrove's bucket files. datatrove and datasketch at 2048
run at one worker only (0.1-0.4 MB/s; ``--slow-2048-workers`` to change). Each measurement is its own process
(``sched_setaffinity`` pins worker i to CPU i, ``RAYON_NUM_THREADS=1``): workers load their files
(every i-th file of K), say ready, start together, and report the best of up to 3 repeats (fewer when
a run is slow) of the timed region; opencook's per-process token-hash cache, where the version has
one, is emptied before each repeat, so every repeat is cold. Per core = bytes of source text / slowest worker's seconds / workers.
Peak RSS: VmHWM of the process, reset (``/proc/self/clear_refs``) after loading, so it is the peak
during the timed region including the resident input. CPU/wall is the process CPU time over wall
time (> 1 means a peer used more than one thread, < 1 that the shared machine took the core away).

Writes ``benchmarks/results/minhash_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, peer_versions, write_results  # noqa: E402

PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
PEER_SCRIPT = Path(__file__).parent / "peers" / "minhash_speed_peers.py"
PERMS = (112, 128, 256, 2048)
SHAPES = {112: (14, 8), 128: (16, 8), 256: (32, 8), 2048: (16, 128)}
SKIP_DIRS = {"__pycache__", "site-packages", ".git"}


# ---------------------------------------------------------------- the corpus


def pyenv_stdlibs() -> list[Path]:
    try:
        root = Path(subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        root = Path.home() / ".pyenv"
    return sorted(p for p in root.glob("versions/*/lib/python3.*") if p.is_dir())


def corpus_files(roots: list[Path], suffix: str = ".py") -> list[tuple[str, str, str]]:
    """(repo, path, text) of every UTF-8, non-empty ``suffix`` file under the roots, sorted."""
    out = []
    for root in roots:
        repo = f"{root.parent.parent.name}/{root.name}" if root.parent.name == "lib" else root.name
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if not name.endswith(suffix) or path.is_symlink() or not path.is_file():
                    continue
                try:
                    text = path.read_bytes().decode("utf-8")
                except (UnicodeDecodeError, OSError):
                    continue
                if text.strip():
                    out.append((repo, path.relative_to(root).as_posix(), text))
    return out


def sample(files: list[tuple[str, str, str]], max_files: int | None) -> list[tuple[str, str, str]]:
    """A deterministic spread-out sample: the files with the smallest SHA-1 of ``repo/path``."""
    if max_files is None or max_files >= len(files):
        return files
    key = sorted(files, key=lambda f: hashlib.sha1(f"{f[0]}/{f[1]}".encode()).digest())
    return sorted(key[:max_files], key=lambda f: (f[0], f[1]))


def py_shingles(text: str) -> list[str]:
    """The pure-Python twin of opencook's shingling (same tokens, same n-grams), as sorted strings."""
    import re

    toks = re.findall(r"\w+", text.lower())
    if not toks:
        return []
    if len(toks) < 5:
        return [" ".join(toks)]
    return sorted({" ".join(toks[i:i + 5]) for i in range(len(toks) - 4)})


def build_input(files: list[tuple[str, str, str]], dest: Path) -> dict:
    import numpy as np

    from opencook.data.dedup.minhash.shingles import shingle_batch

    texts = [t for _, _, t in files]
    hashes, offsets = shingle_batch(texts, 5)
    strings = [py_shingles(t) for t in texts]
    mismatched = int(sum(len(s) != int(offsets[i + 1] - offsets[i]) for i, s in enumerate(strings)))
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "texts.json").write_text(json.dumps(texts))
    (dest / "shingles.json").write_text(json.dumps(strings))
    np.save(dest / "hashes.npy", hashes)
    np.save(dest / "offsets.npy", offsets)
    repos = sorted({r for r, _, _ in files})
    return {"docs": len(texts), "text_mb": round(sum(len(t.encode("utf-8")) for t in texts) / 1e6, 3),
            "shingles": int(len(hashes)), "repos": repos,
            "files_with_string_vs_hash_count_mismatch": mismatched}


# ---------------------------------------------------------------- the opencook child


def _rss_mb() -> dict:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def opencook_child(args: argparse.Namespace) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    from opencook.data.dedup.minhash import shingles as shingles_mod
    from opencook.data.dedup.minhash.config import FuzzyDedupConfig
    from opencook.data.dedup.minhash.lsh import band_hashes
    from opencook.data.dedup.minhash.shingles import shingle_batch
    from opencook.data.dedup.minhash.signatures import signature_batch
    from opencook.data.dedup.minhash.stage import BATCH_BYTES, summarize
    from opencook.kit.stats import StageStats

    texts = json.loads((args.input / "texts.json").read_text())
    mine = list(range(args.part, len(texts), args.parts))
    texts = [texts[i] for i in mine]
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    batches: list[list[str]] = [[]]
    size = 0
    for t in texts:  # the stage's batching: ~4 MB of text per shingle/signature call
        batches[-1].append(t)
        size += len(t)
        if size >= BATCH_BYTES:
            batches.append([])
            size = 0
    batches = [b for b in batches if b]
    n = args.num_perm
    bands, rows = SHAPES.get(n, (1, n))
    out_bytes = None
    shingle_count = None

    if args.measure == "shingle":
        def fn():
            for b in batches:
                shingle_batch(b, 5)
    elif args.measure == "hash":
        pre = [shingle_batch(b, 5) for b in batches]
        shingle_count = sum(len(h) for h, _ in pre)
        signature_batch(pre[0][0][:10], np.array([0, min(10, len(pre[0][0]))]), n)  # permutations cached

        def fn():
            for h, o in pre:
                signature_batch(h, o, n)
    elif args.measure == "e2e":
        def fn():
            for b in batches:
                h, o = shingle_batch(b, 5)
                band_hashes(signature_batch(h, o, n), bands, rows)
    else:  # summarize: the stage's per-shard phase, Parquet summary written (verify on: shingles kept)
        config = FuzzyDedupConfig(num_perm=n, bands=bands, rows=rows)
        records = [{"id": f"{i}", "text": t, "repo": "r", "path": f"{i}.py", "language": "Python"}
                   for i, t in zip(mine, texts, strict=True)]
        tmp = Path(tempfile.mkdtemp(prefix="oc-minhash-"))

        def fn():
            nonlocal out_bytes
            table = summarize(iter(records), StageStats(), config)
            pq.write_table(table, tmp / "summary.parquet", compression="zstd")
            out_bytes = (tmp / "summary.parquet").stat().st_size

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = _rss_mb()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    walls, cpus = [], []
    for rep in range(args.max_reps):
        cache = getattr(shingles_mod, "_TOKEN_HASHES", None)
        if cache is not None:  # every repeat starts with a cold token-hash cache (if the version has one)
            cache.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        if walls[-1] > 4.0 or (rep >= 1 and sum(walls) > 6.0):
            break
    after = _rss_mb()
    print(json.dumps({"docs": len(texts), "bytes": nbytes, "shingles": shingle_count, "walls": walls,
                      "cpus": cpus, "rss_before_mb": before.get("VmRSS"), "peak_rss_mb": after.get("VmHWM"),
                      "out_bytes": out_bytes}), flush=True)


# ---------------------------------------------------------------- running one measurement on K workers


def run_workers(engine: str, measure: str, variant: str, num_perm: int, workers: int, input_dir: Path,
                max_reps: int) -> dict:
    procs = []
    env = dict(os.environ, RAYON_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", TQDM_DISABLE="1", PYTHONHASHSEED="0")
    ncpu = os.cpu_count() or 1
    for part in range(workers):
        if engine == "opencook":
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--measure", measure]
        else:
            cmd = [str(PEERS_PYTHON), str(PEER_SCRIPT), "--engine", engine, "--measure", measure,
                   "--variant", variant]
        cmd += ["--input", str(input_dir), "--num-perm", str(num_perm), "--part", str(part),
                "--parts", str(workers), "--max-reps", str(max_reps)]
        cpu = {part % ncpu}
        procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, cwd=ROOT, env=env,
                                      preexec_fn=lambda cpu=cpu: os.sched_setaffinity(0, cpu)))
    for p in procs:
        line = p.stdout.readline().strip()
        if line != "ready":
            err = p.stderr.read()[-3000:]
            raise RuntimeError(f"{engine} {measure} {variant} {num_perm}: child said {line!r}\n{err}")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"{engine} {measure} {variant} {num_perm} exited {p.returncode}:\n{err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    total_bytes = sum(r["bytes"] for r in results)
    docs = sum(r["docs"] for r in results)
    best = [min(r["walls"]) for r in results]
    seconds = max(best)
    cpu_best = [r["cpus"][r["walls"].index(min(r["walls"]))] for r in results]
    cpu_ratio = [c / min(r["walls"]) for c, r in zip(cpu_best, results, strict=True)]
    row = {"engine": engine, "measure": measure, "variant": variant, "num_perm": num_perm, "workers": workers,
           "seconds": round(seconds, 4), "mb_s_per_core": round(total_bytes / 1e6 / seconds / workers, 3),
           "docs_s_per_core": round(docs / seconds / workers, 1),
           "mb_per_cpu_s": round(total_bytes / 1e6 / max(sum(cpu_best), 1e-9), 3),
           "cpu_over_wall": round(min(cpu_ratio), 2) if workers else None,
           "cpu_over_wall_max": round(max(cpu_ratio), 2),
           "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
           "rss_before_mb": max(r["rss_before_mb"] for r in results),
           "repeats": [len(r["walls"]) for r in results], "walls": [[round(w, 4) for w in r["walls"]] for r in results]}
    if results[0].get("shingles"):
        row["mshingles_s_per_core"] = round(sum(r["shingles"] for r in results) / 1e6 / seconds / workers, 3)
    if results[0].get("out_bytes") is not None:
        row["out_bytes"] = sum(r["out_bytes"] for r in results)
    return row


LABELS = {
    ("opencook", "shingle", ""): "opencook shingle_batch (uint64 hashes)",
    ("python", "shingle", ""): "pure-Python shingling, same definition (strings)",
    ("opencook", "hash", ""): "opencook signature_batch (uint64 shingles)",
    ("rensa", "hash", "u64"): "rensa, the same uint64 shingles",
    ("rensa", "hash", "str"): "rensa, shingle strings",
    ("datasketch", "hash", "sha1"): "datasketch 2.0, strings, sha1_hash32 (default)",
    ("datasketch", "hash", "xxh32"): "datasketch 2.0, strings, xxh32",
    ("datatrove", "hash", ""): "datatrove get_signature, the same uint64 shingles",
    ("opencook", "e2e", ""): "opencook shingle_batch + signature_batch + band_hashes",
    ("opencook", "summarize", ""): "opencook fuzzy_dedup summarize + Parquet write (verify on)",
    ("datasketch", "e2e", "sha1"): "pure-Python shingling + datasketch (sha1_hash32)",
    ("datasketch", "e2e", "xxh32"): "pure-Python shingling + datasketch (xxh32)",
    ("datatrove", "e2e", ""): "datatrove MinhashDedupSignature (own shingling: spaCy, 5-grams, xxh64)",
}


SLOW_AT_2048 = {("datasketch", "hash", "sha1"), ("datasketch", "hash", "xxh32"), ("datasketch", "e2e", "xxh32"),
                ("datatrove", "hash", ""), ("datatrove", "e2e", "")}


def plan(perms: tuple[int, ...], workers: list[int], slow_2048_workers: list[int]) -> list[tuple]:
    rows = [(e, "shingle", "", 0, w) for w in workers for e in ("opencook", "python")]
    for measure, engines in (("hash", [("opencook", ""), ("rensa", "u64"), ("rensa", "str"), ("datasketch", "sha1"),
                                       ("datasketch", "xxh32"), ("datatrove", "")]),
                             ("e2e", [("opencook", ""), ("opencook", "summarize"), ("datasketch", "xxh32"),
                                      ("datatrove", "")])):
        for n in perms:
            for w in workers:
                for engine, variant in engines:
                    m, v = (variant, "") if variant == "summarize" else (measure, variant)
                    if n == 2048 and (engine, m, v) in SLOW_AT_2048 and w not in slow_2048_workers:
                        continue
                    rows.append((engine, m, v, n, w))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, nargs="*", default=None,
                    help="folders of source files (default: the pyenv CPython standard libraries)")
    ap.add_argument("--suffix", default=".py")
    ap.add_argument("--max-files", type=int, default=400)
    ap.add_argument("--perms", type=int, nargs="+", default=list(PERMS))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--slow-2048-workers", type=int, nargs="*", default=[1],
                    help="worker counts at which datatrove and datasketch run at 2048 permutations")
    ap.add_argument("--max-reps", type=int, default=3)
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--num-perm", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--parts", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        opencook_child(args)
        return
    if not PEERS_PYTHON.exists():
        raise SystemExit(f"{PEERS_PYTHON} is missing; create it first (see the top of {__file__})")

    load_before = [round(x, 2) for x in os.getloadavg()]
    t_start = time.perf_counter()
    roots = args.corpus or pyenv_stdlibs()
    files = sample(corpus_files(roots, args.suffix), args.max_files)
    work = Path(tempfile.mkdtemp(prefix="opencook-minhash-speed-"))
    info = build_input(files, work)
    info["roots"] = [str(r) for r in roots]
    print(f"input: {info['docs']} files, {info['text_mb']} MB, {info['shingles']} shingles; "
          f"load {load_before}", flush=True)

    rows = []
    for engine, measure, variant, n, w in plan(tuple(args.perms), args.workers, args.slow_2048_workers):
        row = run_workers(engine, measure, variant, n, w, work, args.max_reps)
        row["label"] = LABELS[(engine, measure, variant)]
        rows.append(row)
        print(f"{row['label']:<75} perms={n:<5} w={w} {row['mb_s_per_core']:>9.3f} MB/s/core "
              f"{row['docs_s_per_core']:>8.1f} docs/s/core  rss {row['peak_rss_mb']} MB  cpu/wall "
              f"{row['cpu_over_wall']}  load {os.getloadavg()[0]:.2f}", flush=True)

    ratios = []
    by = {(r["engine"], r["measure"], r["variant"], r["num_perm"], r["workers"]): r for r in rows}
    pairs = [("shingle", ("opencook", "shingle", ""), ("python", "shingle", ""))]
    pairs += [("hash", ("opencook", "hash", ""), peer) for peer in
              (("rensa", "hash", "u64"), ("rensa", "hash", "str"), ("datasketch", "hash", "sha1"),
               ("datasketch", "hash", "xxh32"), ("datatrove", "hash", ""))]
    pairs += [("e2e", ("opencook", "e2e", ""), peer) for peer in
              (("datasketch", "e2e", "xxh32"), ("datatrove", "e2e", ""))]
    pairs += [("e2e", ("opencook", "summarize", ""), ("datatrove", "e2e", ""))]
    for measure, ours, peer in pairs:
        for n in ([0] if measure == "shingle" else args.perms):
            for w in args.workers:
                a, b = by.get((*ours, n, w)), by.get((*peer, n, w))
                if a and b:
                    ratios.append({"measure": measure, "opencook": a["label"], "peer": b["label"], "num_perm": n,
                                   "workers": w, "ratio": round(a["mb_s_per_core"] / b["mb_s_per_core"], 2),
                                   "ratio_cpu": round(a["mb_per_cpu_s"] / b["mb_per_cpu_s"], 2)})

    commit, dirty = git_commit(ROOT, "src/opencook/data/dedup/minhash")
    peers = peer_versions(PEERS_PYTHON, ("datatrove", "datasketch", "rensa", "spacy", "xxhash", "numpy"))
    command = command_line("minhash_speed.py")
    result = {"benchmark": "minhash_speed", "commit": commit, "minhash_package_dirty": bool(dirty),
              "machine": machine_info(),
              "loadavg_1_5_15": {"start": load_before, "end": [round(x, 2) for x in os.getloadavg()]},
              "total_seconds": round(time.perf_counter() - t_start, 1), "peers": peers, "input": info,
              "rows": rows, "ratios": ratios, "command": command}
    md = render_md(result)
    write_results(args.results, "minhash_speed", result, md)
    print(md)
    import shutil

    shutil.rmtree(work, ignore_errors=True)


def render_md(r: dict) -> str:
    m, info = r["machine"], r["input"]
    lines = [
        "# MinHash speed: opencook vs datasketch 2.0, rensa, datatrove (one input, one run)", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, Python {m['python']}. "
        f"Commit {r['commit']}{' (minhash package with uncommitted edits)' if r['minhash_package_dirty'] else ''}. "
        f"Peers: {r['peers']}.", "",
        f"**Load average (1/5/15 min): start {r['loadavg_1_5_15']['start']}, end {r['loadavg_1_5_15']['end']}** — "
        f"the machine is shared with other jobs; on {m['cores']} cores a load above {m['cores']} means the "
        "benchmark's processes were competing for CPU, so absolute figures are pessimistic and noisy "
        "(ratios measured back to back are more reliable). Whole run: "
        f"{r['total_seconds']} s.", "",
        f"Input: {info['docs']} `.py` files, {info['text_mb']} MB, {info['shingles']} distinct (file, shingle) "
        f"pairs, from {', '.join(info['repos'])} (site-packages excluded). Shingles: opencook's definition "
        "(lower-case, `\\w+` tokens, word 5-grams) for every engine except datatrove's end to end; "
        f"files whose string-shingle count differs from opencook's hash count: "
        f"{info['files_with_string_vs_hash_count_mismatch']}.", "",
        f"Command: `{r['command']}`", "",
        "MB/s = MB of source text per second per core (hashing-alone rows too, so stages compare); "
        "`2w` = two processes, each on half the files, each pinned to its own core.", "",
    ]
    sections = [("(a) Shingling alone", ("shingle",)), ("(b) Hashing alone, identical shingle sets", ("hash",)),
                ("(c) End to end: text → signatures", ("e2e", "summarize"))]
    for title, measures in sections:
        sel = [x for x in r["rows"] if x["measure"] in measures]
        lines += [f"## {title}", "",
                  "| implementation | perms | workers | MB/s per core | docs/s per core | M shingles/s per core "
                  "| MB per CPU-second | peak RSS MB (input resident) | CPU/wall |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for x in sel:
            lines.append(f"| {x['label']} | {x['num_perm'] or '–'} | {x['workers']} | {x['mb_s_per_core']} | "
                         f"{x['docs_s_per_core']} | {x.get('mshingles_s_per_core', '–')} | {x['mb_per_cpu_s']} | "
                         f"{x['peak_rss_mb']} | "
                         f"{x['cpu_over_wall']}–{x['cpu_over_wall_max']} |")
        lines.append("")
    lines += ["## Ratios opencook / peer (> 1 favours opencook)", "",
              "| step | opencook | peer | perms | workers | MB/s per core ratio | MB per CPU-second ratio |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for q in r["ratios"]:
        lines.append(f"| {q['measure']} | {q['opencook']} | {q['peer']} | {q['num_perm'] or '–'} | {q['workers']} "
                     f"| {q['ratio']} | {q['ratio_cpu']} |")
    summ = [x for x in r["rows"] if x["measure"] == "summarize" and x["workers"] == 1 and x.get("out_bytes")]
    if summ:
        lines += ["", "Intermediate bytes of opencook's summarize (Parquet, zstd, shingles kept for verification): "
                  + ", ".join(f"{x['num_perm']} perms {x['out_bytes'] / 1e6:.1f} MB" for x in summ)
                  + f" for {info['text_mb']} MB of text."]
    lines += ["", "Notes:", "",
              "- Best of up to 3 repeats per process (1 when a run takes > 4 s); opencook's token-hash cache is "
              "cleared before every repeat, so its figures are cold-cache.",
              "- opencook's n-gram hashing happens in `shingle_batch` (text → uint64), so its hashing-alone rows "
              "are permutations only; rensa `u64` and datatrove `get_signature` get the same uint64 shingles, "
              "datasketch and rensa `str` also hash the strings.",
              "- datatrove end to end includes its own shingling (spaCy tokenizer), writing and sorting its "
              "bucket files; opencook summarize includes building the Arrow table with the shingles "
              "and writing it.",
              "- datatrove and datasketch at 2048 permutations run at one worker only (0.1–0.4 MB/s; two would "
              "double the run's length and add nothing).",
              "- MB per CPU-second divides by the CPU time the process got (all its threads), not wall time: "
              "on a loaded machine it is the steadier speed figure; wall-clock MB/s per core is the one asked for."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
