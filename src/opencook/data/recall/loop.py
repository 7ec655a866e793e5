"""The recall loop (OpenCoder's code-related web text recall), ``run_recall(config)``.

Each round: train the classifier on the positives (seeds plus pages added by URL patterns in earlier
rounds) and negatives sampled from the corpus -> score every corpus page -> group recalled pages by
domain -> a domain with at least ``min_domain_pages`` pages of which more than ``domain_share`` were
recalled is a code domain -> URL patterns for the code domains (derived from the recalled pages' first
path segments, plus any given in the config) -> corpus pages matching a pattern that the classifier
missed are added to the positives -> next round. The output is the final round's recalled pages plus
the pattern matches, as a dataset in the pipeline's schema, with ``recall.json`` and ``report.html``.

The corpus is read and tokenised once and kept in memory (URLs, domains, fastText lines): this is the
loop for a sample of the web that fits in RAM; the ``recall_score`` stage scores any amount of text.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opencook.data.recall.classifier import BpeLines, CodeClassifier, FastTextConfig, load_bpe
from opencook.data.recall.extract import DEFAULT_EXTRACTOR, Extractor, extractor
from opencook.data.recall.labelled import LabelledPages, load_labelled
from opencook.data.recall.pages import iter_pages
from opencook.data.recall.score import score_bucket, score_lines_on
from opencook.data.recall.source import expand_paths
from opencook.data.recall.urls import UrlPatterns, derive_patterns, group_by_domain
from opencook.data.write import WriteConfig, write_dataset
from opencook.kit.executors import Executor, InProcessExecutor
from opencook.kit.progress import Progress
from opencook.kit.stats import StageStats
from opencook.kit.step import Record


@dataclass
class RecallConfig:
    """Inputs, the loop's knobs and the classifier's settings (see docs/recall.md).

    - ``corpus``: web-text files to recall from (WARC/WET, Parquet, JSONL; globs and folders allowed).
    - ``seeds``: positive pages (same formats; a URL is optional).
    - ``tokenizer``: the BPE tokenizer (opencook or HF directory, or ``tokenizer.json``).
    - ``heldout``: labelled pages (``url``, ``text``, ``label``: 1/true/"code" for code-related)
      for precision and recall per round; optional.
    - ``negatives``: explicit negative pages; otherwise ``negative_ratio`` x positives are sampled
      from the corpus (seeded), avoiding known code domains and last round's recalled pages.
    - ``url_patterns``: ``%`` patterns applied every round besides the derived ones
      (``derive_patterns: false`` to use only these).
    - ``extractor``: WARC HTML -> text (``resiliparse``, ``trafilatura``, or the old ``bs4``).
    - ``out``: deprecated; the output directory is ``run_recall(out=...)`` / ``opencook data recall --out``.
    """

    corpus: list[str]
    seeds: list[str]
    tokenizer: str
    out: str | None = None
    heldout: str | None = None
    negatives: list[str] = field(default_factory=list)
    negative_ratio: float = 1.0
    rounds: int = 3
    threshold: float = 0.5
    domain_share: float = 0.10
    min_domain_pages: int = 5
    pattern_share: float = 0.5
    url_patterns: list[str] = field(default_factory=list)
    derive_patterns: bool = True
    top_domains: int = 10
    seed: int = 0
    extractor: Extractor = DEFAULT_EXTRACTOR
    fasttext: FastTextConfig = field(default_factory=FastTextConfig)
    write: WriteConfig = field(default_factory=WriteConfig)

    def __post_init__(self) -> None:
        for name in ("corpus", "seeds", "negatives", "url_patterns"):
            if isinstance(getattr(self, name), str):
                setattr(self, name, [getattr(self, name)])
        if self.rounds < 1:
            raise ValueError(f"recall rounds={self.rounds} must be >= 1")
        for name in ("threshold", "domain_share", "pattern_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"recall {name}={getattr(self, name)} must be in [0, 1]")
        if self.negative_ratio <= 0:
            raise ValueError(f"recall negative_ratio={self.negative_ratio} must be > 0")
        extractor(self.extractor)


@dataclass
class Corpus:
    records: list[Record]
    lines: list[str]
    domains: list[str]
    by_domain: dict[str, list[int]]  # domain -> its page indices, in corpus order


@dataclass
class RoundReport:
    round: int
    positives: int
    negatives: int
    train_seconds: float
    score_seconds: float
    scored: int
    recalled: int
    code_domains: list[str]
    new_domains: list[str]
    patterns: list[str]
    pattern_matches: int
    pattern_additions: int
    top_domains: list[dict[str, Any]]
    heldout: dict[str, Any] | None
    score_hist: list[int]


@dataclass
class RecallResult:
    rounds: list[RoundReport]
    recalled_ids: list[str]
    added_ids: list[str]
    dataset: list[Path]
    out: Path
    read_stats: StageStats = field(default_factory=StageStats)


def _read(paths: Sequence[str], stats: StageStats, require_url: bool = True,
          html_extractor: str = DEFAULT_EXTRACTOR) -> list[Record]:
    records: list[Record] = []
    seen: set[str] = set()
    for path in expand_paths(list(paths)):
        for r in iter_pages(path, stats, require_url=require_url, html_extractor=html_extractor):
            if require_url and r["id"] in seen:
                stats.drop("duplicate_url")
                continue
            seen.add(r["id"])
            records.append(r)
    return records


def _load_corpus(config: RecallConfig, to_lines: BpeLines, stats: StageStats) -> Corpus:
    records = _read(config.corpus, stats, html_extractor=config.extractor)
    if not records:
        raise ValueError(f"recall corpus {config.corpus} holds no pages: check the files and their format")
    lines: list[str] = []
    for i in range(0, len(records), 1024):
        lines.extend(to_lines([r["text"] for r in records[i : i + 1024]]))
    by_domain: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_domain[r["repo"]].append(i)
    return Corpus(records, lines, [r["repo"] for r in records], dict(by_domain))


def _prf(pred: Sequence[bool], gold: Sequence[bool]) -> dict[str, Any]:
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    fp = sum(p and not g for p, g in zip(pred, gold, strict=True))
    fn = sum(g and not p for p, g in zip(pred, gold, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4), "recall": round(recall, 4)}


def _heldout_eval(clf: CodeClassifier, patterns: UrlPatterns, held: LabelledPages,
                  threshold: float) -> dict[str, Any]:
    scores = clf.score_lines(held.lines)
    by_clf = [s >= threshold for s in scores]
    combined = [c or patterns.match(u) is not None for c, u in zip(by_clf, held.urls, strict=True)]
    return {"pages": len(held.urls), "classifier": _prf(by_clf, held.labels), **_prf(combined, held.labels)}


def _sample_negatives(corpus: Corpus, exclude: set[int], n: int, rng: random.Random) -> list[int]:
    pool = [i for i in range(len(corpus.lines)) if i not in exclude]
    return sorted(rng.sample(pool, min(n, len(pool))))


def run_recall(config: RecallConfig, *, out: str | Path | None = None, executor: Executor | None = None,
               progress: bool = False) -> RecallResult:
    """Run ``config.rounds`` rounds and write the dataset, ``recall.json`` and ``report.html`` to ``out``
    (or, deprecated, to ``config.out``). Each round's corpus scoring runs on ``executor`` (default: this
    process), every worker loading the round's saved classifier."""
    executor = executor or InProcessExecutor()
    if out is None and config.out is None:
        raise ValueError("recall: no output directory: pass --out DIR (run_recall(config, out=DIR))")
    out = Path(out if out is not None else config.out)
    out.mkdir(parents=True, exist_ok=True)
    to_lines = BpeLines(load_bpe(config.tokenizer), config.fasttext.max_chars)
    read_stats = StageStats()
    corpus = _load_corpus(config, to_lines, read_stats)
    seeds = _read(config.seeds, read_stats, require_url=False, html_extractor=config.extractor)
    if not seeds:
        raise ValueError(f"recall seeds {config.seeds} hold no pages: give JSONL/Parquet files with a text field")
    seed_lines = to_lines([r["text"] for r in seeds])
    fixed_neg = to_lines([r["text"] for r in _read(config.negatives, read_stats, False, config.extractor)]) if config.negatives else []
    held = load_labelled(config.heldout, to_lines) if config.heldout else None

    added: set[int] = set()
    code_domains: set[str] = set()
    recalled: list[bool] = [False] * len(corpus.lines)
    rounds: list[RoundReport] = []
    patterns = UrlPatterns(config.url_patterns)
    with Progress(config.rounds, "recall", "round", every=1, enabled=progress) as bar:
        for k in range(1, config.rounds + 1):
            positives = seed_lines + [corpus.lines[i] for i in sorted(added)]
            neg_ids: list[int] = []
            if not fixed_neg:
                exclude = set(added) | {i for i, hit in enumerate(recalled) if hit}
                exclude.update(i for d in code_domains for i in corpus.by_domain[d])
                rng = random.Random(f"{config.seed}:{k}")
                neg_ids = _sample_negatives(corpus, exclude, round(config.negative_ratio * len(positives)), rng)
            negatives = fixed_neg + [corpus.lines[i] for i in neg_ids]
            t0 = time.perf_counter()
            clf = CodeClassifier.train(positives, negatives, config.tokenizer, config.fasttext, tokenized=True,
                                       tokenizer=to_lines.tokenizer)
            train_s = time.perf_counter() - t0
            model_dir = clf.save(out / "rounds" / f"{k:02d}" / "model")
            t0 = time.perf_counter()
            scores = score_lines_on(executor, str(model_dir), config.tokenizer, corpus.lines)
            score_s = time.perf_counter() - t0
            recalled = [s >= config.threshold for s in scores]

            groups = group_by_domain(corpus.domains, recalled)
            now = {d for d, (n, hit) in groups.items()
                   if n >= config.min_domain_pages and hit / n > config.domain_share}
            new_domains = sorted(now - code_domains)
            code_domains |= now
            derived: list[str] = []
            if config.derive_patterns:
                for d in sorted(code_domains):
                    idx = corpus.by_domain[d]
                    derived += derive_patterns(d, [corpus.records[i]["path"] for i in idx],
                                               [recalled[i] for i in idx], config.pattern_share)
            patterns = UrlPatterns([*config.url_patterns, *derived])
            matches = [i for i, r in enumerate(corpus.records) if patterns.match(r["path"]) is not None]
            additions = [i for i in matches if not recalled[i] and i not in added]
            added.update(additions)
            top = sorted(groups.items(), key=lambda kv: (-kv[1][1], kv[0]))[: config.top_domains]
            report = RoundReport(
                round=k, positives=len(positives), negatives=len(negatives), train_seconds=round(train_s, 3),
                score_seconds=round(score_s, 3), scored=len(scores), recalled=sum(recalled),
                code_domains=sorted(code_domains), new_domains=new_domains, patterns=patterns.patterns,
                pattern_matches=len(matches), pattern_additions=len(additions),
                top_domains=[{"domain": d, "pages": n, "recalled": hit, "share": round(hit / n, 4),
                              "code_domain": d in code_domains} for d, (n, hit) in top],
                heldout=_heldout_eval(clf, patterns, held, config.threshold) if held else None,
                score_hist=_histogram(scores),
            )
            rounds.append(report)
            bar.update(1, **_round_fields(report))

    final = {i for i, hit in enumerate(recalled) if hit} | added
    chosen = [corpus.records[i] for i in sorted(final)]
    dataset = write_dataset(chosen, out / "dataset", config.write, StageStats())
    result = RecallResult(rounds, [r["id"] for r in chosen], [corpus.records[i]["id"] for i in sorted(added)],
                          dataset, out, read_stats)
    _write_outputs(config, result)
    return result


