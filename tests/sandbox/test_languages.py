"""Every sandbox language with its real toolchain: passes, failed assertions, compile errors, and the
Python sandbox's isolation (throwaway uid, no network, pid namespace, temp dir, limits, bounded output)."""

from __future__ import annotations

import os

import pytest

from opencook.sandbox import Limits, Program, isolation_report, run_programs
from opencook.sandbox.languages import LANGUAGES, Language, ToolchainMissing, language, resolve_tools

pytestmark = pytest.mark.slow

# (passing program, program whose assertion fails, program that does not compile or parse)
CASES = {
    "cpp": ("#include <cassert>\nint main() { assert(1 + 1 == 2); }\n",
            "#include <cassert>\nint main() { assert(1 + 1 == 3); }\n",
            "int main() { return undefined_name; }\n"),
    "java": ("public class Main { public static void main(String[] a) { if (2 != 1 + 1) throw new AssertionError(); } }",
             "public class Problem { public static void main(String[] a) { assert 2 == 3; } }",
             "public class Main { public static void main(String[] a) { int x = \"s\"; } }"),
    "js": ("console.assert([1, 2].length === 2)\n", "console.assert(1 === 2, 'one is not two')\n", "function (\n"),
    "ts": ("const n: number = 2;\nif (n !== 2) { throw new Error('bad'); }\n",
           "declare var require: any;\nconst assert = require('node:assert');\nassert.deepEqual([1], [2]);\n",
           "const n: number = 'not a number';\n"),
    "go": ("package main\n\nimport \"testing\"\n\nfunc TestOk(t *testing.T) {\n    if 1+1 != 2 { t.Fatal(\"no\") }\n}\n",
           "package main\n\nimport (\n    \"testing\"\n    \"github.com/stretchr/testify/assert\"\n)\n\n"
           "func TestBad(t *testing.T) {\n    assert.Equal(t, 1, 2)\n}\n",
           "package main\n\nfunc TestX(t *testing.T) { undefined() }\n"),
    "rs": ("fn main() { assert_eq!(1 + 1, 2); }\n", "fn main() { assert_eq!(1 + 1, 3); }\n",
           "fn main() { let x: i32 = \"s\"; }\n"),
    "php": ("<?php\nif (1 + 1 !== 2) { throw new Exception('Test failed!'); }\n",
            "<?php\nif (1 + 1 !== 3) { throw new Exception('Test failed!'); }\n", "<?php\nfunction (\n"),
    "sh": ("set -e\n[[ $((1 + 1)) = 2 ]]\n", "set -e\n[[ $((1 + 1)) = 3 ]]\n", "if then fi (\n"),
    "cs": ("using System.Diagnostics;\nclass P { static void Main() { Debug.Assert(1 + 1 == 2); } }\n",
           "using System.Diagnostics;\nclass P { static void Main() { Debug.Assert(1 + 1 == 3); } }\n",
           "class P { static void Main() { int x = \"s\"; } }\n"),
}
COMPILED = {name for name, lang in LANGUAGES.items() if lang.compiled}


@pytest.fixture(scope="module")
def outcomes():
    programs = [Program(f"{lang}/{what}", src, lang) for lang, srcs in CASES.items()
                for what, src in zip(("ok", "bad", "broken"), srcs, strict=True)]
    return {o.id: o for o in run_programs(programs, Limits(timeout_s=20), workers=2)}


@pytest.mark.parametrize("lang", sorted(CASES))
def test_a_correct_program_passes(outcomes, lang):
    o = outcomes[f"{lang}/ok"]
    assert o.passed and o.kind == "passed", (o.kind, o.stderr[-500:], o.stdout[-500:])


@pytest.mark.parametrize("lang", sorted(CASES))
def test_a_failed_assertion_fails(outcomes, lang):
    o = outcomes[f"{lang}/bad"]
    assert not o.passed
    expected = {"php": "exception", "sh": "exception"}.get(lang, "wrong_answer")
    assert o.kind == expected, (o.kind, o.stderr[-500:], o.stdout[-500:])


@pytest.mark.parametrize("lang", sorted(CASES))
def test_a_broken_program_fails(outcomes, lang):
    o = outcomes[f"{lang}/broken"]
    assert not o.passed
    if lang in COMPILED:
        assert o.kind == "syntax_error" and o.stderr.strip(), (o.kind, o.stderr)


def test_console_assert_throws_in_javascript(outcomes):
    o = outcomes["js/bad"]
    assert "console.assert failed: one is not two" in o.stderr


