"""What goes into the sandbox (a program, its limits) and what comes out (an outcome)."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("passed", "wrong_answer", "exception", "timeout", "syntax_error", "killed")


@dataclass(frozen=True)
class Program:
    """A whole program; it passes when it runs to the end without an uncaught exception (exit status 0).

    ``language`` is ``python`` or one of ``opencook.sandbox.languages.LANGUAGES`` (MultiPL-E's codes:
    cpp, java, js, ts, go, rs, php, sh, cs; ``rust``, ``javascript``... are accepted too).
    """

    id: str
    source: str
    language: str = "python"

    def __post_init__(self) -> None:
        if self.language.lower() in ("py", "python", "python3"):
            object.__setattr__(self, "language", "python")
        else:
            from opencook.sandbox.languages import language

            object.__setattr__(self, "language", language(self.language).name)


@dataclass(frozen=True)
class Limits:
    """Per-program limits. ``network=False`` cuts the network where the OS allows (see ``isolation_report``)."""

    timeout_s: float = 3.0
    memory_mb: int = 1024
    max_procs: int = 64
    max_output_bytes: int = 64_000
    network: bool = False
    compile_timeout_s: float = 60.0  # the build of a compiled language (javac, rustc: seconds each)
    compile_memory_mb: int = 4096

    def __post_init__(self) -> None:
        for name in ("timeout_s", "memory_mb", "max_procs", "max_output_bytes", "compile_timeout_s",
                     "compile_memory_mb"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name}={value!r}: must be a positive number (e.g. Limits({name}="
                                 f"{getattr(Limits, name)!r}))")
        if self.memory_mb < 32:
            raise ValueError(f"Limits.memory_mb={self.memory_mb}: the interpreter alone needs ~20 MiB; use >= 32")


@dataclass
class Outcome:
    """The verdict on one program.

    ``kind`` is one of ``KINDS``: wrong_answer = an uncaught AssertionError; exception = any other uncaught
    exception (``SystemExit`` included, as in the reference harness; in other languages any non-zero exit
    that is not a failed assertion); syntax_error = it does not compile (the compiler's errors in ``stderr``);
    timeout = the wall-clock limit was hit; killed = a signal or a resource limit (MemoryError included).
    ``stdout``/``stderr`` are the last ``Limits.max_output_bytes`` of each stream.
    """

    id: str
    passed: bool
    kind: str
    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
