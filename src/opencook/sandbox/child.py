"""The first code the sandboxed interpreter runs: drop privileges, set limits, then run ``main.py``.

This file is not imported by the parent; its text is passed to ``python -I -S -c`` so that no
``preexec_fn`` is needed (subprocess can then use vfork) and nothing depends on this file's permissions.
Its one argument is a JSON object (``runner.child_settings``): uid, gid, cpu_s, data_bytes, nproc,
fsize_bytes, nofile, purelib, netns_fd, pidns, and optionally argv. uid < 0 keeps the current user;
netns_fd >= 0 joins that (empty) network namespace; pidns=true runs the program as pid 1 of a new pid
namespace, so everything it starts dies with it; argv (a compiler, a runtime, a built binary) is exec'd in
place of running ``main.py`` once the rest applies. It is read with the C scanner of ``_json``: importing ``json`` pulls in ``re`` and
would double the cost of a short program. Namespaces are entered here, through libc, rather than by
exec'ing ``unshare``: that exec and a fresh network namespace per program cost ~25% of the throughput.
The exit code tells the parent how the program ended (see ``EXIT_CODES`` in runner.py), except that a
pass is not an exit code: ``verdict`` = [r, w] are two pipe fds; after the program's last statement ran,
the nonce the parent put in ``r`` is copied to ``w`` (a program that exits 0 early, or patches ``os._exit``
or this module's functions, never gets there), and the nonce is read only then, so it is not in this
process's memory while the program runs. ``cgroup`` is a ``cgroup.procs`` file to join (the memory limit,
shared memory included); ``private`` lists directories (/tmp, /dev/shm...) that get a fresh tmpfs of
``tmpfs_bytes`` in a new mount namespace (``workdir`` is bound back at its own path when under one of them).
"""

import os
import resource
import sys


def _settings(text: str) -> dict:
    import _json

    class Context:
        strict, object_hook, object_pairs_hook, memo = True, None, None, {}
        parse_float, parse_int, parse_constant = float, int, None

    settings, end = _json.make_scanner(Context())(text, 0)
    if not isinstance(settings, dict) or end != len(text):
        raise ValueError(f"the sandbox child takes one JSON object, got {text!r:.200}")
    return settings


def _main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(f"the sandbox child takes one JSON argument (runner.child_settings), got {sys.argv[1:]!r}")
    s = _settings(sys.argv[1])
    uid, gid, cpu, data = s["uid"], s["gid"], s["cpu_s"], s["data_bytes"]
    nproc, fsize, nofile, purelib = s["nproc"], s["fsize_bytes"], s["nofile"], s["purelib"]
    netns_fd, pidns, argv = s["netns_fd"], s["pidns"], s.get("argv")
    verdict, private = s.get("verdict"), s.get("private") or ()
    if s.get("cgroup"):
        with open(s["cgroup"], "w") as f:
            f.write(str(os.getpid()))
    if netns_fd >= 0 or pidns:
        _enter_namespaces(netns_fd, pidns)
    paths = [p for p in (*sys.path, purelib) if p and os.path.isdir(p)] if argv is None else []
    if uid >= 0 or private:
        # The interpreter may live where the throwaway uid cannot search (pyenv under /root), or under a
        # directory about to be hidden by a private tmpfs: keep each import dir open and import through
        # /proc/self/fd, which skips the search checks on its parents and outlives the mount.
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
        moved = {p: f"/proc/self/fd/{os.open(p, flags)}" for p in paths}
        paths = list(moved.values())
        for module in list(sys.modules.values()):  # packages imported at startup (encodings) look there too
            path = getattr(module, "__path__", None)
            if isinstance(path, list):
                for i, entry in enumerate(path):
                    parent, _, rest = entry.rpartition("/")
                    if parent in moved:
                        path[i] = f"{moved[parent]}/{rest}"
        sys.path_importer_cache.clear()
    if private:
        _private_mounts(private, s["tmpfs_bytes"], s["workdir"])
    if uid >= 0:
        for fd in verdict or ():  # the runtimes of other languages open them as /proc/self/fd/N
            os.fchown(fd, uid, gid)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    sys.path[:] = paths
    for which, soft, hard in ((resource.RLIMIT_CPU, cpu, cpu + 1), (resource.RLIMIT_DATA, data, data),
                              (resource.RLIMIT_NPROC, nproc, nproc), (resource.RLIMIT_FSIZE, fsize, fsize),
                              (resource.RLIMIT_NOFILE, nofile, nofile), (resource.RLIMIT_CORE, 0, 0)):
        resource.setrlimit(which, (soft, hard))
    if pidns:
        _fork_as_pid_one()
    if argv is not None:
        if pidns:  # pid 1 stays a waiter: as pid 1 a program cannot die of its own signal (abort() -> SIGSEGV)
            _fork_as_pid_one()
        try:
            os.execv(argv[0], argv)
        except OSError as e:
            os.write(2, f"cannot start {argv[0]}: {e}\n".encode())
            os._exit(127)
    sys.argv[:] = ["main.py"]
    with open("main.py", "rb") as f:
        source = f.read()
    try:
        code = compile(source, "main.py", "exec")
    except (SyntaxError, ValueError) as e:
        _report(e, 4)
    del source
    read, write, exit_ = os.read, os.write, os._exit  # the program may patch the module's attributes
    sys.modules["__main__"] = type(sys)("__main__")  # ...and this module's functions are not reachable there
    try:
        exec(code, {"__name__": "__sandbox__", "__builtins__": __builtins__})
    except AssertionError as e:
        _report(e, 3)
    except MemoryError:
        write(2, b"MemoryError\n")
        exit_(6)
    except BaseException as e:  # SystemExit and KeyboardInterrupt fail too, as in the reference harness
        _report(e, 1)
    _flush()
    if verdict is not None:
        write(verdict[1], read(verdict[0], 64))
    exit_(0)


