"""Brute-force all-pairs exact Jaccard of shingle sets (run by benchmarks/minhash_quality.py, peers venv: scipy).

    .venv-peers/bin/python benchmarks/peers/minhash_ground_truth.py --input DIR --min-jaccard 0.7

``--input`` holds ``hashes.npy`` / ``offsets.npy``: per file the sorted unique uint64 shingle hashes
(opencook's ``shingle_batch``: the very shingles the dedup under test uses). Files with identical
shingle sets are collapsed first (they are pairs at Jaccard 1). Over the distinct non-empty sets, X
(sets x shingles, binary CSR) gives every intersection size as ``X[block] @ X.T``, computed one block
of rows at a time (the dense block of intersections is bounded); ``J = |A∩B| / (|A| + |B| - |A∩B|)``
for every pair with a common shingle, so no pair is missed. Writes ``ground_truth.npz``:
``set_of_file`` (set index per file, -1 when empty), ``a``, ``b``, ``j`` (pairs of distinct sets,
a < b, J >= min), and the number of pairs with any common shingle.
"""

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--min-jaccard", type=float, default=0.7)
    ap.add_argument("--block", type=int, default=256)
    args = ap.parse_args()
    import scipy.sparse as sp

    t0 = time.perf_counter()
    hashes = np.load(args.input / "hashes.npy")
    offsets = np.load(args.input / "offsets.npy")
    n_files = len(offsets) - 1
    sizes = np.diff(offsets)
    # collapse identical sets: key = (size, xor-mix of the hashes); confirmed by exact comparison below
    set_of_file = np.full(n_files, -1, dtype=np.int64)
    reps: list[int] = []
    seen: dict[tuple, list[int]] = {}
    for i in range(n_files):
        if sizes[i] == 0:
            continue
        h = hashes[offsets[i]:offsets[i + 1]]
        key = (int(sizes[i]), int(np.bitwise_xor.reduce(h)), int(h[0]), int(h[-1]))
        for s in seen.get(key, []):
            r = reps[s]
            if np.array_equal(h, hashes[offsets[r]:offsets[r + 1]]):
                set_of_file[i] = s
                break
        else:
            set_of_file[i] = len(reps)
            seen.setdefault(key, []).append(len(reps))
            reps.append(i)
    reps_arr = np.array(reps, dtype=np.int64)
    n = len(reps_arr)
    lens = sizes[reps_arr]
    idx = np.concatenate([np.arange(offsets[r], offsets[r + 1]) for r in reps_arr])
    cols = np.unique(hashes[idx], return_inverse=True)[1].astype(np.int32)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=indptr[1:])
    X = sp.csr_matrix((np.ones(len(cols), dtype=np.int32), cols, indptr), shape=(n, int(cols.max()) + 1))
    XT = X.T.tocsr()
    t_build = time.perf_counter() - t0

    out_a, out_b, out_j = [], [], []
    touching = 0
    for s in range(0, n, args.block):
        e = min(n, s + args.block)
        inter = (X[s:e] @ XT).tocoo()
        r = inter.row.astype(np.int64) + s
        c = inter.col.astype(np.int64)
        keep = c > r
        r, c, v = r[keep], c[keep], inter.data[keep].astype(np.float64)
        touching += len(r)
        j = v / (lens[r] + lens[c] - v)
        ok = j >= args.min_jaccard - 1e-12
        out_a.append(r[ok])
        out_b.append(c[ok])
        out_j.append(j[ok])
    a = np.concatenate(out_a) if out_a else np.empty(0, np.int64)
    b = np.concatenate(out_b) if out_b else np.empty(0, np.int64)
    j = np.concatenate(out_j) if out_j else np.empty(0, np.float64)
    np.savez(args.input / "ground_truth.npz", set_of_file=set_of_file, a=a, b=b, j=j,
             pairs_sharing_a_shingle=np.array(touching), distinct_sets=np.array(n),
             distinct_shingles=np.array(X.shape[1]), build_seconds=np.array(t_build),
             seconds=np.array(time.perf_counter() - t0))
    print(f"ground truth: {n_files} files, {n} distinct non-empty sets, {X.shape[1]} shingles, "
          f"{touching} pairs share a shingle, {len(a)} pairs >= {args.min_jaccard}, "
          f"{time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
