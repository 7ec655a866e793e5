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


def verify(benchmark: Benchmark, *, limits=None, workers: int = 2, codes: Sequence[str] | None = None,
           progress: bool = False) -> list:
    """Sandbox outcomes (in problem order) of the reference solutions, or of ``codes`` one per problem."""
    from opencook.sandbox import Limits, Program, run_programs

    if codes is not None and len(codes) != len(benchmark.problems):
        raise ValueError(f"codes has {len(codes)} entries for {len(benchmark.problems)} problems")
    programs = [Program(p.task_id, reference_program(benchmark, p, None if codes is None else codes[i]))
                for i, p in enumerate(benchmark.problems)]
    return run_programs(programs, limits or Limits(), workers=workers, progress=progress)