def test_aliases_and_unknown_language():
    assert Program("x", "", "rust").language == "rs" and Program("x", "", "javascript").language == "js"
    assert Program("x", "", "py").language == "python"
    with pytest.raises(ValueError, match="no language 'cobol'"):
        Program("x", "", "cobol")


def test_a_missing_toolchain_names_the_package():
    fake = Language("zz", "main.zz", {"opencook-no-such-compiler": "opencook-zz-dev"}, run=("./main",))
    with pytest.raises(ToolchainMissing, match="opencook-zz-dev") as err:
        resolve_tools(fake, drop_uid=True)
    assert "make setup" in str(err.value) and "docs/eval_sandbox.md" in str(err.value)
    assert isinstance(err.value, ValueError)  # the CLI turns it into one clear line, exit 2


# ----------------------------------------------------------------------------------------- isolation

ISOLATION_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/resource.h>
int main() {
    char cwd[4096]; getcwd(cwd, sizeof cwd);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(53);
    inet_pton(AF_INET, "1.1.1.1", &a.sin_addr);
    int connected = connect(s, (struct sockaddr*)&a, sizeof a) == 0;
    FILE *f = fopen("/etc/opencook-sandbox-probe", "w");
    struct rlimit r; getrlimit(RLIMIT_DATA, &r);
    printf("uid=%d pid=%d connected=%d wrote_etc=%d data=%ld cwd=%s home=%s\n", (int)getuid(), (int)getpid(),
           connected, f != NULL, (long)r.rlim_cur, cwd, getenv("HOME"));
    return 0;
}
"""


def _fields(text: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in text.split())


def test_a_compiled_program_gets_the_python_sandboxs_isolation():
    report = isolation_report()
    (o,) = run_programs([Program("iso", ISOLATION_C, "cpp")], Limits(memory_mb=256), workers=1)
    assert o.passed, o.stderr
    f = _fields(o.stdout)
    assert f["connected"] == "0" and f["wrote_etc"] == "0"
    assert int(f["data"]) == 256 << 20
    assert f["cwd"].startswith("/tmp/opencook-sandbox-") and f["home"] == f["cwd"]
    assert not os.path.exists(f["cwd"])  # the temp dir is gone afterwards
    if report["throwaway_uid"]:
        assert int(f["uid"]) >= 200_000
    if report["pid_namespace"]:
        assert int(f["pid"]) <= 3  # pid 1 waits for it in its own namespace


def test_timeout_kills_a_compiled_program():
    (o,) = run_programs([Program("spin", "int main() { for (;;) {} }\n", "cpp")], Limits(timeout_s=1), workers=1)
    assert o.kind == "timeout" and not o.passed


def test_output_is_bounded():
    src = "#include <stdio.h>\nint main() { for (int i = 0; i < 2000000; i++) puts(\"0123456789\"); }\n"
    (o,) = run_programs([Program("spam", src, "cpp")], Limits(max_output_bytes=1000), workers=1)
    assert o.stdout.startswith("[") and "bytes cut]" in o.stdout.splitlines()[0]
    assert len(o.stdout) < 1100


def test_memory_limit_stops_a_memory_hog():
    src = ("#include <stdlib.h>\n#include <string.h>\n#include <stdio.h>\n"
           "int main() { char *p = malloc(600u << 20); if (!p) { fputs(\"no memory\\n\", stderr); return 1; }\n"
           "memset(p, 1, 600u << 20); return 0; }\n")
    (o,) = run_programs([Program("hog", src, "cpp")], Limits(memory_mb=256), workers=1)
    assert not o.passed and "no memory" in o.stderr


@pytest.mark.parametrize("lang", ["java", "js", "go", "cs"])
def test_runtimes_that_reserve_address_space_start_under_the_default_limit(outcomes, lang):
    """The JVM, V8, Go and Mono reserve far more address space than 1 GiB; RLIMIT_DATA lets them start."""
    assert outcomes[f"{lang}/ok"].passed


def test_language_table_is_complete():
    assert set(CASES) == set(LANGUAGES) == {"cpp", "java", "js", "ts", "go", "rs", "php", "sh", "cs"}
    for name in LANGUAGES:
        assert language(name).name == name


def test_a_memory_limit_the_jvm_cannot_start_under_is_refused_by_name():
    with pytest.raises(ValueError, match="java programs need >= 256"):
        run_programs([Program("j", CASES["java"][0], "java")], Limits(memory_mb=128), workers=1)
