"""MinHash-LSH dedup quality: opencook's removed set vs brute-force exact Jaccard, planted duplicates,
run-to-run agreement, and agreement with datatrove at its default settings.

Setup once (peers live in their own venv), then run:

    python3.11 -m venv .venv-peers
    .venv-peers/bin/pip install datatrove==0.10.1 "xxhash<4" spacy scipy
    .venv/bin/python benchmarks/minhash_quality.py             # all pyenv stdlibs (~13.5k files); --max-files N

Corpus: every UTF-8 ``.py`` file of the CPython standard libraries under ``$(pyenv root)/versions/*/lib/
python3.*/`` (``site-packages``/``__pycache__`` excluded), or ``--corpus``; one record per file, ``repo`` =
the version folder, ``id`` = ``repo/path``. Several versions of the same module are the real near
(and exact) duplicates. No stars or commit times, so the survivor rule (most stars, latest commit,
then smallest repo, path, id) is: smallest (repo, path, id).

1. Ground truth (``benchmarks/peers/minhash_ground_truth.py``, peers venv, scipy): exact Jaccard of every
   pair of files sharing a shingle, on opencook's own shingles (the sets its verification uses).
   Removed set at threshold t = every member of each connected component of the J >= t graph except
   its survivor (the same rule). Files without a shingle are never duplicates.
2. opencook (``summarize`` per shard, ``decide``; ``verify`` on and off) at t = 0.7 and 0.8 with
   ``num_perm=256, threshold=t`` (b, r chosen by the S-curve), and with the ``datatrove`` preset (14x8,
   112 perms; ``verify_threshold=t``). Precision = |removed ∩ truth| / |removed|, recall = |removed ∩
   truth| / |truth|; pair recall = share of the true near-duplicate pairs (t <= J < 1, distinct
   shingle sets) whose two files opencook puts in one cluster; candidate precision = verified /
   candidate pairs.
3. Planted near-duplicates: ``--planted`` files (>= 40 lines) of one version, each with four variants:
   ``edit`` (1-10% of lines edited: a token replaced, the line deleted or a new line inserted),
   ``rename`` (up to 3 identifiers defined in the file renamed everywhere), ``whitespace``
   (re-indented to 2 spaces, spaces around ``=`` and after ``,`` changed, blank lines doubled, trailing
   spaces), ``combined`` (5% edits + rename + whitespace). Recall = share of (original, variant) pairs
   in one cluster; also among the pairs whose exact Jaccard is >= t (the ones a perfect dedup at t finds).
4. Determinism: the t = 0.7 run again on a different sharding (3 shards instead of 4, records shuffled):
   the removed sets must be identical.
5. datatrove (``benchmarks/peers/datatrove_minhash.py``: its default 14x8, 112 perms, own shingling,
   no verification) on the files of 1/24 of the module paths (all versions of each, so the
   near-duplicates stay; ``--datatrove-share``; it shingles at ~0.1-0.4 MB/s per core here, so
   ~10 MB keeps it to a minute or two), side by side with opencook's ``datatrove`` preset
   (verify off and on): Jaccard of the removed-id sets and of the sets of files in clusters, and each
   one's removed set against the ground truth at 0.7 and 0.8.

Writes ``benchmarks/results/minhash_quality.{json,md}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, peer_versions, write_results  # noqa: E402
from minhash_speed import corpus_files, pyenv_stdlibs, sample  # noqa: E402

PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
PEERS = Path(__file__).parent / "peers"
THRESHOLDS = (0.7, 0.8)


# ---------------------------------------------------------------- helpers


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Component label (smallest member index) of every node: a plain union-find, independent of opencook."""
    parent = list(range(n))

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx != ry:
            if rx < ry:
                parent[ry] = rx
            else:
                parent[rx] = ry
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def removed_from_labels(labels: np.ndarray, rank: np.ndarray) -> set[int]:
    """Members of every component of two or more except the best-ranked one (file indices)."""
    order = np.lexsort((rank, labels))
    lab = labels[order]
    first = np.r_[True, lab[1:] != lab[:-1]]
    size = np.bincount(labels)
    return {int(i) for i, f, lb in zip(order, first, lab, strict=True) if not f and size[lb] > 1}


def jaccard_sets(x: set, y: set) -> float:
    return 1.0 if not x and not y else len(x & y) / len(x | y)


