"""Issue 20, cases 9 and 10: a pass cannot be forged from inside the program, and shared memory, /tmp,
/dev/shm and the host's Unix sockets are contained.

Case 9: ``passed`` needs a completion record the harness reads from a pipe after the program's last
statement ran; exiting 0 early (``os._exit(0)``, ``System.exit(0)``, ``exit 0`` ...) or patching the
harness's exit path leaves no record. Case 10: memory is bounded by a memory cgroup when the machine has one
(shared anonymous mappings and tmpfs pages included), and each program gets its own size-bounded ``/tmp``,
``/var/tmp``, ``/dev/shm`` and ``/run`` (a mount namespace), which hides the host's sockets there.
Where ``isolation_report()`` says this machine gives no cgroup or mount namespace, the test asserts the
documented weaker behaviour instead of skipping.
"""

from __future__ import annotations

import os
import secrets
import socket
import textwrap
from pathlib import Path

import pytest

from opencook.sandbox import Limits, Program, isolation_report, run_programs
from opencook.sandbox.languages import LANGUAGES, resolve_tools

ISO = isolation_report()
FAST = Limits(timeout_s=5.0)
# What this machine offers, judged without asking the sandbox: root with a memory cgroup controller mounted
# (v1 or v2) must get the cgroup; root must get the mount namespace.
ROOT = os.geteuid() == 0
CGROUP = ROOT and (Path("/sys/fs/cgroup/memory/cgroup.procs").exists()
                   or "memory" in (Path("/sys/fs/cgroup/cgroup.controllers").read_text()
                                   if Path("/sys/fs/cgroup/cgroup.controllers").exists() else ""))
PRIVATE_TMP = ROOT or bool(ISO.get("private_tmp"))


def test_the_report_says_what_the_machine_offers():
    assert bool(ISO.get("memory_cgroup")) == CGROUP, (ISO, CGROUP)
    assert bool(ISO.get("private_tmp")) == PRIVATE_TMP, (ISO, PRIVATE_TMP)


def run1(source: str, limits: Limits = FAST, language: str = "python"):
    (outcome,) = run_programs([Program("p", textwrap.dedent(source), language)], limits, workers=1)
    return outcome


# ------------------------------------------------------------------------------------------- case 9: Python

