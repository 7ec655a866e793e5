"""Matplotlib charts rendered to base64 PNG data URIs, so the report needs no image files.

Figures are built with ``Figure`` + the Agg canvas directly (not pyplot): no global state,
no display, safe to call from any thread or a headless worker.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

_DPI = 100
_BLUE, _ORANGE = "#4c72b0", "#dd8452"


def _to_data_uri(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _short(label: str, width: int = 40) -> str:
    """Cut long labels; escape ``$`` so a reason like ``a$b$`` is not parsed as mathtext (and cannot fail)."""
    label = label if len(label) <= width else label[: width - 1] + "…"
    return label.replace("$", r"\$")


def _si(x: float, _pos: object = None) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:g}{unit}"
    return f"{x:g}"


def hbar(labels: Sequence[str], values: Sequence[float], title: str, xlabel: str) -> str | None:
    """Horizontal bars, largest at the top; ``None`` when there is nothing to draw."""
    if not labels:
        return None
    fig = Figure(figsize=(8, 0.8 + 0.28 * len(labels)))
    ax = fig.add_subplot()
    ys = range(len(labels))
    ax.barh(list(ys), list(values), color=_BLUE)
    ax.set_yticks(list(ys), [_short(str(s)) for s in labels], fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(FuncFormatter(_si))
    ax.set_title(_short(title, 80), fontsize=10)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return _to_data_uri(fig)


def grouped_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    title: str,
    ylabel: str,
) -> str | None:
    """Vertical bars, one group per label and one colour per series (e.g. in vs out)."""
    if not labels or not series:
        return None
    n = len(series)
    width = 0.8 / n
    fig = Figure(figsize=(max(6.0, 0.45 * len(labels) * n + 1.5), 4))
    ax = fig.add_subplot()
    colours = [_BLUE, _ORANGE, "#55a868", "#c44e52"]
    for i, (name, values) in enumerate(series):
        xs = [x + (i - (n - 1) / 2) * width for x in range(len(labels))]
        ax.bar(xs, list(values), width=width, label=name, color=colours[i % len(colours)])
    ax.set_xticks(
        list(range(len(labels))),
        [_short(str(s), 24) for s in labels],
        rotation=45 if len(labels) > 4 else 0,
        ha="right" if len(labels) > 4 else "center",
        fontsize=8,
    )
    ax.yaxis.set_major_formatter(FuncFormatter(_si))
    ax.set_title(_short(title, 80), fontsize=10)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _to_data_uri(fig)


def histogram(labels: Sequence[str], counts: Sequence[float], title: str, xlabel: str) -> str | None:
    """Pre-bucketed histogram (the buckets are categorical, e.g. ``2``..``9``, ``10-99``)."""
    if not labels:
        return None
    fig = Figure(figsize=(max(5.0, 0.5 * len(labels) + 2), 3.5))
    ax = fig.add_subplot()
    ax.bar(range(len(labels)), list(counts), color=_BLUE)
    ax.set_xticks(list(range(len(labels))), [str(s) for s in labels], fontsize=8)
    ax.yaxis.set_major_formatter(FuncFormatter(_si))
    ax.set_title(_short(title, 80), fontsize=10)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("groups", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return _to_data_uri(fig)


def s_curve(xs: Sequence[float], ys: Sequence[float], title: str, threshold: float | None = None,
            marks: Sequence[tuple[float, str]] = ()) -> str | None:
    """A curve y(x) on [0, 1] x [0, 1] (the LSH S-curve), with vertical lines at ``marks``."""
    if not len(xs):
        return None
    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    ax.plot(list(xs), list(ys), color=_BLUE)
    for i, (x, label) in enumerate(marks):
        ax.axvline(x, color=[_ORANGE, "#55a868", "#c44e52"][i % 3], linestyle="--", linewidth=1,
                   label=_short(label, 60))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Jaccard similarity J", fontsize=9)
    ax.set_ylabel("P(candidate | J)", fontsize=9)
    ax.set_title(_short(title, 80), fontsize=10)
    ax.grid(alpha=0.3)
    if marks:
        ax.legend(fontsize=8, loc="upper left")
    return _to_data_uri(fig)


Series = tuple[str, Sequence[float], Sequence[float]]


def lines(
    series: Sequence[Series],
    title: str,
    xlabel: str,
    ylabel: str,
    *,
    right: Sequence[Series] = (),
    right_label: str = "",
    faint: Sequence[str] = (),
    marks: Sequence[tuple[float, str]] = (),
    ylim: tuple[float | None, float | None] | None = None,
) -> str | None:
    """Several ``(name, xs, ys)`` lines on one x axis (a metric per training step); ``None`` if all empty.

    ``right`` series use a second y axis (another unit) and are dashed; series named in ``faint`` are thin
    and translucent (raw data under its smoothed line); ``marks`` are dashed vertical event lines, each
    label shown once in the legend however often it recurs.
    """
    left = [s for s in series if len(s[1])]
    twin = [s for s in right if len(s[1])]
    if not left and not twin:
        return None
    colours = [_BLUE, _ORANGE, "#55a868", "#c44e52", "#8172b3"]
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_subplot()
    handles = []
    for i, (name, xs, ys) in enumerate(left):
        dim = name in faint
        (h,) = ax.plot(list(xs), list(ys), color=colours[i % len(colours)], label=_short(name, 60),
                       linewidth=0.8 if dim else 1.6, alpha=0.35 if dim else 1.0,
                       marker="o" if len(xs) <= 30 and not dim else None, markersize=3)
        handles.append(h)
    if twin:
        ax2 = ax.twinx()
        for j, (name, xs, ys) in enumerate(twin, start=len(left)):
            (h,) = ax2.plot(list(xs), list(ys), color=colours[j % len(colours)], linestyle="--",
                            linewidth=1.4, label=_short(name, 60))
            handles.append(h)
        ax2.set_ylabel(_short(right_label, 60), fontsize=9)
        ax2.yaxis.set_major_formatter(FuncFormatter(_si))
    seen: set[str] = set()
    for x, label in marks:
        h = ax.axvline(x, color="#777777", linestyle=":", linewidth=1,
                       label=_short(label, 60) if label not in seen else "_nolegend_")
        if label not in seen:
            seen.add(label)
            handles.append(h)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.xaxis.set_major_formatter(FuncFormatter(_si))
    ax.yaxis.set_major_formatter(FuncFormatter(_si))
    ax.set_title(_short(title, 80), fontsize=10)
    ax.set_xlabel(_short(xlabel, 60), fontsize=9)
    ax.set_ylabel(_short(ylabel, 60), fontsize=9)
    ax.grid(alpha=0.3)
    if len(handles) > 1:
        ax.legend(handles=handles, fontsize=8)
    return _to_data_uri(fig)
