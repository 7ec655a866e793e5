"""What each synthetic stage did with every item: one counter per fate, so the numbers always add up."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Every generated sample ends in exactly one of these.
FATES = ("failed_to_parse", "contaminated", "failed_tests", "timeouts", "kept")


@dataclass
class StageCounts:
    """``requested = generated + teacher_errors``; ``generated = sum of FATES``. ``truncated`` (the reply hit
    max_tokens) is a subset of ``generated``; ``reasons`` breaks the drops down (``parse:no_code_block``)."""

    stage: str
    requested: int = 0
    teacher_errors: int = 0
    generated: int = 0
    truncated: int = 0
    failed_to_parse: int = 0
    contaminated: int = 0
    failed_tests: int = 0
    timeouts: int = 0
    kept: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, fate: str, reason: str | None = None) -> None:
        if fate not in FATES:
            raise ValueError(f"unknown fate {fate!r}; use one of {FATES}")
        setattr(self, fate, getattr(self, fate) + 1)
        if reason:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def check(self) -> None:
        """Raise if a sample was lost or counted twice (a bug in the stage, never in the teacher)."""
        fates = sum(getattr(self, f) for f in FATES)
        if fates != self.generated or self.generated + self.teacher_errors != self.requested:
            raise AssertionError(f"{self.stage}: counts do not add up: {self.as_dict()}")

    def as_dict(self) -> dict:
        return asdict(self)


def summary_table(counts: list[StageCounts]) -> str:
    """A plain-text table, one row per stage, for the CLI."""
    cols = ("requested", "generated", "truncated", "failed_to_parse", "contaminated", "failed_tests", "timeouts",
            "kept", "teacher_errors")
    head = f"{'stage':<18}" + "".join(f"{c:>16}" for c in cols)
    rows = [f"{c.stage:<18}" + "".join(f"{getattr(c, k):>16}" for k in cols) for c in counts]
    return "\n".join([head, *rows])
