"""The judge that runs inside the sandbox for one LiveCodeBench sample (its text is appended to a program
that defines CODE, TESTS, FN_NAME, TIMEOUT_S and MARK; this module is never imported by the parent).

It grades as LiveCodeBench's ``lcb_runner/evaluation/testing_util.py`` does (our code, its rules):
- the solution runs after LiveCodeBench's import prelude (``from string import *`` ... ``sys.setrecursionlimit
  (50000)``); compiling it (running its module body) counts against the first test's time limit;
- stdin problems: a trailing ``if __name__ == '__main__':`` block is inlined, every top-level statement but
  the imports is wrapped into one function, called once per test with stdin, ``open()``,
  ``sys.stdin.readline/readlines/read`` serving the test input (``readline`` gives lines without their newline,
  as LiveCodeBench's patch does) and stdout captured; ``SystemExit`` ends a test normally;
- an output matches when, after stripping the whole text and then each line, the lines are equal, or every
  line's whitespace-separated fields are equal as ``Decimal``s;
- functional problems: ``Solution().<func_name>`` (or a module-level ``func_name`` when there is no class
  Solution) is called with one JSON value per input line; a tuple result is compared as a list;
- tests run in order and the first failure ends the sample; each test has ``TIMEOUT_S`` seconds of wall time.
The verdict is the last line on stderr: MARK followed by JSON {kind, test, message}.
"""

import ast
import builtins
import io
import json
import os
import signal
import sys
import types
from decimal import Decimal, InvalidOperation

PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
    "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)
_STDOUT = sys.stdout
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(50000)


class _TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise _TestTimeout(f"over {TIMEOUT_S} s")  # noqa: F821 - defined by the program this is appended to


def _verdict(kind, test=None, message=""):
    sys.stdout = _STDOUT
    line = MARK + " " + json.dumps({"kind": kind, "test": test, "message": str(message)[:500]})  # noqa: F821
    os.write(2, ("\n" + line + "\n").encode("utf-8", "replace"))
    os._exit(0 if kind == "passed" else 3)


def _arm():
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)  # noqa: F821


def _disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


def _inline_main(code):
    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            return ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(last.body)
    except Exception:
        pass
    return code


def _as_function(code):
    try:
        tree = ast.parse(code)
        imports = [s for s in tree.body if isinstance(s, ast.Import | ast.ImportFrom)]
        rest = [s for s in tree.body if not isinstance(s, ast.Import | ast.ImportFrom)]
        fn = ast.FunctionDef(name="wrapped_function", args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
                             kw_defaults=[], defaults=[]), body=rest, decorator_list=[], lineno=-1)
        return PRELUDE + "\n" + ast.unparse(imports) + "\n" + ast.unparse(fn)
    except Exception:
        return code


def _load(code):
    """Run the module body under the first test's limit; the Solution instance, or the module itself."""
    module = types.ModuleType("tmp_sol", "")
    _arm()
    try:
        exec(compile(code, "solution.py", "exec"), module.__dict__)
        return module.Solution() if "class Solution" in code else module
    finally:
        _disarm()


class _Stdin(io.StringIO):
    def __init__(self, text):
        super().__init__(text)
        self._text, self._lines = text, iter(text.split("\n"))

    def readline(self, *args):
        return next(self._lines)

    def readlines(self, *args):
        return self._text.split("\n")

    def read(self, *args):
        return self._text


def _lines(text):
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line):
    try:
        return [Decimal(x) for x in line.split()]
    except (InvalidOperation, ValueError):
        return None


def _same_output(got, want):
    a, b = _lines(got), _lines(want)
    if len(a) != len(b):
        return False, f"{len(a)} output lines, expected {len(b)}"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x == y:
            continue
        dx, dy = _decimals(x), _decimals(y)
        if dx is None or dy is None or dx != dy:
            return False, f"line {i}: {x[:100]!r} != {y[:100]!r}"
    return True, ""


def _failure(e, test):
    kind = "timeout" if isinstance(e, _TestTimeout) else "exception"
    _verdict(kind, test, f"{type(e).__name__}: {e}")


def _run_stdio(code, tests):
    try:
        fn = getattr(_load(_as_function(_inline_main(code))), "wrapped_function", None)
    except BaseException as e:
        _failure(e, 0)
    if fn is None:
        _verdict("exception", 0, "the solution defines no code to run")
    real_open, real_stdin = builtins.open, sys.stdin
    for i, (given, want) in enumerate(tests):
        out = io.StringIO()
        sys.stdin, sys.stdout = _Stdin(given), out
        builtins.open = lambda *a, _given=given, **k: io.StringIO(_given)
        _arm()
        try:
            fn()
        except SystemExit:
            pass
        except BaseException as e:
            _disarm()
            builtins.open, sys.stdin = real_open, real_stdin
            _failure(e, i)
        finally:
            _disarm()
            builtins.open, sys.stdin, sys.stdout = real_open, real_stdin, _STDOUT
        ok, why = _same_output(out.getvalue(), want)
        if not ok:
            _verdict("wrong_answer", i, why)
    _verdict("passed")


def _run_functional(code, tests, name):
    try:
        target = _load(PRELUDE + "\n\n" + code)
    except BaseException as e:
        _failure(e, 0)
    method = getattr(target, name, None)
    if method is None:
        _verdict("exception", 0, f"the solution defines no {name}")
    for i, (given, want) in enumerate(tests):
        args = [json.loads(line) for line in given.split("\n")]
        expected = json.loads(want)
        _arm()
        try:
            got = method(*args)
        except BaseException as e:
            _disarm()
            _failure(e, i)
        finally:
            _disarm()
        if isinstance(got, tuple):
            got = list(got)
        if got != expected:
            _verdict("wrong_answer", i, f"{str(got)[:200]} != {str(expected)[:200]}")
    _verdict("passed")


signal.signal(signal.SIGALRM, _alarm)
if FN_NAME is None:  # noqa: F821
    _run_stdio(CODE, TESTS)  # noqa: F821
else:
    _run_functional(CODE, TESTS, FN_NAME)  # noqa: F821
