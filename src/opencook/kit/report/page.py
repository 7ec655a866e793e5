"""HTML building blocks for the run report: every string that reaches the page is escaped here.

The page is one file with inline CSS and no scripts, so it can be mailed, attached to an
issue or opened from a laptop without a server.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any


def num_or_none(x: Any) -> float | None:
    """``x`` if it is a real number (JSON ``true`` is not), else ``None``."""
    return x if isinstance(x, int | float) and not isinstance(x, bool) else None


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; border-bottom: 2px solid #333; padding-bottom: .2em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, td.mono { font-family: SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em; }
.notice { background: #fff6e0; border-left: 4px solid #e0a800; padding: .4em .8em; margin: .6em 0; }
.muted { color: #777; }
img { max-width: 100%; display: block; margin: .6em 0; }
nav a { margin-right: 1em; }
"""


def esc(value: Any) -> str:
    """Escape anything for HTML text or attribute content."""
    return html.escape(str(value), quote=True)


def fmt_int(n: Any) -> str:
    """Thousands-separated integer; non-numbers pass through as text."""
    if isinstance(n, bool) or not isinstance(n, int | float):
        return str(n)
    return f"{int(n):,}"


def fmt_bytes(n: Any) -> str:
    """Human-readable byte count (binary units), so tables stay narrow."""
    if isinstance(n, bool) or not isinstance(n, int | float):
        return str(n)
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def fmt_seconds(s: Any) -> str:
    if isinstance(s, bool) or not isinstance(s, int | float):
        return "n/a"
    s = float(s)
    if s < 60:
        return f"{s:.1f} s"
    minutes, sec = divmod(int(round(s)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {sec:02d}s" if hours else f"{minutes}m {sec:02d}s"


def pct(part: Any, whole: Any) -> str:
    if not isinstance(part, int | float) or not isinstance(whole, int | float) or not whole:
        return ""
    return f"{100.0 * part / whole:.1f}%"


class Cell:
    """A table cell whose text is escaped and whose CSS class sets alignment."""

    __slots__ = ("text", "cls", "title")

    def __init__(self, text: Any, cls: str = "", title: str = "") -> None:
        self.text, self.cls, self.title = text, cls, title


def num(n: Any) -> Cell:
    return Cell(fmt_int(n), "num", "" if isinstance(n, float) else str(n))


def nbytes(n: Any) -> Cell:
    return Cell(fmt_bytes(n), "num", f"{n} bytes" if isinstance(n, int) else "")


def mono(text: Any) -> Cell:
    return Cell(text, "mono")


def _td(cell: Any) -> str:
    if not isinstance(cell, Cell):
        cell = Cell("" if cell is None else cell)
    attrs = f' class="{cell.cls}"' if cell.cls else ""
    if cell.title:
        attrs += f' title="{esc(cell.title)}"'
    return f"<td{attrs}>{esc(cell.text)}</td>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_td(c) for c in row) + "</tr>\n" for row in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}</table>\n"


def kv_table(items: Iterable[tuple[Any, Any]]) -> str:
    """Two-column key/value table for small dicts (versions, totals)."""
    return table(["key", "value"], [(mono(k), v) for k, v in items])


def img(data_uri: str | None, alt: str) -> str:
    if not data_uri:
        return ""
    return f'<img src="{esc(data_uri)}" alt="{esc(alt)}">\n'


def notice(text: str) -> str:
    return f'<p class="notice">{esc(text)}</p>\n'


def para(text: str, cls: str = "") -> str:
    attrs = f' class="{cls}"' if cls else ""
    return f"<p{attrs}>{esc(text)}</p>\n"


def heading(level: int, text: str, anchor: str = "") -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<h{level}{ident}>{esc(text)}</h{level}>\n"


def document(title: str, nav: Sequence[tuple[str, str]], body: str) -> str:
    """The whole page; ``body`` is already-escaped HTML assembled from the helpers above."""
    links = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in nav)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n<nav>{links}</nav>\n{body}</body>\n</html>\n"
    )