def _libc(name: str):
    import _ctypes  # not ctypes: importing the package costs ~15 ms, the extension ~1 ms

    class Int(_ctypes._SimpleCData):
        _type_ = "i"

    class Fn(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = Int

    fn = Fn(_ctypes.dlsym(_ctypes.dlopen(None, 0), name))

    def call(*args: int) -> None:
        if fn(*args) != 0:
            errno = _ctypes.get_errno()
            raise OSError(errno, f"{name}{args}: {os.strerror(errno)}")

    return call


def _enter_namespaces(netns_fd: int, pidns: bool) -> None:
    if netns_fd >= 0:
        _libc("setns")(netns_fd, 0x40000000)  # CLONE_NEWNET
        os.close(netns_fd)
    if pidns:
        _libc("unshare")(0x20000000)  # CLONE_NEWPID: our next child is pid 1 of a new namespace


def _private_mounts(dirs: list, size: int, workdir: str) -> None:
    """A new mount namespace with a fresh tmpfs on each of ``dirs``; mounts never propagate to the host."""
    mount = _libc("mount")
    _libc("unshare")(0x00020000)  # CLONE_NEWNS
    mount(None, b"/", None, 0x4000 | 0x40000, None)  # MS_REC | MS_PRIVATE, before anything is mounted
    options = f"size={size},mode=1777".encode()
    for d in dirs:
        if os.path.isdir(d) and not os.path.islink(d):
            mount(b"tmpfs", d.encode(), b"tmpfs", 0x2 | 0x4, options)  # MS_NOSUID | MS_NODEV
    if any(workdir.startswith(d.rstrip("/") + "/") for d in dirs):  # the cwd is still the host's workdir
        os.makedirs(workdir, 0o700, exist_ok=True)
        mount(b"/proc/self/cwd", workdir.encode(), None, 0x1000, None)  # MS_BIND
        os.chdir(workdir)


def _fork_as_pid_one() -> None:
    """Run the program in the child (pid 1); this process waits and exits the way it did."""
    pid = os.fork()
    if pid == 0:
        return
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        import _signal  # the builtin: an exec'd program's child has no import path for ``signal``

        sig = os.WTERMSIG(status)
        if sig != _signal.SIGKILL:  # the OOM killer ends the program alone; SIGKILL's handler cannot be set
            _signal.signal(sig, _signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _report(error: BaseException, code: int, write=os.write, exit_=os._exit, hook=sys.__excepthook__) -> None:
    _flush()
    try:  # the C excepthook: importing ``traceback`` would double the cost of a failing program
        tb = error.__traceback__.tb_next if error.__traceback__ else None
        hook(type(error), error.with_traceback(tb), tb)
    except BaseException:
        write(2, f"{type(error).__name__}\n".encode())
    _flush()
    exit_(code)


_main()
