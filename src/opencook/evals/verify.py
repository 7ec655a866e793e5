"""Run a benchmark's own reference solutions through the sandbox: the check that the data, the program
assembly and the sandbox agree with the published facts (HumanEval 164/164, MBPP full 972/974,
sanitized 427/427)."""

from __future__ import annotations

from collections.abc import Sequence

from opencook.benchmarks.problems import Benchmark, Problem
from opencook.evals.protocol import humaneval_program, mbpp_program


def reference_program(benchmark: Benchmark, problem: Problem, code: str | None = None) -> str:
    """The program for ``code`` (default: the reference solution), assembled as an evaluation would."""
    code = problem.canonical if code is None else code
    return mbpp_program(problem, code) if benchmark.name == "mbpp" else humaneval_program(problem, code)


def opencoder_programs(benchmark: Benchmark) -> list:
    """The reference solutions as a chat reply's fenced block, through the opencoder protocol's extractor
    and program (prelude first, its problem range): the check that sanitizing keeps correct code correct."""
    from opencook.evals.protocol import Protocol
    from opencook.sandbox import Program

    by_id = {p.task_id: p for p in benchmark.problems}
    programs = []
    for t in Protocol(benchmark, "chat", "opencoder").tasks():
        p = by_id[t.task_id]
        code = p.canonical if benchmark.name == "mbpp" else p.prompt + p.canonical
        programs.append(Program(t.task_id, t.build_program("```python\n" + code + "\n```\n")))
    return programs


def verify(benchmark: Benchmark, *, limits=None, workers: int = 2, codes: Sequence[str] | None = None,
           progress: bool = False, protocol: str = "harness") -> list:
    """Sandbox outcomes (in problem order) of the reference solutions, or of ``codes`` one per problem;
    ``protocol="opencoder"`` assembles them as the opencoder protocol does (its MBPP range, 10-509)."""
    from opencook.sandbox import Limits, Program, run_programs

    if codes is not None and len(codes) != len(benchmark.problems):
        raise ValueError(f"codes has {len(codes)} entries for {len(benchmark.problems)} problems")
    if protocol == "opencoder":
        return run_programs(opencoder_programs(benchmark), limits or Limits(), workers=workers, progress=progress)
    programs = [Program(p.task_id, reference_program(benchmark, p, None if codes is None else codes[i]))
                for i, p in enumerate(benchmark.problems)]
    return run_programs(programs, limits or Limits(), workers=workers, progress=progress)