FORGERIES = {
    "os._exit(0) before the asserts": """
        import os
        os._exit(0)
        assert 1 + 1 == 3
    """,
    "patched os._exit": """
        import os
        _real = os._exit
        os._exit = lambda code: _real(0)
        assert 1 + 1 == 3
    """,
    "patched report function in __main__": """
        import os, sys
        main = sys.modules['__main__']
        for name in list(vars(main)):
            if callable(getattr(main, name)) and not name.startswith('__'):
                setattr(main, name, lambda *a, **k: os._exit(0))
        assert 1 + 1 == 3
    """,
    "patched os.write and os._exit": """
        import os
        os.write = lambda fd, data: len(data)
        _real = os._exit
        os._exit = lambda code: _real(0)
        raise ValueError('failed')
    """,
    "excepthook swallowing the failure": """
        import sys, os
        sys.excepthook = lambda *a: os._exit(0)
        sys.__excepthook__ = sys.excepthook
        assert False
    """,
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_python_program_cannot_forge_a_pass(name):
    o = run1(FORGERIES[name])
    assert not o.passed and o.kind != "passed", (name, o.kind, o.exit_code, o.stderr[-300:])


def test_exiting_zero_early_is_reported_as_such():
    o = run1("import os\nos._exit(0)\nassert False")
    assert o.kind == "exception" and "before the program finished" in o.stderr, (o.kind, o.stderr)


def test_an_honest_program_still_passes_and_prints():
    o = run1("import sys\nprint('out')\nprint('err', file=sys.stderr)\nassert sum([1, 2]) == 3")
    assert o.passed and o.kind == "passed" and o.stdout == "out\n" and "err" in o.stderr, (o.kind, o.stderr)


# --------------------------------------------------------------------------------- case 9: other languages

# Each exits 0 before a failing assertion; with exit codes as the verdict every one of them "passed".
EARLY_EXIT = {
    "cpp": "#include <cassert>\n#include <cstdlib>\nint main() { std::exit(0); assert(1 + 1 == 3); }\n",
    "java": "public class Main { public static void main(String[] a) { System.exit(0); "
            "if (1 + 1 != 3) throw new AssertionError(); } }",
    "js": "process.exit(0);\nconsole.assert(1 === 2, 'never');\n",
    "ts": "declare var process: any;\nprocess.exit(0);\nif (1 + 1 !== 3) { throw new Error('no'); }\n",
    "go": "package main\n\nimport (\n    \"os\"\n    \"testing\"\n)\n\n"
          "func TestBad(t *testing.T) {\n    os.Exit(0)\n    t.Fatal(\"no\")\n}\n",
    "rs": "fn main() { std::process::exit(0); #[allow(unreachable_code)] { assert_eq!(1 + 1, 3); } }\n",
    "php": "<?php\nfunction t() { exit(0); }\nt();\nthrow new Exception('Test failed!');\n",
    "sh": "exit 0\n[[ 1 = 2 ]]\n",
    "cs": "using System;\nclass P { static void Main() { Environment.Exit(0); "
          "throw new Exception(\"no\"); } }\n",
}
# The same programs without the early exit, passing: the completion record must not break honest programs.
HONEST = {
    "cpp": "#include <cassert>\nint main() { assert(1 + 1 == 2); return 0; }\n",
    "java": "public class Main { public static void main(String[] a) { if (1 + 1 != 2) throw new AssertionError(); } }",
    "js": "console.assert(1 === 1);\nsetTimeout(() => console.log('late'), 10);\n",
    "ts": "const n: number = 2;\nif (n !== 2) { throw new Error('bad'); }\n",
    "go": "package main\n\nimport \"testing\"\n\nfunc TestOk(t *testing.T) {\n    if 1+1 != 2 { t.Fatal(\"no\") }\n}\n",
    "rs": "#[cfg(test)]\nmod tests {\n    #[test]\n    fn ok() { assert_eq!(1 + 1, 2); }\n}\n",
    "php": "<?php\nfunction t() { return 2; }\nif (t() !== 2) { throw new Exception('Test failed!'); }\n",
    "sh": "set -e\nf() { echo $(( $1 + 1 )); }\n[[ $(f 1) = 2 ]]\n",
    "cs": "using System.Diagnostics;\nclass P { public static int Main(string[] a) { Debug.Assert(1 + 1 == 2); "
          "return 0; } }\n",
}


def _available(lang: str) -> bool:
    try:
        resolve_tools(LANGUAGES[lang], ISO["throwaway_uid"])
        return True
    except ValueError:
        return False


@pytest.fixture(scope="module")
def native_outcomes():
    langs = [lang for lang in EARLY_EXIT if _available(lang)]
    programs = [Program(f"{lang}/{what}", src[lang], lang) for lang in langs
                for what, src in (("early", EARLY_EXIT), ("honest", HONEST))]
    return {o.id: o for o in run_programs(programs, Limits(timeout_s=20), workers=2)}


@pytest.mark.slow
@pytest.mark.parametrize("lang", sorted(EARLY_EXIT))
def test_exiting_zero_before_the_tests_fails_in_every_language(native_outcomes, lang):
    if f"{lang}/early" not in native_outcomes:
        pytest.skip(f"no {lang} toolchain on this machine (test_languages.py checks the message)")
    early, honest = native_outcomes[f"{lang}/early"], native_outcomes[f"{lang}/honest"]
    assert honest.passed, (lang, honest.kind, honest.stderr[-800:])
    assert not early.passed and early.kind == "exception", (lang, early.kind, early.exit_code, early.stderr[-500:])
    assert early.exit_code == 0  # it did exit 0: the missing completion record is what fails it


# ------------------------------------------------------------------------------ case 10: memory and /tmp


def test_shared_anonymous_memory_counts_against_the_limit():
    """MAP_SHARED|MAP_ANONYMOUS is not in RLIMIT_DATA; 2x the limit must not pass."""
    o = run1("""
        import mmap
        size = 512 << 20
        m = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
        for i in range(0, size, 4096):
            m[i] = 1
        print('touched', size)
    """, Limits(timeout_s=20, memory_mb=256))
    if CGROUP:
        assert not o.passed and o.kind == "killed", (o.kind, o.stdout, o.stderr[-300:])
    else:  # documented: without a cgroup, shared anonymous memory is not bounded
        assert o.passed


def test_dev_shm_and_tmp_are_private_bounded_and_gone_afterwards():
    marker = f"opencook-shm-{secrets.token_hex(6)}"
    o = run1(f"""
        import os
        for d in ('/dev/shm', '/tmp', '/var/tmp'):
            with open(os.path.join(d, '{marker}'), 'wb') as f:
                f.write(b'x' * (1 << 20))
        written = 0
        try:
            for i in range(64):
                with open('/dev/shm/{marker}-%d' % i, 'wb') as f:
                    for _ in range(16):
                        f.write(b'y' * (1 << 20))
                        written += 1
        except OSError as e:
            print('stopped at', written, 'MiB:', e.strerror)
        print('wrote', written)
    """, Limits(timeout_s=20, memory_mb=256))
    leftovers = [p for d in ("/dev/shm", "/tmp", "/var/tmp") for p in Path(d).glob(f"{marker}*")]
    for p in leftovers:
        p.unlink()
    if PRIVATE_TMP:
        assert leftovers == [], leftovers
        assert "stopped at" in o.stdout or o.kind == "killed", (o.kind, o.stdout, o.stderr[-300:])
        if "stopped at" in o.stdout:
            assert int(o.stdout.split("stopped at ")[1].split()[0]) <= 256
    else:  # documented: without a mount namespace the host's /dev/shm and /tmp keep what programs leave
        assert leftovers


def test_host_unix_sockets_in_tmp_are_unreachable(tmp_path):
    path = Path("/tmp") / f"opencook-sock-{secrets.token_hex(6)}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    os.chmod(path, 0o777)
    server.listen(1)
    program = f"""
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect({str(path)!r})
        s.sendall(b'hello')
    """
    try:
        o = run1(program)
    finally:
        server.close()
        path.unlink()
    if PRIVATE_TMP:
        assert not o.passed and o.kind == "exception" and "FileNotFoundError" in o.stderr, (o.kind, o.stderr)
    else:  # documented: without a mount namespace a world-writable socket in /tmp is reachable
        assert o.passed


def test_the_program_still_has_its_own_writable_temp_dir():
    o = run1("""
        import os, tempfile
        with tempfile.NamedTemporaryFile(dir=os.environ['TMPDIR']) as f:
            f.write(b'ok')
        with open('/tmp/scratch', 'w') as f:
            f.write('ok')
        with open('here.txt', 'w') as f:
            f.write('ok')
        assert os.path.exists(os.path.join(os.environ['HOME'], 'here.txt'))
    """)
    assert o.passed, (o.kind, o.stderr[-500:])
