"""The run step for languages other than Python: build (cached), then run the result like any program.

The program gets what a Python program gets (throwaway uid, empty network namespace, pid namespace,
rlimits, a temp dir as cwd/HOME/TMPDIR, stdin closed, bounded output); the language adds its runtime's
heap ceiling and a floor on RLIMIT_NPROC for the threads its runtime starts. The verdict: exit 0 passes
(unless the output shows a failed assertion the runtime only printed, C#'s ``Debug.Assert``); a failed
assertion (C/C++ ``abort``, Java's ``AssertionError``, Go's ``--- FAIL``, Rust's panicking ``assert!``)
is ``wrong_answer``; any other non-zero exit is ``exception``; a signal is ``killed``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from opencook.sandbox.build import Builder, chown_tree, fill_args, heap_mb
from opencook.sandbox.isolation import Isolation, slot_uid
from opencook.sandbox.languages import Language
from opencook.sandbox.process import NOT_COMPLETED, spawn
from opencook.sandbox.types import Limits, Outcome, Program

FILE_SIZE_LIMIT = 16 << 20
OPEN_FILES_LIMIT = 256


def run_native(program: Program, lang: Language, limits: Limits, iso: Isolation, slot: int,
               builder: Builder) -> Outcome:
    start = time.perf_counter()
    source = program.source + lang.source_suffix
    build = builder.build(source, lang, limits, slot) if lang.compiled else None
    if build is not None and not build.ok:
        return Outcome(id=program.id, passed=False, kind=build.kind, exit_code=build.exit_code, stdout="",
                       stderr=build.stderr, duration_s=time.perf_counter() - start)
    workdir = Path(tempfile.mkdtemp(prefix="opencook-sandbox-"))
    uid = slot_uid(slot) if iso.drop_uid else -1
    try:
        src = lang.file_name(program.source)
        if build is not None:
            shutil.copytree(build.dir, workdir, dirs_exist_ok=True)
        else:
            (workdir / src).write_text(source, encoding="utf-8", errors="surrogatepass")
        for name, text in lang.run_files.items():
            (workdir / name).write_text(text)
        if uid >= 0:
            chown_tree(workdir, uid)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(workdir), "TMPDIR": str(workdir),
               **{k: v.format(heap_mb=heap_mb(limits)) for k, v in lang.env.items()}}
        argv = fill_args(lang.run, builder.tools[lang.name], src, [], limits, program.source, lang)
        settings = {"uid": uid, "gid": uid, "cpu_s": int(limits.timeout_s) + 1,
                    "data_bytes": limits.memory_mb << 20, "nproc": max(limits.max_procs, lang.nproc_floor),
                    "fsize_bytes": FILE_SIZE_LIMIT, "nofile": OPEN_FILES_LIMIT, "purelib": "",
                    "netns_fd": -1 if limits.network else iso.netns_fd, "pidns": bool(iso.pidns_in_child),
                    "argv": argv, **iso.containment(slot, limits.memory_mb << 20, str(workdir))}
        run_start = time.perf_counter()
        code, out, err, timed_out, completed = spawn(settings, str(workdir), env, iso.wrapper(limits.network),
                                                     run_start + limits.timeout_s, limits.max_output_bytes, uid,
                                                     verdict=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    kind = verdict(lang, code, out, err, timed_out, completed)
    if code == 0 and not completed and not timed_out:
        err += NOT_COMPLETED
    return Outcome(id=program.id, passed=kind == "passed", kind=kind, exit_code=code, stdout=out, stderr=err,
                   duration_s=time.perf_counter() - start)


def verdict(lang: Language, code: int, out: str, err: str, timed_out: bool, completed: bool = True) -> str:
    """How a run of ``lang`` ended, from its exit status, its completion record and what it printed."""
    if timed_out:
        return "timeout"
    text = out + err
    if 128 < code < 160:  # pid 1 of the program's namespace reports a signal as 128 + its number
        code = 128 - code
    if code < 0:
        return "wrong_answer" if -code == lang.wrong_answer_signal else "killed"
    if code == 0:
        if any(t in text for t in lang.failure_text):
            return "wrong_answer"
        return "passed" if completed else "exception"
    return "wrong_answer" if any(t in text for t in lang.wrong_answer_text) else "exception"

