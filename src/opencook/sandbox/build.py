"""The compile step: build a program once per content hash, in the sandbox, and keep what it produced.

A build runs the compiler as the worker slot's throwaway uid, in a fresh temp dir, with the compile limits
(``Limits.compile_timeout_s``/``compile_memory_mb``), no network and its own pid namespace: the source is
untrusted even at compile time (``include_str!("/root/.ssh/id_rsa")``, template bombs). Its artefacts (and
go to ``<cache>/build/<lang>/<sha256>/``; the key hashes the language, the toolchain (binary paths, sizes,
mtimes; prepared dependencies) and the source, so a second run of the same program, or n identical samples,
compile once. A rejected source is remembered for this process only (installing a missing header or
package must not need a cache wipe); timeouts are not remembered (they may be the machine's load).

Two languages need dependencies prepared once per cache (as the harness's user, from Debian packages,
offline): Go gets a warm build cache with testify compiled (a cold one costs ~7 s a program), Rust the
rand/regex/md5 crates HumanEval-X imports.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from opencook.sandbox.isolation import Isolation, slot_uid
from opencook.sandbox.languages import Language, language, resolve_tools
from opencook.sandbox.process import spawn
from opencook.sandbox.types import Limits

CACHE_ENV = "OPENCOOK_SANDBOX_CACHE"
COMPILE_NPROC = 512  # compilers are multi-threaded (javac's JVM, rustc, go's parallel compiles)
COMPILE_FILE_SIZE = 512 << 20
COMPILE_OUTPUT_BYTES = 32_000
_GO_SEED = """package main

import (
    "testing"
    "github.com/stretchr/testify/assert"
)

func TestSeed(t *testing.T) {
    assert.Equal(t, 1, 1)
}
"""
_RUST_CRATES = {"rand": '"0.8"', "regex": '{ version = "1", default-features = false, features = ["std", "unicode"] }',
                "md5": '"0.7"'}


def default_cache_dir() -> Path:
    """``$OPENCOOK_SANDBOX_CACHE``, else ``/var/tmp/opencook-sandbox-<euid>`` (kept across runs and reboots)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path("/var/tmp") / f"opencook-sandbox-{os.geteuid()}"


@dataclass(frozen=True)
class Build:
    """What the compile step left: ``ok`` with artefacts in ``dir``, or the compiler's verdict."""

    ok: bool
    kind: str  # built, syntax_error (the compiler said no), timeout, killed
    exit_code: int | None
    stderr: str
    seconds: float
    dir: Path | None = None
    cached: bool = False


