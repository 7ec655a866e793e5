"""A fastText classifier on BPE tokens: is this page code-related?

fastText splits its input on whitespace; feeding it BPE tokens (the same tokenizer the LM uses) joined
by spaces lets it see code punctuation and identifiers as the model will (``Ġdef``, ``(``, ``):``)
instead of whole whitespace-separated words. Labels are ``__label__code`` and ``__label__other``;
``score`` returns P(code).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tokenizers import Tokenizer

CODE = "__label__code"
OTHER = "__label__other"


@dataclass
class FastTextConfig:
    """fastText's supervised settings. ``threads`` > 1 trains faster but not reproducibly (Hogwild!);
    ``max_chars`` cuts each page before tokenising (the head of a page says what it is about)."""

    dim: int = 64
    epoch: int = 5
    lr: float = 0.5
    word_ngrams: int = 2
    min_count: int = 1
    bucket: int = 200_000
    max_chars: int = 20_000
    threads: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dim < 1 or self.epoch < 1 or self.lr <= 0 or self.threads < 1 or self.max_chars < 1:
            raise ValueError("fasttext dim, epoch, threads and max_chars must be >= 1 and lr > 0")


def _fasttext():
    try:
        import fasttext
    except ImportError as exc:
        raise ImportError("the recall classifier needs fastText: pip install 'opencook[recall]'") from exc
    return fasttext


def load_bpe(path: str | Path) -> Tokenizer:
    """An opencook tokenizer directory, an HF tokenizer directory, or a ``tokenizer.json`` file."""
    from opencook.tokenizer import load_tokenizer

    return load_tokenizer(path)


class BpeLines:
    """Pages -> fastText input lines (BPE tokens joined by single spaces)."""

    def __init__(self, tokenizer: Tokenizer, max_chars: int) -> None:
        self.tokenizer = tokenizer
        self.max_chars = max_chars

    def __call__(self, texts: Sequence[str]) -> list[str]:
        encodings = self.tokenizer.encode_batch([t[: self.max_chars] for t in texts], add_special_tokens=False)
        return [" ".join(e.tokens).replace("\n", " ") for e in encodings]


class CodeClassifier:
    """``train`` on positive and negative pages, ``save``/``load`` a directory, ``score`` -> P(code)."""

    def __init__(self, model, tokenizer: Tokenizer, tokenizer_path: str, config: FastTextConfig) -> None:
        self.model = model
        self.tokenizer_path = tokenizer_path
        self.config = config
        self.lines = BpeLines(tokenizer, config.max_chars)

    @classmethod
    def train(cls, positives: Sequence[str], negatives: Sequence[str], tokenizer_path: str | Path,
              config: FastTextConfig | None = None, *, tokenized: bool = False,
              tokenizer: Tokenizer | None = None) -> CodeClassifier:
        """Texts (or, with ``tokenized``, lines from ``BpeLines``) of both classes -> a trained classifier.
        ``tokenizer``: the one at ``tokenizer_path`` when the caller has it loaded already."""
        config = config or FastTextConfig()
        if not positives or not negatives:
            raise ValueError(f"training needs both classes: got {len(positives)} positive and "
                             f"{len(negatives)} negative pages; add seed pages or a larger corpus")
        tokenizer = tokenizer or load_bpe(tokenizer_path)
        to_lines = BpeLines(tokenizer, config.max_chars)
        pos = list(positives) if tokenized else to_lines(positives)
        neg = list(negatives) if tokenized else to_lines(negatives)
        fd, train_file = tempfile.mkstemp(suffix=".txt", prefix="recall-train-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for label, lines in ((CODE, pos), (OTHER, neg)):
                    for line in lines:
                        fh.write(f"{label} {line}\n")
            model = _fasttext().train_supervised(
                input=train_file, dim=config.dim, epoch=config.epoch, lr=config.lr, wordNgrams=config.word_ngrams,
                minCount=config.min_count, bucket=config.bucket, thread=config.threads, seed=config.seed,
                loss="softmax", verbose=0)
        finally:
            os.unlink(train_file)
        return cls(model, tokenizer, str(tokenizer_path), config)

    def score_lines(self, lines: Sequence[str]) -> list[float]:
        if not lines:
            return []
        labels, probs = self.model.predict(list(lines), k=2)
        return [float(p[0]) if ls[0] == CODE else (float(p[1]) if len(ls) > 1 and ls[1] == CODE else 0.0)
                for ls, p in zip(labels, probs, strict=True)]

    def score(self, texts: Sequence[str]) -> list[float]:
        """P(code) for each text."""
        return self.score_lines(self.lines(texts))

    def save(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.model.save_model(str(out / "model.bin"))
        meta = {"tokenizer": self.tokenizer_path, "fasttext": asdict(self.config)}
        (out / "classifier.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        return out

    @classmethod
    def load(cls, model_dir: str | Path, tokenizer_path: str | Path | None = None) -> CodeClassifier:
        d = Path(model_dir)
        meta_path, bin_path = d / "classifier.json", d / "model.bin"
        if not meta_path.is_file() or not bin_path.is_file():
            raise FileNotFoundError(f"{d} is not a recall classifier (needs model.bin and classifier.json): "
                                    "train one with run_recall or CodeClassifier.train(...).save(dir)")
        meta = json.loads(meta_path.read_text())
        tok_path = str(tokenizer_path or meta["tokenizer"])
        model = _fasttext().load_model(str(bin_path))
        return cls(model, load_bpe(tok_path), tok_path, FastTextConfig(**meta["fasttext"]))
