"""EvalPlus's way of testing a HumanEval+/MBPP+ solution: every input called on its own with its own time
limit, the output compared with what the canonical solution returned, and two verdicts -- ``base`` (the
original tests' inputs) and ``plus`` (base and the added inputs).

Time limits follow EvalPlus (docs/execution.md; evalplus/config.py): per input
``max(MIN_TIME_LIMIT_S, GT_TIME_LIMIT_FACTOR * t)`` where ``t`` is the canonical solution's time on that
input, measured on this machine in the same sandbox, so a slow machine gets proportionally longer limits
instead of turning correct code into timeouts; a task's budget is ``min(TASK_TIME_CAP_S, sum) + 1``.
Outputs are compared as EvalPlus does: equality, else (float-shaped expected value, or ``atol`` > 0)
``np.allclose(rtol=1e-07, atol=max(atol, 1e-6))`` with the same type and length; a few MBPP+ tasks compare
as sets or only as "not None", and HumanEval/32 checks that the returned x is a root.
"""

from __future__ import annotations

import base64
import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass

from opencook.benchmarks.problems import Benchmark, Problem

MIN_TIME_LIMIT_S = 4.0  # evalplus/config.py DEFAULT_MIN_TIME_LIMIT (4.0 since v0.3; 1.0 before)
GT_TIME_LIMIT_FACTOR = 4.0  # evalplus/config.py DEFAULT_GT_TIME_LIMIT_FACTOR
TASK_TIME_CAP_S = 60.0  # evalplus: EVALPLUS_TIMEOUT_PER_TASK default
SET_EQ = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly", "larg_nnum",
          "intersection_array", "find_dissimilar", "Diff")  # evalplus _special_oracle MBPP_OUTPUT_SET_EQ_TASKS
NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")  # MBPP_OUTPUT_NOT_NONE_TASKS
MARK = "\x00EVALPLUS "

_RUNNER = r'''
import base64 as _b64, copy as _copy, json as _json, pickle as _pickle, signal as _signal, sys as _sys, time as _time
_sys.setrecursionlimit(max(_sys.getrecursionlimit(), 10000))
if hasattr(_sys, "set_int_max_str_digits"):
    _sys.set_int_max_str_digits(0)
_INPUTS = _json.loads(_b64.b64decode(%(inputs)r).decode())
_fn = globals()[%(entry)r]
'''

_GROUND = _RUNNER + r'''
_out, _times = [], []
for _group in ("base", "plus"):
    for _inp in _INPUTS[_group]:
        _args = _copy.deepcopy(_inp)
        _t = _time.perf_counter()
        _res = _fn(*_args)
        _times.append(_time.perf_counter() - _t)
        _out.append(_res)
_sys.stdout.write(%(mark)r + _b64.b64encode(_pickle.dumps({"out": _out, "time": _times})).decode() + "\n")
'''

_CHECK = _RUNNER + r'''
import math as _math
import numpy as _np
_EXP = _pickle.loads(_b64.b64decode(%(expected)r))
_LIMITS = %(limits)r
_ATOL, _ENTRY, _TASK = %(atol)r, %(entry)r, %(task)r

def _floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)):
        return bool(x) and all(isinstance(i, float) for i in x)
    if isinstance(x, _np.ndarray):
        return x.dtype in (_np.float64, _np.float32)
    return False

def _same(inp, out, exp):
    if _TASK == "HumanEval/32":
        xs = inp[0]
        return abs(sum(c * _math.pow(out, i) for i, c in enumerate(xs))) <= 1e-6
    if _ENTRY in %(set_eq)r:
        return set(out) == set(exp)
    if _ENTRY in %(not_none)r:
        return (out is not None) == (exp is not None)
    try:
        exact = out == exp
        exact = bool(exact)
    except Exception:
        exact = False
    atol = 1e-6 if _ATOL == 0 and _floats(exp) else _ATOL
    if exact or atol == 0:
        return exact
    if type(out) != type(exp) or (isinstance(exp, (list, tuple)) and len(out) != len(exp)):
        return False
    return bool(_np.allclose(out, exp, rtol=1e-07, atol=atol))

class _Late(BaseException):
    pass

def _alarm(*_):
    raise _Late()

_signal.signal(_signal.SIGALRM, _alarm)
_i = 0
for _group in ("base", "plus"):
    for _inp in _INPUTS[_group]:
        _args = _copy.deepcopy(_inp)
        _signal.setitimer(_signal.ITIMER_REAL, _LIMITS[_i])
        try:
            _res = _fn(*_args)
        except _Late:
            raise TimeoutError(f"{_group} input {_i} ran past its {_LIMITS[_i]:.3f} s limit") from None
        finally:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
        assert _same(_inp, _res, _EXP[_i]), f"{_group} input {_i}: got {_res!r:.200}, expected {_EXP[_i]!r:.200}"
        _i += 1
    _sys.stdout.write(%(mark)r + _group + " passed\n")
    _sys.stdout.flush()
'''


