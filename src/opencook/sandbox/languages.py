"""The languages the sandbox runs besides Python: how each is compiled, run and judged.

Each ``Language`` names its toolchain binaries with the Debian package that provides them, so a missing
one is an error that says what to install. Compiled languages build once per program (``build.py``
caches the artefacts by content hash); the run step only executes what the build left. Memory: the
sandbox bounds ``RLIMIT_DATA`` (not the address space), so runtimes that *reserve* large PROT_NONE
regions (the JVM heap, V8's pointer cage, Go's arenas) start fine; the JVM and V8 are also told their
heap ceiling so they fail with their own out-of-memory error rather than at a random allocation.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field

from opencook.sandbox import completion as done

# Where toolchains are looked up. The throwaway uid cannot enter /root, so rustup's or a user's npm's
# binaries there are not used as root; without root the caller's PATH is searched after these.
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"

# console.assert only prints in Node.js; HumanEval-X's JavaScript tests rely on it failing the program.
NODE_ASSERT_PRELUDE = """\
'use strict';
const { AssertionError } = require('assert');
console.assert = (value, ...message) => {
  if (!value) {
    throw new AssertionError({ message: 'console.assert failed' + (message.length ? ': ' + message.join(' ') : '') });
  }
};
"""

# npm's global roots (``npm install -g``), so packages a benchmark's harness installed (js-md5) resolve.
NODE_PATH = "/usr/local/lib/node_modules:/usr/lib/node_modules"


class ToolchainMissing(ValueError):
    """A language's compiler or runtime is not installed; the message names the Debian package."""


@dataclass(frozen=True)
class Language:
    """How to build and run one language. Argument templates use ``{src}`` (the source file name),
    ``{heap_mb}`` and, for prepared dependencies, ``{deps}``; binaries are replaced by absolute paths."""

    name: str
    source_file: str
    tools: dict[str, str]  # binary -> the Debian package that provides it
    run: tuple[str, ...]
    compile: tuple[str, ...] = ()  # empty: interpreted, the run step reads the source itself
    env: dict[str, str] = field(default_factory=dict)
    wrong_answer_signal: int = 0  # a signal that means a failed assertion (C/C++ assert aborts)
    wrong_answer_text: tuple[str, ...] = ()  # output that means a failed assertion rather than a crash
    failure_text: tuple[str, ...] = ()  # output that fails a program even when it exits 0
    run_files: dict[str, str] = field(default_factory=dict)  # extra files written beside the program
    compile_files: dict[str, str] = field(default_factory=dict)  # extra sources compiled with it ({package})
    source_suffix: str = ""  # appended to the program (its completion record, completion.py)
    nproc_floor: int = 0  # threads the runtime itself starts (each counts against RLIMIT_NPROC)
    min_memory_mb: int = 32  # the smallest Limits.memory_mb (RLIMIT_DATA) the runtime starts under
    install_note: str = ""

    @property
    def compiled(self) -> bool:
        return bool(self.compile)

    def file_name(self, source: str) -> str:
        """The name the source must have (Java: the public class's name)."""
        if self.name == "java":
            m = re.search(r"^\s*public\s+(?:final\s+)?class\s+(\w+)", source, re.M)
            return f"{m.group(1) if m else 'Main'}.java"
        return self.source_file

    def main_class(self, source: str) -> str:
        """Java: the class declaring ``main`` (MultiPL-E's ``class Problem`` is not public)."""
        at = source.find("static void main(")
        names = re.findall(r"\bclass\s+(\w+)", source[:at]) if at >= 0 else []
        return names[-1] if names else self.file_name(source).removesuffix(".java")


# MultiPL-E's Java prompts import org.javatuples.*; Debian's libjavatuples-java puts the jar here.
_JAVA_CP = ".:/usr/share/java/javatuples.jar"
_JVM = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss8m", "-XX:MaxMetaspaceSize=128m")

