"""What each synthetic stage did with every item: one counter per fate, so the numbers always add up.

The steps count drops by reason (``parse:no_code_block``); a reason's prefix names its fate, and the fates
are summed from the reasons here, once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from opencook.kit.stats import StageStats

# Every generated sample ends in exactly one of these.
FATES = ("failed_to_parse", "contaminated", "failed_tests", "timeouts", "kept")
_PREFIX_FATES = {"parse": "failed_to_parse", "decontam": "contaminated", "tests": "failed_tests"}


def fate_of(reason: str) -> str:
    """The fate a drop reason counts under: ``tests:timeout`` is a timeout, else the prefix decides."""
    if reason == "tests:timeout":
        return "timeouts"
    fate = _PREFIX_FATES.get(reason.partition(":")[0])
    if fate is None:
        raise ValueError(f"drop reason {reason!r} has no fate: start it with one of "
                         f"{', '.join(p + ':' for p in _PREFIX_FATES)} (the fate it counts under)")
    return fate


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

    @classmethod
    def from_stats(cls, stage: str, requested: int, stats: StageStats, kept: int) -> StageCounts:
        """The counts of a stage whose steps added to ``stats`` (``generated``, ``truncated``,
        ``teacher_errors`` and every drop by reason); checked before they are returned."""
        counts = cls(stage, requested=requested, teacher_errors=stats.counters["teacher_errors"],
                     generated=stats.counters["generated"], truncated=stats.counters["truncated"], kept=kept,
                     reasons=dict(stats.dropped))
        for reason, n in stats.dropped.items():
            fate = fate_of(reason)
            setattr(counts, fate, getattr(counts, fate) + n)
        counts.check()
        return counts

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
