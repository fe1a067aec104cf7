"""HTML building blocks of the report: escaping, numbers, swatches, bars, images, values.

Every string that comes from the study (names of the study, strategies, features, layers, metric
names, metadata keys and values, error messages) goes through :func:`esc` before it reaches the
page, in text and in attributes alike. Numbers the report states carry their full-precision
value in a ``data-value`` attribute (:func:`num`) so that tools (and tests) can read them back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from typing import Any

__all__ = ["bar", "cut", "esc", "fmt", "img", "num", "swatch", "value_html"]


def esc(value: object) -> str:
    """HTML-escape any value for text or a quoted attribute.

    >>> esc('<script>alert("x")</script>')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
    """
    return escape(str(value), quote=True)


def _percent_metric(name: str) -> bool:
    return name in ("accuracy", "balanced_accuracy")


def fmt(value: float, metric: str = "") -> str:
    """A score for reading: percent for accuracies, else four significant digits.

    >>> fmt(0.8612, "accuracy"), fmt(52.3456, "rmse"), fmt(float("nan"))
    ('86.1%', '52.35', '—')
    """
    if value is None or not math.isfinite(value):
        return "—"
    if _percent_metric(metric):
        return f"{100 * value:.1f}%"
    return f"{value:.4g}"


def num(value: float, stat: str, shown: str) -> str:
    """A stated number: ``shown`` as text, the exact ``value`` in ``data-value``.

    >>> num(0.25, "best-mean", "25.0%")
    '<span class="num" data-stat="best-mean" data-value="0.25">25.0%</span>'
    """
    return f'<span class="num" data-stat="{esc(stat)}" data-value="{value!r}">{esc(shown)}</span>'


def swatch(colors: Mapping[str, str], name: str, *, breakable: bool = False) -> str:
    """A colour chip and the strategy's name, in the strategy's colour of every figure.

    ``breakable``: a long name may wrap after each ``+`` and ``,`` (narrow table columns).

    >>> swatch({}, "dropout+l2", breakable=True).endswith('dropout+<wbr>l2</span>')
    True
    """
    color = colors.get(name, "#111827")
    text = esc(name)
    if breakable:
        text = text.replace("+", "+<wbr>").replace(",", ",<wbr>")
    cls = "st wrap" if breakable else "st"
    return f'<span class="sw" style="background:{color}"></span><span class="{cls}">{text}</span>'


def bar(fraction: float) -> str:
    """A fraction as a small horizontal bar and a percentage ('—' when unknown)."""
    if not math.isfinite(fraction):
        return "—"
    width = max(0.0, min(1.0, fraction)) * 100
    return f'<span class="bar"><span style="width:{width:.1f}%"></span></span> {fraction:.0%}'


def img(uri: str | None, alt: str, empty: str) -> str:
    """An inline figure, or the ``empty`` note when there is none to show."""
    if uri is None:
        return f'<p class="muted">{esc(empty)}</p>'
    return f'<figure><img src="{uri}" alt="{esc(alt)}"></figure>'


def cut(s: str, limit: int) -> str:
    """``s`` cut to at most ``limit`` characters, with an ellipsis when cut."""
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _scalar(v: Any) -> str:
    if v is None:
        return '<span class="muted">—</span>'
    if isinstance(v, float):
        return esc(f"{v:.6g}")
    return esc(cut(str(v), 2000))


def value_html(v: Any, depth: int = 0) -> str:
    """Any JSON-like value as HTML: mappings as definition lists, records as tables.

    >>> value_html({"a <b>": [1, 2], "c": {"d": None}})
    '<dl><dt>a &lt;b&gt;</dt><dd>1, 2</dd><dt>c</dt><dd><dl><dt>d</dt><dd><span class="muted">—</span></dd></dl></dd></dl>'
    """  # noqa: E501
    if depth > 6:
        return _scalar(v)
    if isinstance(v, Mapping):
        if not v:
            return '<span class="muted">—</span>'
        items = "".join(
            f"<dt>{esc(k)}</dt><dd>{value_html(x, depth + 1)}</dd>" for k, x in v.items()
        )
        return f"<dl>{items}</dl>"
    if isinstance(v, list | tuple):
        if not v:
            return '<span class="muted">—</span>'
        if all(not isinstance(x, Mapping | list | tuple) for x in v):
            shown = ", ".join(_scalar(x) for x in v[:60])
            return shown + (
                f' <span class="muted">… and {len(v) - 60} more</span>' if len(v) > 60 else ""
            )
        if all(isinstance(x, Mapping) for x in v):
            keys = list(dict.fromkeys(k for x in v for k in x))
            head = "".join(f"<th>{esc(k)}</th>" for k in keys)
            body = "".join(
                "<tr>"
                + "".join(f"<td>{value_html(x.get(k), depth + 1)}</td>" for k in keys)
                + "</tr>"
                for x in v
            )
            return (
                f'<div class="scroll"><table class="meta"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table></div>"
            )
        return "<ol>" + "".join(f"<li>{value_html(x, depth + 1)}</li>" for x in v) + "</ol>"
    return _scalar(v)