LANGUAGES: dict[str, Language] = {lang.name: lang for lang in (
    Language("cpp", "main.cpp", {"g++": "g++"},
             compile=("g++", "-std=c++17", "-O1", "-w", "-o", "main", "{src}", done.CPP_FILE,
                      "-Wl,--wrap=exit", "-lcrypto"),
             compile_files={done.CPP_FILE: done.CPP}, run=("./main",), wrong_answer_signal=6, wrong_answer_text=("Assertion `",),
             install_note="openssl/md5.h (HumanEval-X CPP/162) comes from libssl-dev"),
    Language("java", "Main.java", {"javac": "default-jdk-headless", "java": "default-jre-headless"},
             compile=("javac", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-J-Xmx512m",
                      "-encoding", "UTF-8", "-nowarn", "-cp", _JAVA_CP, "-d", ".", "{src}", done.JAVA_FILE),
             compile_files={done.JAVA_FILE: done.JAVA},
             run=("java", "-ea", *_JVM, "-Xmx{heap_mb}m", "-cp", _JAVA_CP, done.JAVA_CLASS, "{main_class}"),
             wrong_answer_text=("java.lang.AssertionError",), nproc_floor=64, min_memory_mb=256,
             install_note="MultiPL-E's Java prompts import org.javatuples (libjavatuples-java)"),
    Language("js", "main.js", {"node": "nodejs"},
             run=("node", "--max-old-space-size={heap_mb}", "--require", "./assert_prelude.js", "{src}"),
             run_files={"assert_prelude.js": NODE_ASSERT_PRELUDE + done.NODE}, wrong_answer_text=("AssertionError",),
             env={"NODE_PATH": NODE_PATH}, nproc_floor=32,
             install_note="HumanEval-X JavaScript/162 requires js-md5 (npm install -g js-md5)"),
    Language("ts", "main.ts", {"tsc": "typescript (npm install -g typescript)", "node": "nodejs"},
             compile=("tsc", "--target", "es2020", "--module", "commonjs", "--lib", "es2020",
                      "--skipLibCheck", "--pretty", "false", "{src}"),
             run=("node", "--max-old-space-size={heap_mb}", "--require", "./assert_prelude.js", "main.js"),
             run_files={"assert_prelude.js": NODE_ASSERT_PRELUDE + done.NODE}, wrong_answer_text=("AssertionError",),
             env={"NODE_PATH": NODE_PATH}, nproc_floor=32),
    Language("go", "main_test.go", {"go": "golang-go"},
             compile=("go", "test", "-c", "-o", "main.test", "{src}", done.GO_FILE),
             compile_files={done.GO_FILE: done.GO},
             run=("./main.test",), env={"GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOFLAGS": "",
                                        "GOMAXPROCS": "2", "GOTOOLCHAIN": "local"},
             wrong_answer_text=("--- FAIL",), nproc_floor=32,
             install_note="HumanEval-X's tests import github.com/stretchr/testify (golang-github-stretchr-testify-dev)"),
    Language("rs", "main.rs", {"rustc": "rustc", "cargo": "cargo"},
             compile=("rustc", "--edition", "2021", "--cap-lints", "allow", "-C", "debuginfo=0", "-C",
                      "strip=debuginfo", "-C", "link-arg=-Wl,--wrap=exit", "-o", "main", "{src}", "{deps}"),
             source_suffix=done.RUST_SUFFIX,
             run=("./main",), env={"RUST_TEST_THREADS": "1", "RUST_BACKTRACE": "0"},
             wrong_answer_text=("assertion failed", "assertion `left", "test result: FAILED"), nproc_floor=8,
             install_note="HumanEval-X's rand/regex/md5 crates come from librust-rand-dev, librust-regex-dev, "
                          "librust-md5-dev"),
    Language("php", "main.php", {"php": "php-cli"},
             run=("php", "-d", "display_errors=stderr", "-d", "memory_limit={heap_mb}M", "-d",
                  f"auto_append_file=./{done.PHP_FILE}", "{src}"),
             run_files={done.PHP_FILE: done.PHP},
             wrong_answer_text=("AssertionError",)),
    Language("sh", "main.sh", {"bash": "bash"}, run=("bash", "{src}"), source_suffix=done.BASH_SUFFIX),
    Language("cs", "main.cs", {"mcs": "mono-mcs", "mono": "mono-runtime"},
             compile=("mcs", "-d:DEBUG", "-r:System.Numerics.dll", "-nowarn:CS0162,CS0168,CS0219",
                      f"-main:{done.CS_CLASS}", "-out:main.exe", "{src}", done.CS_FILE),
             compile_files={done.CS_FILE: done.CS},
             run=("mono", "main.exe"),
             env={"MONO_GC_PARAMS": "max-heap-size={heap_mb}m", "MONO_TRACE_LISTENER": "Console.Error"},
             wrong_answer_text=("DefaultTraceListener.Fail",),
             failure_text=("DefaultTraceListener.Fail", "Unhandled Exception"),  # mono exits 0 after either
             nproc_floor=32),
)}

# The names benchmarks use for the same language (MultiPL-E codes, HumanEval-X file names, common names).
ALIASES = {"c++": "cpp", "javascript": "js", "typescript": "ts", "rust": "rs", "bash": "sh", "shell": "sh",
           "csharp": "cs", "c#": "cs", "golang": "go"}


def language(name: str) -> Language:
    """The language called ``name`` (a MultiPL-E code like ``rs``, or ``rust``, ``javascript``, ...)."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in LANGUAGES:
        raise ValueError(f"the sandbox has no language {name!r}: use python or one of {sorted(LANGUAGES)} "
                         f"(aliases: {sorted(ALIASES)})")
    return LANGUAGES[key]


def search_path(drop_uid: bool) -> str:
    """Where toolchains are found: system dirs only when programs run as a throwaway uid (it cannot enter a
    home under /root), the caller's PATH after them otherwise."""
    extra = "" if drop_uid else os.environ.get("PATH", "")
    return ":".join(p for p in (SYSTEM_PATH, extra) if p)


def resolve_tools(lang: Language, drop_uid: bool) -> dict[str, str]:
    """Absolute paths of the language's binaries, or ``ToolchainMissing`` naming what to install."""
    path = search_path(drop_uid)
    found, missing = {}, []
    for tool, package in lang.tools.items():
        where = shutil.which(tool, path=path)
        if where is None:
            missing.append(f"`{tool}` (Debian: {package})")
        else:
            found[tool] = where
    if missing:
        raise ToolchainMissing(
            f"the sandbox cannot run {lang.name} programs: {', '.join(missing)} not found in {path}. "
            "As root, `make setup` installs every toolchain (scripts/install_toolchains.sh); without root "
            "see docs/eval_sandbox.md" + (f". Note: {lang.install_note}" if lang.install_note else ""))
    return found