def pr(removed: set, truth: set) -> dict:
    tp = len(removed & truth)
    return {"removed": len(removed), "truth_removed": len(truth), "true_positives": tp,
            "precision": round(tp / len(removed), 4) if removed else 1.0,
            "recall": round(tp / len(truth), 4) if truth else 1.0}


# ---------------------------------------------------------------- ground truth


class Truth:
    def __init__(self, texts: list[str], work: Path, min_jaccard: float):
        from opencook.data.dedup.minhash.shingles import shingle_batch

        hashes, counts = [], []
        for s in range(0, len(texts), 500):
            h, o = shingle_batch(texts[s:s + 500], 5)
            hashes.append(h)
            counts.append(np.diff(o))
        self.hashes = np.concatenate(hashes)
        cnt = np.concatenate(counts)
        self.offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(cnt, out=self.offsets[1:])
        work.mkdir(parents=True, exist_ok=True)
        np.save(work / "hashes.npy", self.hashes)
        np.save(work / "offsets.npy", self.offsets)
        t0 = time.perf_counter()
        out = subprocess.run([str(PEERS_PYTHON), str(PEERS / "minhash_ground_truth.py"), "--input", str(work),
                              "--min-jaccard", str(min_jaccard)], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-3000:])
        print(out.stdout.strip(), flush=True)
        z = np.load(work / "ground_truth.npz")
        self.seconds = round(time.perf_counter() - t0, 1)
        self.set_of_file = z["set_of_file"]
        self.a, self.b, self.j = z["a"], z["b"], z["j"]
        self.info = {"distinct_nonempty_sets": int(z["distinct_sets"]), "distinct_shingles": int(z["distinct_shingles"]),
                     "pairs_sharing_a_shingle": int(z["pairs_sharing_a_shingle"]), "seconds": self.seconds,
                     "files_without_shingles": int((self.set_of_file < 0).sum())}
        n_sets = int(z["distinct_sets"])
        self.rep = np.full(n_sets, -1, dtype=np.int64)
        files = np.flatnonzero(self.set_of_file >= 0)
        self.rep[self.set_of_file[files[::-1]]] = files[::-1]  # first file of each set

    def file_labels(self, t: float, subset: np.ndarray | None = None) -> np.ndarray:
        """Per file, its component at threshold t (files of ``subset`` only when given; others -1-ish singletons)."""
        n = len(self.set_of_file)
        keep = np.ones(n, bool) if subset is None else np.isin(np.arange(n), subset)
        # nodes: files; edges: file -> first kept file of its set, and the set pairs >= t through kept reps
        sets = self.set_of_file
        rep_kept = np.full(len(self.rep), -1, dtype=np.int64)
        files = np.flatnonzero(keep & (sets >= 0))
        rep_kept[sets[files[::-1]]] = files[::-1]
        ea = [files]
        eb = [rep_kept[sets[files]]]
        sel = self.j >= t - 1e-12
        pa, pb = rep_kept[self.a[sel]], rep_kept[self.b[sel]]
        ok = (pa >= 0) & (pb >= 0)
        ea.append(pa[ok])
        eb.append(pb[ok])
        return components(n, np.concatenate(ea), np.concatenate(eb))

    def near_pairs(self, t: float, subset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """File pairs (first files of two distinct shingle sets) with t <= J < 1."""
        sel = (self.j >= t - 1e-12) & (self.j < 1.0)
        a, b = self.rep[self.a[sel]], self.rep[self.b[sel]]
        if subset is not None:
            sets = self.set_of_file
            rep_kept = np.full(len(self.rep), -1, dtype=np.int64)
            files = np.intersect1d(subset, np.flatnonzero(sets >= 0))
            rep_kept[sets[files[::-1]]] = files[::-1]
            a, b = rep_kept[self.a[sel]], rep_kept[self.b[sel]]
            ok = (a >= 0) & (b >= 0)
            a, b = a[ok], b[ok]
        return a, b


# ---------------------------------------------------------------- opencook


def opencook_summaries(records: list[dict], config, shards: int) -> tuple[list, float]:
    from opencook.data.dedup.minhash.stage import summarize
    from opencook.kit.stats import StageStats

    t0 = time.perf_counter()
    tables = [summarize(iter(records[k::shards]), StageStats(), config) for k in range(shards)]
    return tables, time.perf_counter() - t0


def opencook_decide(summaries: list, config) -> tuple[dict[str, str], dict, float]:
    """id -> survivor id of every clustered file, the decide stats, seconds."""
    from opencook.data.dedup.minhash.stage import decide
    from opencook.kit.stats import StageStats

    stats = StageStats()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="oc-fuzzy-") as tmp:
        decision = decide(summaries, stats, config, Path(tmp))
    seconds = time.perf_counter() - t0
    members = dict(zip(decision["id"].to_pylist(), decision["survivor_id"].to_pylist(), strict=True))
    return members, dict(stats.counters), seconds


