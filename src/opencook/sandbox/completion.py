"""The completion record each language writes after the program's last statement, and nowhere else.

A pass needs the nonce the harness put in the pipe ``r`` copied to the pipe ``w`` (``$OPENCOOK_VERDICT_FDS``
= ``r,w``; ``process.spawn``): an exit status of 0 alone is not a pass, so a program that exits 0 before its
tests (``exit(0)``, ``System.exit(0)``, ``process.exit(0)``, ``os.Exit(0)``, ``exit 0``...) fails. Where the
record is written:

- C++ and Rust: an ``atexit`` handler registered at load time, which does nothing once ``exit`` was called
  explicitly: the program is linked with ``-Wl,--wrap=exit``, so every call to ``exit`` in its own code (and in
  Rust's std and libtest, which call ``exit(101)`` on a failed test) goes through ``__wrap_exit``, which marks
  it, while returning from ``main`` calls the real ``exit`` from inside libc. ``_exit`` skips the handler.
- Java and C#: a launcher class runs the program's ``main`` by reflection, then writes the record;
  ``System.exit``/``Environment.Exit`` never return to it.
- Go: a ``TestMain`` beside the tests writes it when ``m.Run()`` returned 0; ``os.Exit`` in a test never returns.
- JavaScript/TypeScript: Node's ``beforeExit`` event, which ``process.exit()`` and an uncaught error skip.
- PHP: ``auto_append_file``, which PHP skips after ``exit()`` or a fatal error.
- Bash: appended after the script's last line, written only when the last command's status is 0.
"""

from __future__ import annotations

_C_RECORD = """
static void opencook_record(void) {
  if (opencook_explicit_exit) return;
  const char* fds = getenv("OPENCOOK_VERDICT_FDS");
  if (!fds || !strchr(fds, ',')) return;
  int r = atoi(fds), w = atoi(strchr(fds, ',') + 1);
  char buf[128];
  ssize_t n = read(r, buf, sizeof buf);
  if (n > 0 && write(w, buf, (size_t)n) < 0) return;
}
"""

CPP_FILE = "opencook_completion.cpp"
CPP = """#include <cstdlib>
#include <cstring>
#include <unistd.h>
static volatile int opencook_explicit_exit = 0;
extern "C" {
[[noreturn]] void __real_exit(int);
[[noreturn]] void __wrap_exit(int code) { opencook_explicit_exit = 1; __real_exit(code); }
}
""" + _C_RECORD + """
__attribute__((constructor)) static void opencook_register(void) { atexit(opencook_record); }
"""

RUST_SUFFIX = """

#[allow(dead_code, non_snake_case, unused_imports, unused_unsafe)]
mod __opencook_completion {
    use std::io::{Read, Write};
    use std::os::unix::io::FromRawFd;
    use std::sync::atomic::{AtomicBool, Ordering};
    static EXPLICIT: AtomicBool = AtomicBool::new(false);
    extern "C" {
        fn __real_exit(code: i32) -> !;
        fn atexit(f: extern "C" fn()) -> i32;
    }
    #[no_mangle]
    pub extern "C" fn __wrap_exit(code: i32) -> ! {
        EXPLICIT.store(true, Ordering::SeqCst);
        unsafe { __real_exit(code) }
    }
    extern "C" fn record() {
        if EXPLICIT.load(Ordering::SeqCst) {
            return;
        }
        let fds: Vec<i32> = std::env::var("OPENCOOK_VERDICT_FDS").unwrap_or_default()
            .split(',').filter_map(|s| s.parse().ok()).collect();
        if fds.len() != 2 {
            return;
        }
        let mut nonce = Vec::new();
        let mut r = unsafe { std::fs::File::from_raw_fd(fds[0]) };
        let _ = r.read_to_end(&mut nonce);
        let mut w = unsafe { std::fs::File::from_raw_fd(fds[1]) };
        let _ = w.write_all(&nonce);
    }
    extern "C" fn register() {
        unsafe { atexit(record); }
    }
    #[used]
    #[link_section = ".init_array"]
    static REGISTER: extern "C" fn() = register;
}
"""

