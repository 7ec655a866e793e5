"""How a model samples a completion: one settings type for evaluation, synthetic data, the server and
``generate``, so a setting means the same thing (and is refused for the same reason) everywhere.

It sits on floor 1 so the capabilities (lm, evals, synth) share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def row_seed(seed: int, index: int) -> int:
    """The seed of row ``index`` of a request or batch seeded ``seed``: distinct per row, reproducible, and
    ``seed`` itself for row 0, so a one-row request sent with a row's seed samples what that row samples
    (the in-process engine and a server give the same samples for the same batch)."""
    return seed if index == 0 else (seed * 1_000_003 + index) % 2**63


@dataclass(frozen=True)
class Sampling:
    """``temperature == 0`` is greedy; otherwise temperature + nucleus (``top_p``) sampling seeded with
    ``seed`` (None: a random seed). ``n`` is samples per prompt; ``stop`` strings end a completion and are
    cut from it (as OpenAI does). A list given as ``stop`` is kept as a tuple, so settings stay hashable."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    seed: int | None = 0
    n: int = 1
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _is_number(self.temperature) or not 0 <= self.temperature <= 2:
            raise ValueError(f"temperature must be a number >= 0 and <= 2 (0 = greedy), got {self.temperature!r}")
        if not _is_number(self.top_p) or not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not _is_int(self.max_new_tokens) or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an int >= 1, got {self.max_new_tokens!r}")
        if self.seed is not None and not _is_int(self.seed):
            raise ValueError(f"seed must be an int or None (a random seed), got {self.seed!r}")
        if not _is_int(self.n) or self.n < 1:
            raise ValueError(f"n must be an int >= 1, got {self.n!r}")
        if self.n > 1 and self.temperature == 0:
            raise ValueError(f"n={self.n} greedy samples would all be identical: set --temperature (e.g. 0.8) "
                             "or use --n 1")
        if isinstance(self.stop, str) or not all(isinstance(s, str) and s for s in self.stop):
            raise ValueError(f"stop must be a list of non-empty strings, got {self.stop!r}")
        object.__setattr__(self, "stop", tuple(self.stop))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def openai(self) -> dict:
        """The fields of an OpenAI request for one sample (``n`` is sent as repeated rows, not here); ``seed``
        and ``stop`` only when set, so a request (and a reply cache key built from it) stays minimal."""
        fields: dict[str, object] = {"max_tokens": self.max_new_tokens, "temperature": self.temperature,
                                     "top_p": self.top_p}
        if self.seed is not None:
            fields["seed"] = self.seed
        if self.stop:
            fields["stop"] = list(self.stop)
        return fields