def removed_ids(members: dict[str, str]) -> set[str]:
    return {i for i, s in members.items() if s != i}


def labels_from_members(ids: list[str], members: dict[str, str]) -> np.ndarray:
    index = {x: k for k, x in enumerate(ids)}
    lab = np.arange(len(ids))
    for i, s in members.items():
        lab[index[i]] = index[s]
    return lab


# ---------------------------------------------------------------- planted duplicates


WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta", "value", "item", "node", "buf"]


def variant(text: str, kind: str, rng: random.Random, pct: float) -> str:
    lines = text.split("\n")
    if kind in ("rename", "combined"):
        names = sorted(set(re.findall(r"^\s*(?:def|class)\s+([A-Za-z_]\w*)", text, re.M)
                           + re.findall(r"^\s*([A-Za-z_]\w*)\s*=[^=]", text, re.M)))
        names = [n for n in names if len(n) > 2 and not n.startswith("__")]
        for name in rng.sample(names, min(3, len(names))):
            text = re.sub(rf"\b{re.escape(name)}\b", f"{name}_{rng.choice(WORDS)}", text)
        lines = text.split("\n")
    if kind in ("edit", "combined"):
        p = 0.05 if kind == "combined" else pct
        idx = [i for i, line in enumerate(lines) if line.strip()]
        out = list(lines)
        chosen = sorted(rng.sample(idx, max(1, round(p * len(idx)))), reverse=True)
        for i in chosen:
            op = rng.random()
            if op < 0.5:
                toks = re.findall(r"\w+", out[i])
                if toks:
                    out[i] = re.sub(rf"\b{re.escape(rng.choice(toks))}\b", rng.choice(WORDS), out[i], count=1)
                else:
                    out[i] += f"  # {rng.choice(WORDS)}"
            elif op < 0.75:
                del out[i]
            else:
                indent = out[i][: len(out[i]) - len(out[i].lstrip())]
                out.insert(i + 1, f"{indent}{rng.choice(WORDS)} = {rng.choice(WORDS)}({rng.randint(0, 99)})")
        lines = out
    if kind in ("whitespace", "combined"):
        out = []
        for line in lines:
            stripped = line.lstrip(" ")
            depth = (len(line) - len(stripped)) // 4
            line = "  " * depth + stripped
            line = re.sub(r"(?<=[\w)\]]) = (?=\S)", "=", line) if rng.random() < 0.5 else line
            line = line.replace(", ", " , ")
            out.append(line + ("  " if rng.random() < 0.3 else ""))
            if not stripped:
                out.append("")
        lines = out
    return "\n".join(lines)


