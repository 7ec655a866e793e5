"""The settings of the function-names task, apart so the builder and the source scanner can use them
without importing the dataset that uses both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CPYTHON_STDLIBS = "${PYENV_ROOT}/versions/*/lib/python3.*"


@dataclass(frozen=True)
class FunctionNamesConfig:
    kind: Literal["funcnames"] = "funcnames"
    sources: tuple[str, ...] = (CPYTHON_STDLIBS,)
    """Directories or files (globs, ``~`` and ``$VARS`` expand; ``$PYENV_ROOT`` defaults to ``~/.pyenv``)."""
    format: Literal["auto", "py", "dataset", "parquet"] = "auto"
    """``auto``: a source holding any dataset file (Parquet, JSONL plain/.gz/.zst; see ``kit.io.Dataset``) is a
    dataset (RefineCode, or a pipeline's ``dataset/``), else a .py tree. ``parquet`` is the old name of
    ``dataset``."""
    exclude_dirs: tuple[str, ...] = ("site-packages",)
    language: str = "Python"
    """Parquet rows kept (the ``language`` column); rows of other languages are counted and skipped."""
    vocab_buckets: int = 1 << 18
    max_tokens: int = 128
    min_count: int = 2
    eval_fraction: float = 0.1
    split_seed: int = 0
    max_file_bytes: int = 1_000_000
    seed: int = 0
    """Training order only; changing it (or ``min_count``) reuses the cached build."""
    cache_dir: str = "~/.cache/opencook/xc"
    workers: int = 0
    """Parser processes; 0 = one per CPU core. The build is identical for any count."""
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("sources", "exclude_dirs"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if self.vocab_buckets < 2 or self.max_tokens < 1 or self.min_count < 1 or self.max_file_bytes < 1:
            raise ValueError("vocab_buckets must be >= 2; max_tokens, min_count, max_file_bytes >= 1")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be in [0, 1), got {self.eval_fraction}")

    @staticmethod
    def build_fields() -> tuple[str, ...]:
        """The settings that shape the built arrays, hence the cache key."""
        return (
            "sources", "format", "exclude_dirs", "language", "vocab_buckets", "max_tokens",
            "eval_fraction", "split_seed", "max_file_bytes",
        )  # fmt: skip
