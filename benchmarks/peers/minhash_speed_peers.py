"""Peer side of ``benchmarks/minhash_speed.py``: datasketch 2.0, rensa, datatrove and pure-Python shingling.

Runs with the peers venv, never the project one (started by minhash_speed.py, one process per measurement):

    .venv-peers/bin/python benchmarks/peers/minhash_speed_peers.py --input DIR --engine E --measure M \\
        --num-perm N --part I --parts K

``--input`` is the folder minhash_speed.py writes: ``texts.json`` (list of str), ``shingles.json`` (per file
the sorted list of its unique shingle strings, tokens joined by one space: opencook's shingle
definition), ``hashes.npy`` / ``offsets.npy`` (opencook's uint64 shingle hashes of the same files).
This process takes files ``I, I+K, I+2K, ...``, builds its inputs, prints ``ready``, waits for ``go`` on
stdin (so that parallel workers start together), runs the measurement (best of up to 3 repeats,
see ``repeats``) and prints one JSON line.

Engines and measures:
- ``python`` ``shingle``: pure-Python shingling with the same definition (``re.findall(r"\\w+")`` on the
  lower-cased text, set of space-joined 5-grams; fewer than 5 tokens: one shingle of all of them).
- ``datasketch`` ``hash`` / ``e2e``: ``MinHash.bulk`` (shared permutations, ``update_batch``; default
  affine32 scheme) over the UTF-8 shingle strings, hashfunc sha1_hash32 (datasketch's default) or
  ``xxh32`` (``--variant``); ``e2e`` adds the pure-Python shingling.
- ``rensa`` ``hash``: ``RMinHash.digest_matrix_from_flat_token_hashes`` on opencook's very uint64 shingle
  hashes (variant ``u64``), or ``digest_matrix_from_token_sets`` on the shingle strings (variant ``str``).
- ``datatrove`` ``e2e``: ``MinhashDedupSignature.run`` (its own shingling: ``simplify_text``, spaCy
  English word tokens, 5-grams, xxhash64; permutations, bucket files written and sorted) over in-memory
  ``Document`` objects; ``hash``: its ``get_signature`` on opencook's uint64 shingle hashes (the
  permutation step alone, ``(a*x + b) mod (2^61 - 1)``).
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_TOKEN = re.compile(r"\w+")
NGRAM = 5
DATATROVE_SHAPES = {112: (14, 8), 128: (16, 8), 256: (32, 8), 2048: (16, 128)}


def py_shingles(text: str) -> list[str]:
    toks = _TOKEN.findall(text.lower())
    if not toks:
        return []
    if len(toks) < NGRAM:
        return [" ".join(toks)]
    return list({" ".join(toks[i:i + NGRAM]) for i in range(len(toks) - NGRAM + 1)})


def reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def rss_mb() -> dict:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def repeats(fn, max_reps: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of up to ``max_reps`` runs (fewer when a run is slow)."""
    walls, cpus = [], []
    for rep in range(max_reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        if walls[-1] > 4.0 or (rep >= 1 and sum(walls) > 6.0):
            break
    return walls, cpus


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--engine", choices=["python", "datasketch", "rensa", "datatrove"], required=True)
    ap.add_argument("--measure", choices=["shingle", "hash", "e2e"], required=True)
    ap.add_argument("--variant", default="")
    ap.add_argument("--num-perm", type=int, default=0)
    ap.add_argument("--part", type=int, default=0)
    ap.add_argument("--parts", type=int, default=1)
    ap.add_argument("--max-reps", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("DATATROVE_COLORIZE_LOGS", "0")

    texts = json.loads((args.input / "texts.json").read_text())
    mine = list(range(args.part, len(texts), args.parts))
    texts = [texts[i] for i in mine]
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    n = args.num_perm
    fn = None
    shingle_count = None
    if args.engine == "python":
        def fn():
            for t in texts:
                py_shingles(t)
    elif args.engine == "datasketch":
        import xxhash
        from datasketch import MinHash
        from datasketch.hashfunc import sha1_hash32

        hashfunc = xxhash.xxh32_intdigest if args.variant == "xxh32" else sha1_hash32
        if args.measure == "hash":
            allsh = json.loads((args.input / "shingles.json").read_text())
            sets = [[s.encode("utf-8") for s in allsh[i]] for i in mine]
            del allsh
            shingle_count = sum(map(len, sets))

            def fn():
                MinHash.bulk(sets, num_perm=n, hashfunc=hashfunc)
        else:
            def fn():
                MinHash.bulk(([s.encode("utf-8") for s in py_shingles(t)] for t in texts), num_perm=n,
                             hashfunc=hashfunc)
    elif args.engine == "rensa":
        from rensa import RMinHash

        if args.variant == "u64":
            hashes = np.load(args.input / "hashes.npy")
            offsets = np.load(args.input / "offsets.npy")
            parts = [hashes[offsets[i]:offsets[i + 1]] for i in mine]
            flat = np.ascontiguousarray(np.concatenate(parts), dtype=np.uint64)
            offs = np.zeros(len(parts) + 1, dtype=np.uint64)
            np.cumsum([len(p) for p in parts], out=offs[1:])
            shingle_count = len(flat)

            def fn():
                RMinHash.digest_matrix_from_flat_token_hashes(flat, offs, n, 42)
        else:
            allsh = json.loads((args.input / "shingles.json").read_text())
            sets = [allsh[i] for i in mine]
            del allsh
            shingle_count = sum(map(len, sets))

            def fn():
                RMinHash.digest_matrix_from_token_sets(sets, n, 42)
    elif args.engine == "datatrove":
        from datatrove.data import Document
        from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
        from datatrove.utils.logging import logger

        logger.remove()
        buckets, rows = DATATROVE_SHAPES[n]
        config = MinhashConfig(num_buckets=buckets, hashes_per_bucket=rows)
        tmp = tempfile.mkdtemp(prefix="dt-minhash-")
        step = MinhashDedupSignature(output_folder=tmp, config=config)
        step.word_tokenizer.word_tokenize("warm up the spaCy pipeline")  # load spaCy before timing
        _ = step.parameters
        if args.measure == "e2e":
            docs = [Document(text=t, id=str(i)) for i, t in zip(mine, texts, strict=True)]

            def fn():
                step.run(iter(docs), rank=args.part, world_size=args.parts)
        else:
            hashes = np.load(args.input / "hashes.npy")
            offsets = np.load(args.input / "offsets.npy")
            parts = [hashes[offsets[i]:offsets[i + 1]].reshape(-1, 1) for i in mine]
            parts = [p for p in parts if len(p)]
            shingle_count = sum(map(len, parts))

            def fn():
                for p in parts:
                    step.get_signature(p)
    if fn is None:
        raise SystemExit(f"unsupported: {args.engine} {args.measure}")

    reset_peak_rss()
    before = rss_mb()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    walls, cpus = repeats(fn, args.max_reps)
    after = rss_mb()
    print(json.dumps({"docs": len(texts), "bytes": nbytes, "shingles": shingle_count, "walls": walls,
                      "cpus": cpus, "rss_before_mb": before.get("VmRSS"), "peak_rss_mb": after.get("VmHWM")}),
          flush=True)


if __name__ == "__main__":
    main()
