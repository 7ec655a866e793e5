"""Judge one file: compute its signals once, then apply its rule set.

``compat="reference"`` reproduces the reference implementation (faults included) and is what the
conformance harness uses; ``compat="fixed"`` (the default) fixes the faults listed in
docs/filter.md.
"""

from __future__ import annotations

import gc
import random
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opencook.data.filter.document import Document
from opencook.data.filter.general_signals import Signal, SignalTimeout, general_signals
from opencook.data.filter.lang_signals import compute_language_signals
from opencook.data.filter.rules import rule_set_name, select_rules
from opencook.data.filter.text_signals import text_signals

SIGNAL_TIMEOUT_S = 10.0
COMPAT_MODES = ("fixed", "reference")


@dataclass
class Verdict:
    """The filter's decision on one file and why."""

    kept: bool
    hits: list[str] = field(default_factory=list)
    signals: dict[str, Any] = field(default_factory=dict)
    random_rules: list[str] = field(default_factory=list)
    kept_without_random_drops: bool = True
    errors: dict[str, str] = field(default_factory=dict)
    rule_set: str | None = None
    reason: str | None = None  # why a file was dropped without rules: "doc_type", "signals_failed"


class _Alarm:
    """A per-signal wall-clock limit (SIGALRM); a no-op off the main thread or without SIGALRM.

    ``arm`` restarts the timer for the next signal (one ``setitimer`` call) and ``disarm`` only
    marks that no signal is running: an alarm that fires between signals is ignored, and the
    timer is stopped once, on exit. The regexes that can backtrack for long also carry ``regex``
    timeouts, since a C-level match does not see the alarm until it returns.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        self.running = False
        self._old: Any = None

    def __enter__(self) -> _Alarm:
        if self.active:
            self._old = signal.signal(signal.SIGALRM, self._fire)
        return self

    def _fire(self, signum: int, frame: object) -> None:
        if self.running:
            raise SignalTimeout("signal time limit")

    def arm(self) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.running = True

    def disarm(self) -> None:
        self.running = False

    def __exit__(self, *exc: object) -> None:
        self.running = False
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)


def _run_group(
    doc: Document,
    group: Iterable[tuple[str, Signal]],
    alarm: _Alarm,
    out: dict[str, Any],
    errors: dict[str, str],
    stop_on_error: bool,
) -> bool:
    """Compute a group of signals into ``out``; True if at least one succeeded."""
    ok = False
    for name, fn in group:
        try:
            alarm.arm()
            try:
                value = fn(doc)
            finally:
                alarm.disarm()
        except SignalTimeout:
            out[name] = None
            errors[name] = "timeout"
        except Exception:  # noqa: BLE001  (a failing signal must never crash the pipeline)
            out[name] = None
            errors[name] = "exception"
        else:
            out[name] = value
            ok = True
            continue
        if stop_on_error:
            break  # the reference skips the rest of the group after a failure
    return ok


def _language_group(compat: str) -> list[tuple[str, Signal]]:
    """The language-specific signals, computed by ``lang_signals`` as one unit (it handles its own
    failures and compat mode, including the reference's test-file check on the stem)."""

    def compute(doc: Document) -> dict[str, Any]:
        return compute_language_signals(doc.program_lang, doc.text, doc.filename, doc.ext, compat=compat)

    return [("__lang__", compute)]


def compute_signals(doc: Document, *, compat: str = "fixed") -> tuple[dict[str, Any], dict[str, str], bool]:
    """All signals of ``doc``'s family: (values, errors, any_succeeded)."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    stop = compat == "reference"
    with _Alarm(SIGNAL_TIMEOUT_S) as alarm:
        if doc.doc_type == "text":
            ok = _run_group(doc, text_signals(), alarm, out, errors, stop)
        else:
            ok = _run_group(doc, general_signals(compat), alarm, out, errors, stop)
            lang_out: dict[str, Any] = {}
            _run_group(doc, _language_group(compat), alarm, lang_out, errors, stop)
            value = lang_out.pop("__lang__", None)
            if "__lang__" in errors:
                errors["lang_signals"] = errors.pop("__lang__")
            if isinstance(value, dict):
                out.update(value)
                ok = ok or any(v is not None for v in value.values())
    return out, errors, ok


def evaluate(
    text: str,
    filename: str,
    ext: str,
    program_lang: str,
    doc_type: str,
    rng: random.Random,
    *,
    size_bytes: int | None = None,
    lang: str = "en",
    compat: str = "fixed",
    disabled_rules: Iterable[str] = (),
) -> Verdict:
    """Judge one file.

    ``filename`` is the base name with its extension; ``ext`` the last extension without the dot;
    ``program_lang`` the reference's lower-case language key; ``size_bytes`` the raw size (the UTF-8
    length of ``text`` when unknown); ``rng`` draws for the probabilistic rules (one draw per rule
    whose threshold holds, in rule order).
    """
    if compat not in COMPAT_MODES:
        raise ValueError(f"compat={compat!r}: use one of {COMPAT_MODES}")
    set_name = rule_set_name(doc_type, program_lang, lang)
    if set_name is None:
        return Verdict(kept=False, kept_without_random_drops=False, reason="doc_type")
    if size_bytes is None:
        size_bytes = len(text.encode("utf-8", "surrogatepass"))
    doc = Document(
        text,
        filename=filename,
        ext=ext,
        program_lang=program_lang,
        doc_type=doc_type,
        size_bytes=size_bytes,
        lang=lang,
        compat=compat,
    )
    # The cyclic garbage collector is paused while the signals are computed: they allocate many
    # short-lived containers (match tuples, line lists, AST nodes) and no reference cycles worth
    # collecting, and collections triggered meanwhile would traverse everything the caller holds
    # (about a fifth of the time on Python files). Values cannot depend on collection timing.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        signals, errors, ok = compute_signals(doc, compat=compat)
    finally:
        if gc_was_enabled:
            gc.enable()
    if not ok:
        return Verdict(
            kept=False,
            signals=signals,
            kept_without_random_drops=False,
            errors=errors,
            rule_set=set_name,
            reason="signals_failed",
        )
    disabled = set(disabled_rules)
    hits: list[str] = []
    random_rules: list[str] = []
    deterministic_hit = False
    for rule in select_rules(doc_type, program_lang, lang):
        if rule.name in disabled:
            continue
        value = signals.get(rule.name)
        if value is None or not rule.predicate(value):
            continue
        if rule.probabilistic:
            random_rules.append(rule.name)
            if rng.random() > 1.0 - rule.p:
                hits.append(rule.name)
        else:
            hits.append(rule.name)
            deterministic_hit = True
    return Verdict(
        kept=not hits,
        hits=hits,
        signals=signals,
        random_rules=random_rules,
        kept_without_random_drops=not deterministic_hit,
        errors=errors,
        rule_set=set_name,
    )
