"""Bar charts drawn on the server as inline SVG (no script, no library, no CDN; CSP-clean)."""
from __future__ import annotations

from collections.abc import Callable
from html import escape

from markupsafe import Markup

WIDTH, LABEL, ROW = 640, 250, 26
COLORS = {"approved": "#1b7a3a", "denied": "#b3261e", "pended": "#8a5a00"}


def bar_chart(chart_id: str, title: str, bars: list[tuple[str, float | None, str]], unit: str = "",
              show: Callable[[float], str] | None = None) -> Markup:
    """Horizontal bars: (label, value or None, color key); values printed beside the bars, as `show` words them."""
    top = max((v for _, v, _ in bars if v is not None), default=0) or 1
    span = WIDTH - LABEL - 80
    height = ROW * len(bars) + 10
    parts = [f'<svg class="chart" id="{chart_id}" role="img" aria-labelledby="{chart_id}-title" '
             f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{chart_id}-title">{escape(title)}</title>']
    for i, (label, value, kind) in enumerate(bars):
        y = 5 + i * ROW
        length = 0 if value is None else max(1, round(span * value / top)) if value else 0
        shown = "no data" if value is None else show(value) if show else f"{value:g}{unit}"
        parts.append(f'<text x="{LABEL - 8}" y="{y + 17}" text-anchor="end" font-size="13" fill="#1a1a1a">'
                     f'{escape(label)}</text>')
        parts.append(f'<rect x="{LABEL}" y="{y + 3}" width="{length}" height="{ROW - 8}" '
                     f'fill="{COLORS.get(kind, "#0b3d63")}"><title>{escape(label)}: {escape(shown)}</title></rect>')
        parts.append(f'<text x="{LABEL + length + 6}" y="{y + 17}" font-size="13" fill="#1a1a1a">{escape(shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