JAVA_CLASS = "OpencookCompletion"
JAVA_FILE = f"{JAVA_CLASS}.java"
JAVA = """public class OpencookCompletion {
    public static void main(String[] args) throws Throwable {
        java.lang.reflect.Method main = Class.forName(args[0]).getDeclaredMethod("main", String[].class);
        main.setAccessible(true);
        try {
            main.invoke(null, (Object) new String[0]);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
        }
        String[] fds = String.valueOf(System.getenv("OPENCOOK_VERDICT_FDS")).split(",");
        if (fds.length != 2) return;
        byte[] nonce = java.nio.file.Files.readAllBytes(java.nio.file.Paths.get("/proc/self/fd/" + fds[0]));
        try (java.io.FileOutputStream w = new java.io.FileOutputStream("/proc/self/fd/" + fds[1])) {
            w.write(nonce);
        }
    }
}
"""

CS_CLASS = "OpencookCompletion"
CS_FILE = "opencook_completion.cs"
CS = """using System;
using System.IO;
using System.Reflection;

static class OpencookCompletion {
    static int Main(string[] args) {
        MethodInfo main = null;
        foreach (Type t in typeof(OpencookCompletion).Assembly.GetTypes()) {
            if (t == typeof(OpencookCompletion)) continue;
            foreach (MethodInfo m in t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
                if (m.Name == "Main" && main == null) main = m;
        }
        if (main == null) { Console.Error.WriteLine("no static Main method"); return 1; }
        object result;
        try {
            result = main.Invoke(null, main.GetParameters().Length == 0 ? null : new object[] { new string[0] });
        } catch (TargetInvocationException e) {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
        int code = result is int ? (int) result : Environment.ExitCode;
        if (code != 0) return code;
        string[] fds = (Environment.GetEnvironmentVariable("OPENCOOK_VERDICT_FDS") ?? "").Split(',');
        if (fds.Length != 2) return 0;
        byte[] nonce = new byte[128];
        int n;
        using (FileStream r = new FileStream("/proc/self/fd/" + fds[0], FileMode.Open, FileAccess.Read))
            n = r.Read(nonce, 0, nonce.Length);
        using (FileStream w = new FileStream("/proc/self/fd/" + fds[1], FileMode.Open, FileAccess.Write))
            w.Write(nonce, 0, n);
        return 0;
    }
}
"""

GO_FILE = "opencook_completion_test.go"
GO = """package {package}

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		opencookRecord()
	}
	os.Exit(code)
}

func opencookRecord() {
	fds := strings.Split(os.Getenv("OPENCOOK_VERDICT_FDS"), ",")
	if len(fds) != 2 {
		return
	}
	r, err1 := strconv.Atoi(fds[0])
	w, err2 := strconv.Atoi(fds[1])
	if err1 != nil || err2 != nil {
		return
	}
	buf := make([]byte, 128)
	n, _ := os.NewFile(uintptr(r), "nonce").Read(buf)
	if n > 0 {
		os.NewFile(uintptr(w), "record").Write(buf[:n])
	}
}
"""

NODE = """
process.once('beforeExit', (code) => {
  if (code !== 0) return;
  const fs = require('fs');
  const fds = String(process.env.OPENCOOK_VERDICT_FDS || '').split(',').map(Number);
  if (fds.length !== 2) return;
  const buf = Buffer.alloc(128);
  const n = fs.readSync(fds[0], buf, 0, 128, null);
  if (n > 0) fs.writeSync(fds[1], buf, 0, n);
});
"""

PHP_FILE = "opencook_completion.php"
PHP = """<?php
$opencook_fds = explode(',', (string) getenv('OPENCOOK_VERDICT_FDS'));
if (count($opencook_fds) == 2) {
    $opencook_nonce = @file_get_contents('php://fd/' . (int) $opencook_fds[0]);
    $opencook_w = @fopen('php://fd/' . (int) $opencook_fds[1], 'w');
    if ($opencook_nonce && $opencook_w) { fwrite($opencook_w, $opencook_nonce); fclose($opencook_w); }
}
"""

BASH_SUFFIX = """
__opencook_status=$?
if [ "$__opencook_status" = 0 ]; then
  IFS=, read -r __opencook_r __opencook_w <<< "${OPENCOOK_VERDICT_FDS:-}" || true
  if [ -n "${__opencook_w:-}" ]; then
    read -r __opencook_nonce <&"$__opencook_r" || true
    printf '%s' "${__opencook_nonce:-}" >&"$__opencook_w" || true
  fi
fi
exit "$__opencook_status"
"""
