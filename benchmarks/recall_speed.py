"""Recall classifier speed: training time, and pages/s scored on one core (BPE tokenising + fastText predict).

A synthetic labelled web corpus of about 20k pages (``scripts/recall_demo_corpus.py``, scale 55) is
scored by a classifier trained on its seeds plus as many negatives drawn from its non-code pages. Everything runs on one
thread (``RAYON_NUM_THREADS=1`` for the tokenizer, ``thread=1`` for fastText), so the figures are per core.
Also timed: one full round of the recall loop and the ``recall_score`` stage in a pipeline run.

    .venv/bin/python benchmarks/recall_speed.py [--scale 55]
"""

from __future__ import annotations

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # before tokenizers loads: one core for encode_batch
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the demo-corpus generator

from recall_demo_corpus import make_corpus  # noqa: E402

from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from opencook.data.recall import CodeClassifier, FastTextConfig, RecallConfig, run_recall  # noqa: E402
from opencook.data.recall.classifier import BpeLines, load_bpe  # noqa: E402
from opencook.data.recipe import parse_recipe  # noqa: E402
from opencook.data.runner import PipelineRunner  # noqa: E402
from opencook.kit.executors import InProcessExecutor  # noqa: E402
from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=55, help="corpus scale (about 361 pages each)")
    ap.add_argument("--vocab", type=int, default=8192)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="recall-bench-"))
    corpus, seeds, held = make_corpus(0, scale=args.scale)
    mb = sum(len(p.text.encode()) for p in corpus) / 1e6
    rng = random.Random(0)
    with open(tmp / "web.jsonl", "w") as fh:
        for p in corpus:
            fh.write(json.dumps({"url": p.url, "text": p.text}) + "\n")
    with open(tmp / "seeds.jsonl", "w") as fh:
        for p in seeds:
            fh.write(json.dumps({"text": p.text}) + "\n")
    t0 = time.perf_counter()
    tok = train_tokenizer([tmp / "web.jsonl"], TokenizerConfig(vocab_size=args.vocab, max_docs=5000), progress=False)
    save_tokenizer(tok, tmp / "tok")
    tok_train_s = time.perf_counter() - t0

    cfg = FastTextConfig()
    texts = [p.text for p in corpus]
    # negatives from the non-code pages: this corpus is 45% code, far above the web's share, so a random
    # sample of it would label thousands of code pages "other" (the loop itself avoids that from round 2)
    negatives = rng.sample([p.text for p in corpus if not p.code], len(seeds))
    t0 = time.perf_counter()
    clf = CodeClassifier.train([p.text for p in seeds], negatives, tmp / "tok", cfg)
    train_s = time.perf_counter() - t0

    to_lines = BpeLines(load_bpe(tmp / "tok"), cfg.max_chars)
    t0 = time.perf_counter()
    lines = [line for i in range(0, len(texts), 1024) for line in to_lines(texts[i : i + 1024])]
    tokenize_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = clf.score_lines(lines)
    predict_s = time.perf_counter() - t0
    gold = [p.code for p in corpus]
    hits = [s >= 0.5 for s in scores]
    tp = sum(h and g for h, g in zip(hits, gold, strict=True))

    t0 = time.perf_counter()
    loop = run_recall(RecallConfig(corpus=[str(tmp / "web.jsonl")], seeds=[str(tmp / "seeds.jsonl")],
                                   tokenizer=str(tmp / "tok"), out=str(tmp / "loop"), rounds=1))
    loop_s = time.perf_counter() - t0

    clf.save(tmp / "model")
    recipe = parse_recipe({"name": "recall-bench", "stages": [
        {"web_ingest": {"paths": [str(tmp / "web.jsonl")]}},
        {"recall_score": {"model": str(tmp / "model")}}, {"write": {}}]})
    t0 = time.perf_counter()
    PipelineRunner(recipe, tmp / "run", InProcessExecutor()).run()
    stage = json.loads((tmp / "run" / "stats.json").read_text())["stages"]
    pipeline_s = time.perf_counter() - t0

    n = len(corpus)
    commit, dirty = git_commit(ROOT, "src/opencook/data/recall")
    result = {
        "machine": machine_info(), "commit": commit, "dirty": dirty, "command": command_line("recall_speed.py"),
        "pages": n, "corpus_mb": round(mb, 2), "code_pages": sum(gold), "seeds": len(seeds),
        "tokenizer_vocab": args.vocab, "tokenizer_train_s": round(tok_train_s, 2), "fasttext": vars(cfg),
        "train_pages": len(seeds) + len(negatives), "train_s": round(train_s, 2),
        "tokenize_s": round(tokenize_s, 2), "predict_s": round(predict_s, 2),
        "pages_per_s_per_core": round(n / (tokenize_s + predict_s), 1),
        "tokenize_pages_per_s": round(n / tokenize_s, 1), "predict_pages_per_s": round(n / predict_s, 1),
        "mb_per_s_per_core": round(mb / (tokenize_s + predict_s), 2),
        "seed_only_precision": round(tp / max(1, sum(hits)), 4), "seed_only_recall": round(tp / sum(gold), 4),
        "loop_round_s": round(loop_s, 2), "loop_round": vars(loop.rounds[0]) | {"top_domains": None},
        "pipeline_s": round(pipeline_s, 2), "pipeline_pages_per_s": round(n / pipeline_s, 1),
        "pipeline_stage_s": {s["name"]: s["seconds"] for s in stage},
    }
    md = (f"# Recall classifier speed\n\n`{result['command']}` at {commit}{' (dirty)' if dirty else ''}\n\n"
          f"{result['machine']['cpu']}, {result['machine']['cores']} cores (shared), Python "
          f"{result['machine']['python']}; one thread for the tokenizer and fastText.\n\n"
          f"Corpus: {n:,} synthetic pages ({mb:.1f} MB, {sum(gold):,} code-related); BPE vocab {args.vocab} "
          f"(trained in {tok_train_s:.1f} s); fastText dim {cfg.dim}, epoch {cfg.epoch}, wordNgrams {cfg.word_ngrams}.\n\n"
          "| measure | value |\n| --- | --- |\n"
          f"| train ({len(seeds) + len(negatives):,} pages: seeds + non-code negatives, tokenising included) | {train_s:.2f} s |\n"
          f"| score, per core | **{result['pages_per_s_per_core']:,} pages/s** ({result['mb_per_s_per_core']} MB/s) |\n"
          f"| of which BPE tokenising | {result['tokenize_pages_per_s']:,} pages/s ({tokenize_s:.2f} s) |\n"
          f"| of which fastText predict | {result['predict_pages_per_s']:,} pages/s ({predict_s:.2f} s) |\n"
          f"| one loop round (read, tokenise, train, score, domains, patterns, write) | {loop_s:.2f} s |\n"
          f"| pipeline web_ingest -> recall_score -> write, in-process | {result['pipeline_pages_per_s']:,} pages/s "
          f"({pipeline_s:.2f} s; stages {result['pipeline_stage_s']}) |\n"
          f"| seed-only classifier (no loop) on the corpus, threshold 0.5 | precision {result['seed_only_precision']}, "
          f"recall {result['seed_only_recall']} |\n")
    write_results(ROOT / "benchmarks" / "results", "recall_speed", result, md)
    print(md)


if __name__ == "__main__":
    main()
