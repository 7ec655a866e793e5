"""A test per threat for the code-execution sandbox, plus verdict kinds and ordering.

Where the OS decides what can be isolated (network, pid namespace, throwaway uid), the test asserts the
behaviour ``isolation_report()`` documents for this machine instead of skipping.
"""

from __future__ import annotations

import os
import random
import socket
import textwrap
import time
from pathlib import Path

import pytest

from opencook.sandbox import Limits, Program, isolation_report, run_programs

ISO = isolation_report()
FAST = Limits(timeout_s=1.0)


def run1(source: str, limits: Limits = FAST):
    (outcome,) = run_programs([Program("p", textwrap.dedent(source))], limits)
    return outcome


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker`` (grandchildren the program left behind)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_verdict_kinds_in_input_order():
    sources = {"pass": "def f(x):\n    return x + 1\nassert f(1) == 2\nprint('ok')",
               "wrong": "assert sorted([3, 1]) == [3, 1], 'not sorted'",
               "exc": "{}['missing']",
               "syntax": "def f(:\n    return 1",
               "indent": "def f():\nreturn 1",
               "timeout": "while True:\n    pass",
               "sysexit": "import sys\nsys.exit(0)"}
    ids = list(sources)[::-1]
    outcomes = run_programs([Program(i, sources[i]) for i in ids], FAST, workers=2)
    assert [o.id for o in outcomes] == ids
    kinds = {o.id: o.kind for o in outcomes}
    assert kinds == {"pass": "passed", "wrong": "wrong_answer", "exc": "exception", "syntax": "syntax_error",
                     "indent": "syntax_error", "timeout": "timeout", "sysexit": "exception"}
    by_id = {o.id: o for o in outcomes}
    assert by_id["pass"].passed and by_id["pass"].stdout == "ok\n" and by_id["pass"].exit_code == 0
    assert not any(o.passed for o in outcomes if o.id != "pass")
    assert "AssertionError: not sorted" in by_id["wrong"].stderr
    assert "KeyError: 'missing'" in by_id["exc"].stderr
    assert "IndentationError" in by_id["indent"].stderr


def test_infinite_loop_is_killed_near_the_timeout():
    outcome = run1("x = 0\nwhile True:\n    x += 1", Limits(timeout_s=1.5))
    assert outcome.kind == "timeout" and not outcome.passed
    assert 1.5 <= outcome.duration_s < 2.5


def test_timeout_kills_the_children_too():
    marker = f"{random.randint(10**6, 10**7)}.5"
    outcome = run1(f"""
        import subprocess, time
        subprocess.Popen(["/bin/sleep", "{marker}"])
        time.sleep(100)
    """)
    assert outcome.kind == "timeout"
    assert processes_with(marker) == []


def test_daemonized_grandchild_is_gone_after_a_normal_exit():
    marker = f"{random.randint(10**6, 10**7)}.25"
    outcome = run1(f"""
        import os
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv("/bin/sleep", ["/bin/sleep", "{marker}"])
            os._exit(0)
        os.wait()
        import time; time.sleep(0.2)
        print("parent done")
    """)
    assert outcome.kind == "passed", outcome.stderr
    left = processes_with(marker)
    if ISO["pid_namespace"]:
        assert left == []
    else:  # documented gap: a setsid'd grandchild escapes the process-group kill without a pid namespace
        for pid in left:
            os.kill(pid, 9)


def test_fork_bomb_is_bounded_and_the_machine_survives():
    outcome = run1("""
        import os, time
        n = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                n += 1
        except OSError as e:
            print(n, type(e).__name__)
    """, Limits(timeout_s=3.0, max_procs=16))
    assert outcome.kind == "passed", outcome.stderr
    forked, error = outcome.stdout.split()
    assert int(forked) < 16 and error == "BlockingIOError"
    assert outcome.duration_s < 3.0


def test_classic_fork_bomb_ends_at_the_timeout():
    start = time.perf_counter()
    outcome = run1("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
                   Limits(timeout_s=1.0, max_procs=32))
    assert outcome.kind == "timeout"
    assert time.perf_counter() - start < 5


def test_memory_hog_is_stopped():
    outcome = run1("""
        hog = []
        while True:
            hog.append(bytearray(16 * 1024 * 1024))
    """, Limits(timeout_s=10.0, memory_mb=256))
    assert outcome.kind == "killed" and not outcome.passed
    assert outcome.duration_s < 5