@dataclass(frozen=True)
class Truth:
    """The canonical solution's outputs and seconds per input (base inputs first, then plus)."""

    outputs: list
    seconds: list[float]


def _inputs(p: Problem) -> str:
    raw = json.dumps({"base": p.extra["base_input"], "plus": p.extra["plus_input"]}).encode()
    return base64.b64encode(raw).decode()


def reference_code(benchmark: Benchmark, p: Problem) -> str:
    """The canonical solution as a whole program: HumanEval+ completes the prompt, MBPP+ stands alone."""
    imports = "\n".join(p.extra.get("test_imports", ()))
    return (imports + "\n" + p.canonical) if benchmark.name == "mbpp+" else p.prompt + p.canonical


def ground_truth(benchmark: Benchmark, *, limits=None, workers: int = 2, progress: bool = False) -> dict[str, Truth]:
    """Run every canonical solution on all its inputs in the sandbox (generous limits: it is trusted to
    finish) and keep its outputs and timings, keyed by task id."""
    from opencook.sandbox import Limits, Program, run_programs

    limits = limits or Limits(timeout_s=600.0, memory_mb=4096, max_output_bytes=512 * 2**20)
    programs = [Program(p.task_id, reference_code(benchmark, p) + "\n" + _GROUND % {
        "inputs": _inputs(p), "entry": p.entry_point, "mark": MARK}) for p in benchmark.problems]
    out = {}
    for p, o in zip(benchmark.problems, run_programs(programs, limits, workers=workers, progress=progress), strict=True):
        line = next((x for x in o.stdout.splitlines() if x.startswith(MARK)), None)
        if not o.passed or line is None:
            tail = (o.stderr.strip().splitlines() or [""])[-1]
            raise ValueError(f"{benchmark.source}: the canonical solution of {p.task_id} does not run on its own "
                             f"inputs ({o.kind}: {tail[:200]}); is the file an EvalPlus release?")
        got = pickle.loads(base64.b64decode(line[len(MARK):]))
        out[p.task_id] = Truth(outputs=got["out"], seconds=got["time"])
    return out


def time_limits(truth: Truth) -> list[float]:
    return [max(MIN_TIME_LIMIT_S, GT_TIME_LIMIT_FACTOR * t) for t in truth.seconds]


def program_timeout(truth: Truth) -> float:
    return min(TASK_TIME_CAP_S, sum(time_limits(truth))) + 1.0


def checker_program(code: str, p: Problem, truth: Truth) -> str:
    """``code`` (the solution as the protocol assembles it, tests left out) followed by EvalPlus's check of
    every base, then every plus, input; it prints a mark after each group passes."""
    expected = base64.b64encode(pickle.dumps(truth.outputs)).decode()
    return code + "\n" + _CHECK % {"inputs": _inputs(p), "entry": p.entry_point, "mark": MARK, "expected": expected,
                                   "limits": time_limits(truth), "atol": float(p.extra.get("atol", 0) or 0),
                                   "task": p.task_id, "set_eq": SET_EQ, "not_none": NOT_NONE}


def verdicts(outcome) -> dict[str, bool]:
    """``base`` and ``plus`` from a checker program's outcome (plus implies base)."""
    marks = {x[len(MARK):].strip() for x in outcome.stdout.splitlines() if x.startswith(MARK)}
    base = "base passed" in marks
    return {"base": base, "plus": base and "plus passed" in marks and outcome.passed}


def check(benchmark: Benchmark, codes: Sequence[str], truth: dict[str, Truth], *, limits=None,
          workers: int = 2, progress: bool = False) -> list[dict]:
    """Base/plus verdicts of ``codes`` (one per problem, assembled without tests) with per-input limits."""
    import dataclasses

    from opencook.sandbox import Limits, Program, run_programs

    if len(codes) != len(benchmark.problems):
        raise ValueError(f"codes has {len(codes)} entries for {len(benchmark.problems)} problems")
    # one sandbox call (its worker slots own their uids): the per-input alarms bound each call, the
    # program's limit is the largest task budget
    budget = max((program_timeout(truth[p.task_id]) for p in benchmark.problems), default=1.0)
    lim = dataclasses.replace(limits or Limits(), timeout_s=budget)
    programs = [Program(p.task_id, checker_program(code, p, truth[p.task_id]))
                for p, code in zip(benchmark.problems, codes, strict=True)]
    return [{"task_id": o.id, "kind": o.kind, **verdicts(o), "stderr_tail": o.stderr[-500:]}
            for o in run_programs(programs, lim, workers=workers, progress=progress)]