def planted_set(files: list[tuple[str, str, str]], count: int, seed: int) -> tuple[list[dict], list[tuple]]:
    """``count`` originals of one version and four variants of each; (original, variant, kind) id triples."""
    versions = sorted({r for r, _, _ in files})
    version = versions[len(versions) // 2]
    pool = [f for f in files if f[0] == version and 40 <= f[2].count("\n") and len(f[2]) <= 100_000]
    pool.sort(key=lambda f: hashlib.sha1(f"{seed}/{f[1]}".encode()).digest())
    records, pairs = [], []
    for k, (_repo, path, text) in enumerate(pool[:count]):
        oid = f"orig/{path}"
        records.append({"id": oid, "text": text, "repo": "orig", "path": path, "language": "Python"})
        for kind in ("edit", "rename", "whitespace", "combined"):
            rng = random.Random(f"{seed}/{path}/{kind}")
            vid = f"{kind}/{path}"
            records.append({"id": vid, "text": variant(text, kind, rng, (k % 10 + 1) / 100), "repo": kind,
                            "path": path, "language": "Python"})
            pairs.append((oid, vid, kind))
    return records, pairs


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, nargs="*", default=None)
    ap.add_argument("--max-files", type=int, default=None)
    ap.add_argument("--num-perm", type=int, default=256)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--planted", type=int, default=200)
    ap.add_argument("--datatrove-share", type=int, default=24, help="datatrove runs on 1/N of the module paths")
    ap.add_argument("--datatrove-workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    if not PEERS_PYTHON.exists():
        raise SystemExit(f"{PEERS_PYTHON} is missing; create it first (see the top of {__file__})")
    from opencook.data.dedup.minhash.config import FuzzyDedupConfig

    load_before = [round(x, 2) for x in os.getloadavg()]
    t_start = time.perf_counter()
    roots = args.corpus or pyenv_stdlibs()
    all_files = corpus_files(roots)
    files = sample(all_files, args.max_files)
    records = [{"id": f"{r}/{p}", "text": t, "repo": r, "path": p, "language": "Python"} for r, p, t in files]
    ids = [r["id"] for r in records]
    texts = [r["text"] for r in records]
    rank = np.empty(len(records), dtype=np.int64)  # survivor order without stars/commits: (repo, path, id)
    rank[sorted(range(len(records)), key=lambda i: (records[i]["repo"], records[i]["path"], ids[i]))] = \
        np.arange(len(records))
    distinct_texts = len({hashlib.sha1(t.encode()).digest() for t in texts})
    info = {"files": len(records), "text_mb": round(sum(len(t.encode()) for t in texts) / 1e6, 2),
            "distinct_texts": distinct_texts, "repos": sorted({r["repo"] for r in records}),
            "roots": [str(r) for r in roots]}
    print(f"corpus: {info['files']} files, {info['text_mb']} MB, {distinct_texts} distinct texts; load {load_before}",
          flush=True)

    work = Path(tempfile.mkdtemp(prefix="opencook-minhash-quality-"))
    truth = Truth(texts, work / "truth", min(THRESHOLDS))
    info["ground_truth"] = truth.info
    truth_removed, truth_labels = {}, {}
    for t in THRESHOLDS:
        truth_labels[t] = truth.file_labels(t)
        truth_removed[t] = {ids[i] for i in removed_from_labels(truth_labels[t], rank)}
        info["ground_truth"][f"removed_at_{t}"] = len(truth_removed[t])
        info["ground_truth"][f"near_pairs_at_{t}"] = int(len(truth.near_pairs(t)[0]))

    # ---- opencook vs ground truth
    runs = []
    removed_by_run: dict[str, set] = {}
    setups = [(f"threshold {t}, {args.num_perm} perms", FuzzyDedupConfig(num_perm=args.num_perm, threshold=t), [t])
              for t in THRESHOLDS]
    setups.append(("datatrove preset 14x8, 112 perms", FuzzyDedupConfig(preset="datatrove"), list(THRESHOLDS)))
    for name, base, ts in setups:
        summaries, s_sec = opencook_summaries(records, base, args.shards)
        for verify in (True, False):
            for t in (ts if verify else ts[:1]):
                cfg = FuzzyDedupConfig(num_perm=base.num_perm, bands=base.bands, rows=base.rows, verify=verify,
                                       verify_threshold=t if verify else None)
                members, stats, d_sec = opencook_decide(summaries, cfg)
                removed = removed_ids(members)
                lab = labels_from_members(ids, members)
                for t_eval in (ts if not verify else [t]):
                    pa_, pb_ = truth.near_pairs(t_eval)
                    row = {"setup": name, "bands": base.bands, "rows": base.rows, "num_perm": base.num_perm,
                           "implied_threshold": round(base.implied_threshold, 3), "verify": verify,
                           "verify_threshold": t if verify else None, "evaluated_at": t_eval,
                           **pr(removed, truth_removed[t_eval]),
                           "near_pair_recall": round(float(np.mean(lab[pa_] == lab[pb_])), 4) if len(pa_) else None,
                           "candidate_pairs": stats.get("fuzzy_candidate_pairs"),
                           "verified_pairs": stats.get("fuzzy_verified_pairs"),
                           "summarize_s": round(s_sec, 2), "decide_s": round(d_sec, 2)}
                    if verify and row["candidate_pairs"]:
                        row["candidate_precision"] = round(row["verified_pairs"] / row["candidate_pairs"], 4)
                    runs.append(row)
                    print(json.dumps(row), flush=True)
                removed_by_run[f"{name}|verify={verify}|t={t}"] = removed

    # ---- determinism: same config, different sharding and order
    t0 = time.perf_counter()
    shuffled = list(records)
    random.Random(args.seed).shuffle(shuffled)
    cfg = FuzzyDedupConfig(num_perm=args.num_perm, threshold=THRESHOLDS[0])
    summaries, _ = opencook_summaries(shuffled, cfg, 3)
    members2, _, _ = opencook_decide(summaries, cfg)
    first = removed_by_run[f"threshold {THRESHOLDS[0]}, {args.num_perm} perms|verify=True|t={THRESHOLDS[0]}"]
    second = removed_ids(members2)
    determinism = {"config": f"threshold {THRESHOLDS[0]}, {args.num_perm} perms, verify on",
                   "run1": f"{args.shards} shards, corpus order", "run2": "3 shards, shuffled",
                   "removed_run1": len(first), "removed_run2": len(second), "identical": first == second,
                   "symmetric_difference": len(first ^ second), "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(determinism), flush=True)

    # ---- planted near-duplicates
    planted_records, pairs = planted_set(all_files, args.planted, args.seed)
    from opencook.data.dedup.minhash.shingles import shingle_batch
    from opencook.data.dedup.minhash.verify import jaccard

    pid = [r["id"] for r in planted_records]
    pindex = {x: k for k, x in enumerate(pid)}
    ph, po = shingle_batch([r["text"] for r in planted_records], 5)
    pj = {(o, v): jaccard(ph[po[pindex[o]]:po[pindex[o] + 1]], ph[po[pindex[v]]:po[pindex[v] + 1]])
          for o, v, _ in pairs}
    planted = []
    for t in THRESHOLDS:
        cfg = FuzzyDedupConfig(num_perm=args.num_perm, threshold=t)
        summaries, _ = opencook_summaries(planted_records, cfg, 2)
        members, _, _ = opencook_decide(summaries, cfg)
        lab = labels_from_members(pid, members)
        for kind in ("edit", "rename", "whitespace", "combined", "all"):
            sel = [(o, v) for o, v, k in pairs if kind in ("all", k)]
            same = [lab[pindex[o]] == lab[pindex[v]] for o, v in sel]
            reach = [s for s, (o, v) in zip(same, sel, strict=True) if pj[(o, v)] >= t]
            js = np.array([pj[p] for p in sel])
            planted.append({"threshold": t, "kind": kind, "pairs": len(sel), "recall": round(float(np.mean(same)), 4),
                            "pairs_with_jaccard_ge_t": len(reach),
                            "recall_among_jaccard_ge_t": round(float(np.mean(reach)), 4) if reach else None,
                            "jaccard_min": round(float(js.min()), 3), "jaccard_median": round(float(np.median(js)), 3)})
            print(json.dumps(planted[-1]), flush=True)

    # ---- datatrove at its defaults on a share of the module paths
    share = [i for i, (_, p, _) in enumerate(files)
             if int(hashlib.sha1(p.encode()).hexdigest(), 16) % args.datatrove_share == 0]
    share_arr = np.array(share, dtype=np.int64)
    dt_dir = work / "datatrove-input"
    dt_dir.mkdir()
    w = args.datatrove_workers
    handles = [open(dt_dir / f"part-{k:04d}.jsonl", "w", encoding="utf-8") for k in range(w)]
    for k, i in enumerate(share):
        handles[k % w].write(json.dumps({"id": ids[i], "text": texts[i]}) + "\n")
    for h in handles:
        h.close()
    t0 = time.perf_counter()
    out = subprocess.run([str(PEERS_PYTHON), str(PEERS / "datatrove_minhash.py"), "--input", str(dt_dir), "--out",
                          str(work / "datatrove-out"), "--workers", str(w), "--result", str(work / "dt.json")],
                         capture_output=True, text=True, env=dict(os.environ, TQDM_DISABLE="1"))
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    dt_wall = time.perf_counter() - t0
    dt = json.loads((work / "dt.json").read_text())
    dt_removed = set(dt["removed_ids"])
    sub_records = [records[i] for i in share]
    sub_rank = rank[share_arr]
    sub_truth = {}
    for t in THRESHOLDS:
        lab = truth.file_labels(t, share_arr)[share_arr]
        relabel = np.unique(lab, return_inverse=True)[1]
        sub_truth[t] = {ids[share[i]] for i in removed_from_labels(relabel, sub_rank)}
    agreement = {"share": args.datatrove_share, "files": len(share),
                 "text_mb": round(sum(len(texts[i].encode()) for i in share) / 1e6, 2),
                 "datatrove": {"removed": len(dt_removed), "stage_seconds": dt["stage_seconds"],
                               "wall_s_with_startup": round(dt_wall, 1), "workers": w, "config": dt["config"]},
                 "vs_truth": {}, "opencook": []}
    for t in THRESHOLDS:
        agreement["vs_truth"][f"datatrove@{t}"] = pr(dt_removed, sub_truth[t])
    cfg_dt = FuzzyDedupConfig(preset="datatrove")
    summaries, s_sec = opencook_summaries(sub_records, cfg_dt, w)
    for verify in (False, True):
        cfg = FuzzyDedupConfig(preset="datatrove", verify=verify)
        members, stats, d_sec = opencook_decide(summaries, cfg)
        oc_removed = removed_ids(members)
        entry = {"verify": verify, "verify_threshold": round(cfg.jaccard_threshold, 3) if verify else None,
                 "removed": len(oc_removed), "summarize_s": round(s_sec, 2), "decide_s": round(d_sec, 2),
                 "jaccard_removed_sets": round(jaccard_sets(oc_removed, dt_removed), 4),
                 "only_opencook": len(oc_removed - dt_removed), "only_datatrove": len(dt_removed - oc_removed)}
        for t in THRESHOLDS:
            agreement["vs_truth"][f"opencook verify={'on' if verify else 'off'}@{t}"] = pr(oc_removed, sub_truth[t])
        agreement["opencook"].append(entry)
        print(json.dumps(entry), flush=True)

    commit, dirty = git_commit(ROOT, "src/opencook/data/dedup/minhash")
    peers = peer_versions(PEERS_PYTHON, ("datatrove", "spacy", "xxhash", "scipy"))
    command = command_line("minhash_quality.py")
    result = {"benchmark": "minhash_quality", "commit": commit, "minhash_package_dirty": bool(dirty),
              "machine": machine_info(),
              "loadavg_1_5_15": {"start": load_before, "end": [round(x, 2) for x in os.getloadavg()]},
              "total_seconds": round(time.perf_counter() - t_start, 1), "peers": peers, "input": info,
              "runs": runs, "determinism": determinism, "planted": planted, "datatrove_agreement": agreement,
              "command": command}
    md = render_md(result)
    write_results(args.results, "minhash_quality", result, md)
    print(md)
    import shutil

    shutil.rmtree(work, ignore_errors=True)


def render_md(r: dict) -> str:
    m, info, gt = r["machine"], r["input"], r["input"]["ground_truth"]
    lines = [
        "# MinHash-LSH dedup quality: opencook vs brute-force exact Jaccard, planted duplicates, datatrove", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, Python {m['python']}. Commit {r['commit']}"
        f"{' (minhash package with uncommitted edits)' if r['minhash_package_dirty'] else ''}. Peers: {r['peers']}. "
        f"Load average (1/5/15) start {r['loadavg_1_5_15']['start']}, end {r['loadavg_1_5_15']['end']} (shared "
        f"machine; timings here are indicative only). Whole run {r['total_seconds']} s.", "",
        f"Command: `{r['command']}`", "",
        f"Corpus: {info['files']} `.py` files ({info['text_mb']} MB, {info['distinct_texts']} distinct texts) of "
        f"{', '.join(info['repos'])}. Ground truth: {gt['distinct_nonempty_sets']} distinct non-empty shingle sets, "
        f"{gt['distinct_shingles']} distinct shingles, {gt['pairs_sharing_a_shingle']} set pairs sharing a shingle "
        f"all given exact Jaccard ({gt['seconds']} s); {gt['files_without_shingles']} files without shingles. "
        + "; ".join(f"at J ≥ {t}: {gt[f'removed_at_{t}']} files removed, {gt[f'near_pairs_at_{t}']} near pairs "
                    "(J < 1)" for t in THRESHOLDS) + ".", "",
        "## opencook's removed set vs the ground truth", "",
        "| setup | b×r | implied thr | verify | evaluated at J ≥ | removed | truth removed | precision | recall "
        "| near-pair recall | candidate pairs | verified pairs | candidate precision |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for x in r["runs"]:
        v = f"on (≥ {x['verify_threshold']})" if x["verify"] else "off"
        lines.append(f"| {x['setup']} | {x['bands']}×{x['rows']} | {x['implied_threshold']} | {v} | {x['evaluated_at']} "
                     f"| {x['removed']} | {x['truth_removed']} | {x['precision']} | {x['recall']} | "
                     f"{x['near_pair_recall']} | {x['candidate_pairs']} | {x['verified_pairs']} | "
                     f"{x.get('candidate_precision', '–')} |")
    d = r["determinism"]
    lines += ["", "Goal with verification on: recall ≥ 0.95, precision ≥ 0.98.", "",
              "## Two runs", "",
              f"{d['config']}: run 1 ({d['run1']}) removed {d['removed_run1']}, run 2 ({d['run2']}) removed "
              f"{d['removed_run2']}: identical = **{d['identical']}** (symmetric difference {d['symmetric_difference']}).",
              "", "## Planted near-duplicates", "",
              "| threshold | variant | pairs | recall (same cluster) | pairs with J ≥ t | recall among J ≥ t "
              "| min J | median J |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for p in r["planted"]:
        lines.append(f"| {p['threshold']} | {p['kind']} | {p['pairs']} | {p['recall']} | {p['pairs_with_jaccard_ge_t']} "
                     f"| {p['recall_among_jaccard_ge_t']} | {p['jaccard_min']} | {p['jaccard_median']} |")
    a = r["datatrove_agreement"]
    lines += ["", "## Agreement with datatrove at its defaults (14×8, 112 perms, its own shingling)", "",
              f"On {a['files']} files ({a['text_mb']} MB: all versions of the module paths selected, 1 in "
              f"{a['share']} by SHA-1 of the path). datatrove "
              f"({a['datatrove']['config']}, {a['datatrove']['workers']} workers) removed {a['datatrove']['removed']} "
              f"files; its stages took {a['datatrove']['stage_seconds']} s.", "",
              "| opencook `datatrove` preset | opencook removed | datatrove removed | Jaccard of removed-id sets "
              "| only opencook | only datatrove | opencook summarize + decide s |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for e in a["opencook"]:
        v = f"verify on (≥ {e['verify_threshold']})" if e["verify"] else "verify off"
        lines.append(f"| {v} | {e['removed']} | {a['datatrove']['removed']} | {e['jaccard_removed_sets']} | "
                     f"{e['only_opencook']} | {e['only_datatrove']} | {e['summarize_s']} + {e['decide_s']} |")
    lines += ["", "Each against the ground truth on the same files:", "",
              "| engine @ J ≥ t | removed | truth removed | precision | recall |", "| --- | --- | --- | --- | --- |"]
    for k, v in a["vs_truth"].items():
        lines.append(f"| {k} | {v['removed']} | {v['truth_removed']} | {v['precision']} | {v['recall']} |")
    lines += ["", "Notes:", "",
              "- Removed = every member of a cluster except its survivor; survivor = smallest (repo, path, id) for "
              "opencook and the ground truth (no stars or commit times). datatrove keeps the root of its "
              "union-by-size sets, so its removed set can differ from opencook's in which member of a cluster "
              "survives even where the clusters agree; its shingles (spaCy tokens of its normalised text) also "
              "differ from opencook's, so the ground truth (on opencook's shingles) is not its own target.",
              "- Precision counts a file as a false removal when the ground truth keeps it, including files in a "
              "true cluster that survive there but not in opencook's clustering (another survivor after a chain "
              "split or join).",
              "- Near-pair recall: share of true pairs with t ≤ J < 1 (distinct shingle sets) whose two files "
              "opencook puts in one cluster; identical shingle sets always share every band, so they are "
              "left out of this figure.",
              "- Without verification the result does not depend on t, so it is evaluated at both."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
