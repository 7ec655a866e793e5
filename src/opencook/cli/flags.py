"""The one flag vocabulary every ``opencook`` verb speaks (docs/cli.md), defined once.

``--out`` (optional; a default under ``runs/``), ``--set KEY=VALUE`` on every verb that reads a config,
``--workers`` (default: this machine's cores), ``--quiet``, ``--model DIR`` / ``--endpoint-model NAME``,
``--max-new-tokens``. Every option's help shows its default (``HelpFormatter``). Old spellings stay for one
release as hidden aliases (``add_alias``) that still work and say what the new spelling is. Input paths are
checked at parse time (``existing``), so a missing file fails with exit 2 before anything is imported or
written; an input read through ``kit.io`` (``dataset_input``) may also be an fsspec URL, checked when read.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PROGRESS_ENV = "OPENCOOK_PROGRESS"  # kit/progress.py's mode; "off" silences this process and its children


def default_workers() -> int:
    """The cores this process may use (a cgroup/affinity mask counts, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help unless the help already says its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if text is argparse.SUPPRESS or "default" in text.lower() or action.required:
            return text
        if isinstance(action, argparse._StoreConstAction | argparse._HelpAction | argparse._VersionAction):
            return text  # a switch: off unless given
        if action.default is None or action.default is argparse.SUPPRESS:
            return text
        if not action.option_strings and action.nargs not in ("?", "*"):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse with the help formatter above; subcommands inherit it (``add_subparsers`` uses this class)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        """One line naming the bad argument and where the fix is, exit 2 (argparse prints the whole usage)."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def existing(text: str) -> str:
    """An argparse type: a local file or folder that exists (a missing one is exit 2 naming it, before any
    work). ``file:///x`` is the path ``/x``; another URL is refused here: this input is read from local disk."""
    if "://" in text:
        from opencook.kit.io import remote

        if remote.is_remote(text):
            raise argparse.ArgumentTypeError(f"{text}: this input must be a local path, not a URL (remote "
                                             "inputs are datasets and tokenizers: docs/run_directory.md)")
        text = remote.local(text)
    if not Path(text).expanduser().exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist (check the path)")
    return text


def dataset_input(text: str) -> str:
    """An argparse type for an input read through ``kit.io`` (a dataset, source files, a tokenizer): an
    existing local path, or an fsspec URL (``s3://bucket/run/dataset``) checked when it is read."""
    if "://" in text:
        from opencook.kit.io import remote

        if remote.is_remote(text):
            return text
    return existing(text)


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be >= {least}, got {value}")
    return value


def positive(text: str) -> int:
    return _whole(text, 1)


def non_negative(text: str) -> int:
    return _whole(text, 0)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value:g}")
    return value


class OldSpelling(argparse.Action):
    """A hidden alias of a renamed option: stores into the new option's ``dest`` and says the new name."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"opencook: {option_string} is now spelled {self.new}; the old spelling goes away in the next "
              "release", file=sys.stderr)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def add_alias(p: argparse.ArgumentParser, old: str, new: argparse.Action) -> None:
    """``old`` as a hidden, working alias of the option ``new`` (listed in docs/cli.md for one release)."""
    kwargs = {"nargs": 0, "const": True} if new.nargs == 0 else {"type": new.type, "choices": new.choices,
                                                                 "metavar": new.metavar}
    p.add_argument(old, action=OldSpelling, new=new.option_strings[0], dest=new.dest, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS, **kwargs)


def add_out(p: argparse.ArgumentParser, default: str, what: str = "output folder") -> argparse.Action:
    """``--out``: optional everywhere; ``default`` is the folder under ``runs/`` the verb picks (docs/cli.md)."""
    return p.add_argument("--out", default=None, metavar="DIR", help=f"{what} (default: {default})")


def add_workers(p: argparse.ArgumentParser, what: str) -> argparse.Action:
    return p.add_argument("--workers", type=positive, default=default_workers(), metavar="N",
                          help=f"{what} (default: this machine's cores, %(default)s here)")


def add_set(p: argparse.ArgumentParser) -> argparse.Action:
    return p.add_argument("--set", action="append", metavar="KEY=VALUE", default=None,
                          help="override a config value by dotted key, list items by index: --set optim.lr=1e-3, "
                               "--set stages[2].filter.seed=1 (repeatable; default: none)")


def add_quiet(p: argparse.ArgumentParser) -> argparse.Action:
    return p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")


def add_common(p: argparse.ArgumentParser) -> None:
    """Flags every verb takes."""
    add_quiet(p)


def out_dir(args: argparse.Namespace, group: str, verb: str, name: str) -> Path:
    """``--out``, else ``runs/<group>/<verb>-<name>`` (the rule of docs/cli.md for verbs without a recipe).
    A URL ``--out`` (only verbs marked ``remote_out`` get one: ``cli/remote_out.py``) is returned as it is."""
    if args.out and "://" in args.out:
        return args.out  # type: ignore[return-value]  # the verb hands it to remote_out.local_out
    return Path(args.out) if args.out else Path("runs", group, f"{verb}-{name}")


def input_name(path: str | Path) -> str:
    """A short name for an input path: its file name without extensions; a pipeline's ``dataset/`` folder is
    named by its run (``runs/demo/dataset`` -> ``demo``)."""
    p = Path(str(path).split("://", 1)[-1].rstrip("/")).expanduser()
    if p.name == "dataset" and p.parent.name:
        p = p.parent
    return p.name.split(".")[0] or "input"


def apply_quiet(args: argparse.Namespace) -> None:
    """``--quiet``: no progress in this process nor in the ranks and workers it starts."""
    if getattr(args, "quiet", False):
        os.environ[PROGRESS_ENV] = "off"
