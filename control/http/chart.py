"""The run-history chart: an inline SVG drawn on the server (no script, no chart library).

One bar per run, left to right by start time, its height the run's duration; the colour
and a pattern-free text legend give the result (colour is never the only cue: every bar has a
``<title>`` and the table under the chart lists the same runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 720, 200, 36
COLOURS = {"ok": "#1b6e3a", "partial": "#8a5a00", "error": "#b3261e", "halted": "#6a1b9a",
           "skipped": "#5f6368"}


def runs_svg(rows: Sequence[Any]) -> Markup:
    """``rows`` have ``started_at``, ``seconds``, ``status``, ``hub``, ``spoke``."""
    done = sorted((r for r in rows if r.seconds is not None), key=lambda r: r.started_at)
    if not done:
        return Markup('<p class="muted">No finished runs to chart yet.</p>')
    longest = max(max(r.seconds for r in done), 0.001)
    first, last = done[0].started_at, done[-1].started_at
    span = max((last - first).total_seconds(), 1.0)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    bar = max(2.0, min(16.0, inner_w / max(len(done), 1) * 0.6))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title"><title id="chart-title">Duration of the last '
        f'{len(done)} runs over time (longest {longest:.2f} s)</title>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'class="axis"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
        f'<text x="4" y="{PAD - 8}" class="label">{longest:.2f} s</text>',
        f'<text x="4" y="{HEIGHT - PAD + 4}" class="label">0</text>',
        f'<text x="{PAD}" y="{HEIGHT - 8}" class="label">{escape(_short(first))}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" class="label" text-anchor="end">'
        f'{escape(_short(last))}</text>',
    ]
    for r in done:
        x = PAD + (r.started_at - first).total_seconds() / span * (inner_w - bar)
        h = max(1.0, r.seconds / longest * inner_h)
        colour = COLOURS.get(r.status, "#5f6368")
        label = escape(f"{r.hub}/{r.spoke} {r.status} {r.seconds:.2f} s at {_short(r.started_at)}")
        parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{bar:.1f}" '
                     f'height="{h:.1f}" fill="{colour}" data-status="{escape(r.status)}">'
                     f'<title>{label}</title></rect>')
    parts.append("</svg>")
    legend = " ".join(f'<span class="legend"><span class="swatch" data-colour="{s}"></span>{s}'
                      "</span>" for s in COLOURS)
    return Markup("".join(parts) + f'<p class="legend-row">{legend}</p>')


def _short(value: Any) -> str:
    return value.strftime("%m-%d %H:%M:%S")