def test_writes_outside_the_temp_dir_fail_and_the_temp_dir_is_removed(tmp_path):
    project_file = Path(__file__).resolve().parents[2] / "sandbox_write_probe.txt"
    outside = tmp_path / "outside.txt"
    tmp_path.chmod(0o755)
    outcome = run1(f"""
        import os
        open("inside.txt", "w").write("fine")
        assert open(os.path.join(os.getcwd(), "inside.txt")).read() == "fine"
        print(os.getcwd())
        for path in [{str(project_file)!r}, {str(outside)!r}, "/etc/sandbox_write_probe"]:
            try:
                open(path, "w").write("escaped")
                print("WROTE", path)
            except (PermissionError, FileNotFoundError):  # the host's /tmp is hidden by a private one
                print("DENIED", path)
    """)
    assert outcome.kind == "passed", outcome.stderr
    cwd, *verdicts = outcome.stdout.splitlines()
    assert not Path(cwd).exists()
    if ISO["throwaway_uid"]:
        assert all(v.startswith("DENIED") for v in verdicts), verdicts
        assert not project_file.exists() and not outside.exists()
    else:  # documented gap: without root the program writes wherever the harness's user may
        project_file.unlink(missing_ok=True)
        assert not Path("/etc/sandbox_write_probe").exists()


def test_parent_environment_is_not_visible(monkeypatch):
    monkeypatch.setenv("OPENCOOK_SANDBOX_SECRET", "hunter2-sandbox")
    outcome = run1(f"""
        import os
        print(sorted(os.environ.items()))
        try:
            print(open("/proc/{os.getpid()}/environ", "rb").read())
        except OSError as e:
            print("no parent environ:", type(e).__name__)
    """)
    assert outcome.kind == "passed", outcome.stderr
    assert "hunter2-sandbox" not in outcome.stdout and "OPENCOOK_SANDBOX_SECRET" not in outcome.stdout
    assert "'PATH', '/usr/bin:/bin'" in outcome.stdout
    if ISO["throwaway_uid"]:
        assert "no parent environ: PermissionError" in outcome.stdout


def test_network_is_cut_where_the_os_allows():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    program = Program("net", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).close()")
    try:
        cut, allowed = (run_programs([program], Limits(timeout_s=3.0, network=net))[0] for net in (False, True))
    finally:
        server.close()
    assert allowed.kind == "passed", allowed.stderr  # the same program reaches the port when allowed to
    if ISO["network_cut"]:
        assert cut.kind == "exception" and "OSError" in cut.stderr, cut.stderr
    else:  # documented: no network namespace on this machine, so the loopback stays reachable
        assert cut.kind == "passed"


def test_killing_the_parent_does_not_kill_the_harness():
    me = os.getpid()
    outcome = run1(f"""
        import os, signal
        for pid in ({me}, os.getppid()):  # the harness by its host pid, then whatever the parent is
            try:
                os.kill(pid, signal.SIGKILL)
                print("sent", pid, flush=True)
            except (PermissionError, ProcessLookupError) as e:
                print("refused", pid, type(e).__name__, flush=True)
    """)
    assert os.getpid() == me  # still here
    assert outcome.kind in ("passed", "killed"), outcome.stderr
    if ISO["throwaway_uid"] or ISO["pid_namespace"]:  # another uid, or a pid the namespace cannot name
        assert f"refused {me} " in outcome.stdout, outcome.stdout


def test_huge_output_is_bounded():
    cap = 10_000
    outcome = run1("""
        import sys
        chunk = "x" * 99_999 + "\\n"
        for _ in range(1000):
            sys.stdout.write(chunk)
            sys.stderr.write(chunk)
        print("END")
    """, Limits(timeout_s=10.0, max_output_bytes=cap))
    assert outcome.kind == "passed", outcome.stderr[-500:]
    assert outcome.stdout.endswith("END\n")
    header, body = outcome.stdout.split("\n", 1)
    assert header == f"[{100_000_000 + 4 - cap} bytes cut]" and len(body) == cap
    assert len(outcome.stderr) < cap + 100


def test_stdin_is_closed():
    outcome = run1("import sys\nassert sys.stdin.read() == ''\ninput()")
    assert outcome.kind == "exception" and "EOFError" in outcome.stderr


def test_bad_input_names_the_fix():
    with pytest.raises(TypeError, match=r"Program\(id, source\)"):
        run_programs(["print(1)"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="timeout_s"):
        Limits(timeout_s=0)