class Builder:
    """Compiles programs of the given languages under one cache dir; thread-safe."""

    def __init__(self, cache_dir: str | Path | None, iso: Isolation, languages: list[str]):
        self.iso = iso
        self.root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.tools = {name: resolve_tools(language(name), iso.drop_uid) for name in languages}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._deps: dict[str, tuple[list[str], str]] = {}
        self._rejected: dict[str, Build] = {}  # compile errors: remembered in memory only (a header may appear)
        self._make_dirs()

    def _make_dirs(self) -> None:
        for sub, mode in (("", 0o711), ("build", 0o700), ("shared", 0o755)):
            path = self.root / sub
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, mode)
        if self.iso.drop_uid and {"rs", "go"} & set(self.tools):  # their prepared dependencies are read in place
            blocked = [p for p in (self.root, *self.root.parents) if not os.stat(p).st_mode & 0o001]
            if blocked:
                raise ValueError(f"sandbox cache {self.root}: {blocked[0]} is not searchable by other users, so "
                                 f"the throwaway uid cannot read prepared dependencies; set ${CACHE_ENV} to a "
                                 "path under /var/tmp (the default)")

    # ------------------------------------------------------------------ toolchain identity and dependencies

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _tool_fingerprint(self, lang: Language) -> str:
        parts = [lang.name, *lang.compile, *lang.compile_files.values()]
        for tool in sorted(self.tools[lang.name].values()):
            st = os.stat(tool)
            parts.append(f"{os.path.realpath(tool)}:{st.st_size}:{int(st.st_mtime)}")
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]

    def deps(self, lang: Language) -> tuple[list[str], str]:
        """(extra compile arguments, a note when the dependencies could not be prepared)."""
        if lang.name not in ("rs", "go"):
            return [], ""
        with self._lock(f"deps:{lang.name}"):
            if lang.name not in self._deps:
                folder = self.root / "shared" / f"{lang.name}-{self._tool_fingerprint(lang)}"
                prepare = _prepare_rust if lang.name == "rs" else _prepare_go
                self._deps[lang.name] = prepare(folder, self.tools[lang.name])
            return self._deps[lang.name]

    # ------------------------------------------------------------------ the build itself

    def build(self, source: str, lang: Language, limits: Limits, slot: int) -> Build:
        args, note = self.deps(lang)
        key = hashlib.sha256(json.dumps([lang.name, self._tool_fingerprint(lang), args, source]).encode()).hexdigest()
        entry = self.root / "build" / lang.name / key[:2] / key
        with self._lock(key):
            cached = self._rejected.get(key) or _read_entry(entry)
            if cached is not None:
                return cached
            result = self._compile(source, lang, limits, slot, args, note)
            if result.ok:
                result = _store(entry, result)
            elif result.kind == "syntax_error":
                self._rejected[key] = replace(result, cached=True)
            return result

    def _compile(self, source: str, lang: Language, limits: Limits, slot: int, args: list[str], note: str) -> Build:
        start = time.perf_counter()
        workdir = Path(tempfile.mkdtemp(prefix="opencook-build-"))
        uid = slot_uid(slot) if self.iso.drop_uid else -1
        try:
            src = lang.file_name(source)
            (workdir / src).write_text(source, encoding="utf-8", errors="surrogatepass")
            for name, text in lang.compile_files.items():
                (workdir / name).write_text(text.replace("{package}", _go_package(source)))
            env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(workdir), "TMPDIR": str(workdir),
                   **lang.env}
            if lang.name == "go":
                shutil.copytree(args[0], workdir / ".gocache")
                env["GOCACHE"] = str(workdir / ".gocache")
                args = []
            argv = fill_args(lang.compile, self.tools[lang.name], src, args, limits, source, lang)
            if lang.name == "rs" and "#[test]" in source:  # HumanEval-X: a test module, run by the test harness
                argv.insert(1, "--test")
            if uid >= 0:
                chown_tree(workdir, uid)
            settings = {"uid": uid, "gid": uid, "cpu_s": int(limits.compile_timeout_s) * 4 + 1,
                        "data_bytes": limits.compile_memory_mb << 20, "nproc": COMPILE_NPROC,
                        "fsize_bytes": COMPILE_FILE_SIZE, "nofile": 1024, "purelib": "",
                        "netns_fd": self.iso.netns_fd, "pidns": bool(self.iso.pidns_in_child), "argv": argv,
                        **self.iso.containment(slot, limits.compile_memory_mb << 20, str(workdir), str(self.root))}
            code, out, err, timed_out, _ = spawn(settings, str(workdir), env, self.iso.prefix,
                                                 start + limits.compile_timeout_s, COMPILE_OUTPUT_BYTES, uid)
            shutil.rmtree(workdir / ".gocache", ignore_errors=True)
            message = "\n".join(s for s in (out.strip(), err.strip()) if s)
            if timed_out:
                return Build(False, "timeout", None, f"compile timed out after {limits.compile_timeout_s:g} s "
                             f"(Limits.compile_timeout_s)\n{message}", time.perf_counter() - start)
            if code < 0:
                return Build(False, "killed", code, message, time.perf_counter() - start)
            if code != 0:
                if note:
                    message += f"\n[{note}]"
                return Build(False, "syntax_error", code, message, time.perf_counter() - start)
            out_dir = Path(tempfile.mkdtemp(prefix="opencook-built-"))
            for item in workdir.iterdir():
                shutil.move(str(item), out_dir / item.name)
            return Build(True, "built", 0, message, time.perf_counter() - start, dir=out_dir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def fill_args(template: tuple[str, ...], tools: dict[str, str], src: str, deps: list[str], limits: Limits,
          source: str, lang: Language) -> list[str]:
    """The argument list: tools as absolute paths, placeholders filled, ``{deps}`` spliced in."""
    argv: list[str] = []
    for i, a in enumerate(template):
        if a == "{deps}":
            argv.extend(deps)
        elif i == 0:
            argv.append(tools.get(a, a))
        else:
            argv.append(a.format(src=src, heap_mb=heap_mb(limits), main_class=lang.main_class(source)))
    return argv


def _go_package(source: str) -> str:
    m = re.search(r"^\s*package\s+(\w+)", source, re.M)
    return m.group(1) if m else "main"


def heap_mb(limits: Limits) -> int:
    """The managed heap a runtime (JVM, V8, PHP, Mono) is told to stay under: half the data limit."""
    return max(64, limits.memory_mb // 2)


def chown_tree(path: Path, uid: int) -> None:
    os.chown(path, uid, uid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in (*dirnames, *filenames):
            os.lchown(os.path.join(dirpath, name), uid, uid)


def _read_entry(entry: Path) -> Build | None:
    try:
        meta = json.loads((entry / "build.json").read_text())
    except (OSError, ValueError):
        return None
    return Build(meta["ok"], meta["kind"], meta["exit_code"], meta["stderr"], meta["seconds"],
                 dir=entry / "out" if meta["ok"] else None, cached=True)


def _store(entry: Path, result: Build) -> Build:
    """Move the artefacts under ``entry`` atomically (a rename); a concurrent writer's copy wins ties."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=entry.parent))
    if result.dir is not None:
        shutil.move(str(result.dir), tmp / "out")
    meta = {"ok": result.ok, "kind": result.kind, "exit_code": result.exit_code, "stderr": result.stderr,
            "seconds": round(result.seconds, 3)}
    (tmp / "build.json").write_text(json.dumps(meta))
    try:
        os.rename(tmp, entry)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return Build(result.ok, result.kind, result.exit_code, result.stderr, result.seconds,
                 dir=entry / "out" if result.ok else None, cached=False)


# ---------------------------------------------------------------------- dependencies prepared once per cache

def _prepared(folder: Path, make) -> tuple[list[str], str]:
    marker = folder / "prepared.json"
    if marker.is_file():
        meta = json.loads(marker.read_text())
        return meta["args"], meta["note"]
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    os.chmod(tmp, 0o755)
    try:
        args, note = make(tmp)
        final = [a.replace(str(tmp), str(folder)) for a in args]
        (tmp / "prepared.json").write_text(json.dumps({"args": final, "note": note}))
        for dirpath, dirnames, filenames in os.walk(tmp):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o755)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o644)
        try:
            os.rename(tmp, folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        return final, note
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _prepare_go(folder: Path, tools: dict[str, str]) -> tuple[list[str], str]:
    """A Go build cache with testify compiled; every build starts from a copy of it."""

    def make(tmp: Path) -> tuple[list[str], str]:
        work = tmp / "seed"
        work.mkdir()
        (work / "seed_test.go").write_text(_GO_SEED)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "GOCACHE": str(tmp / "gocache"),
               **language("go").env}
        proc = subprocess.run([tools["go"], "test", "-c", "-o", "seed.test", "seed_test.go"], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600)
        shutil.rmtree(work)
        note = "" if proc.returncode == 0 else (
            "testify did not compile (is golang-github-stretchr-testify-dev installed?): " + proc.stderr[-300:])
        (tmp / "gocache").mkdir(exist_ok=True)
        return [str(tmp / "gocache")], note

    return _prepared(folder, make)


def _prepare_rust(folder: Path, tools: dict[str, str]) -> tuple[list[str], str]:
    """rand, regex and md5 built by cargo from Debian's crate registry (offline); ``--extern`` for each."""
    registry = Path("/usr/share/cargo/registry")

    def make(tmp: Path) -> tuple[list[str], str]:
        if not registry.is_dir():
            return [], (f"no Rust crates: {registry} is missing (Debian: librust-rand-dev, librust-regex-dev, "
                        "librust-md5-dev)")
        (tmp / "src").mkdir()
        (tmp / "src" / "lib.rs").write_text("")
        deps = "\n".join(f"{k} = {v}" for k, v in _RUST_CRATES.items())
        (tmp / "Cargo.toml").write_text(f'[package]\nname = "opencook_rust_deps"\nversion = "0.0.0"\n'
                                        f'edition = "2021"\n\n[dependencies]\n{deps}\n')
        (tmp / ".cargo").mkdir()
        (tmp / ".cargo" / "config.toml").write_text(
            f'[source.crates-io]\nreplace-with = "debian"\n[source.debian]\ndirectory = "{registry}"\n'
            '[net]\noffline = true\n')
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "CARGO_HOME": str(tmp / ".cargo"),
               "RUSTC": tools["rustc"]}
        proc = subprocess.run([tools["cargo"], "build", "--offline", "--quiet"], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            return [], ("the Rust crates rand/regex/md5 did not build (Debian: librust-rand-dev, "
                        f"librust-regex-dev, librust-md5-dev): {proc.stderr.strip()[-300:]}")
        deps_dir = tmp / "target" / "debug" / "deps"
        args = ["-L", f"dependency={deps_dir}"]
        for crate in _RUST_CRATES:
            rlib = sorted(deps_dir.glob(f"lib{crate}-*.rlib"))
            if rlib:
                args += ["--extern", f"{crate}={rlib[0]}"]
        for junk in ("src", ".cargo", "Cargo.toml", "Cargo.lock"):
            path = tmp / junk
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        for extra in ("build", "incremental", ".fingerprint", "examples"):
            shutil.rmtree(tmp / "target" / "debug" / extra, ignore_errors=True)
        return args, ""

    return _prepared(folder, make)