def _histogram(scores: Sequence[float]) -> list[int]:
    """Pages per ``score_bucket`` (ten bins of 0.1), in one pass."""
    hist = [0] * 10
    for s in scores:
        hist[score_bucket(s)] += 1
    return hist


def _round_fields(r: RoundReport) -> dict[str, Any]:
    """What a round's progress line shows beside its count."""
    fields: dict[str, Any] = {"scored": r.scored, "recalled": r.recalled,
                              "code domains": f"{len(r.code_domains)} (+{len(r.new_domains)})",
                              "patterns": len(r.patterns), "added": r.pattern_additions}
    if r.heldout:
        fields["heldout"] = f"P={r.heldout['precision']:.3f} R={r.heldout['recall']:.3f}"
    return fields


def _write_outputs(config: RecallConfig, result: RecallResult) -> None:
    from opencook.data.recall.report import write_recall_report
    from opencook.kit.config import to_plain

    payload = {
        "config": to_plain(config),
        "read": result.read_stats.to_dict(),
        "rounds": [asdict(r) for r in result.rounds],
        "output": {"pages": len(result.recalled_ids), "added_by_url_pattern": len(result.added_ids),
                   "parts": [p.name for p in result.dataset]},
    }
    (result.out / "recall.json").write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    (result.out / "patterns.txt").write_text("".join(p + "\n" for p in result.rounds[-1].patterns))
    write_recall_report(result.out)
