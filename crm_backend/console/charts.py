"""Server-rendered inline SVG charts (no JS library, no CDN). Every label is escaped: it may be customer text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563", "#65a30d"]
NEG, NEU, POS = "#dc2626", "#6b7280", "#16a34a"


def _colour(score: float) -> str:
    return NEG if score <= -0.2 else POS if score >= 0.2 else NEU


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    )
    return Markup(head + "".join(body) + "</svg>")


def sentiment_timeline(points: Sequence[tuple[str, float]], width: int = 640, height: int = 180) -> Markup:
    """One dot per customer message (x: order, y: sentiment -1..1), joined by a line; hover shows the message."""
    if not points:
        return Markup('<p class="muted">No scored customer messages yet.</p>')
    left, right, top, bottom = 36, 12, 12, 24
    inner_w, inner_h = width - left - right, height - top - bottom

    def y(score: float) -> float:
        return top + (1 - (max(-1.0, min(1.0, score)) + 1) / 2) * inner_h

    step = inner_w / max(1, len(points) - 1)
    xy = [(left + (i * step if len(points) > 1 else inner_w / 2), y(score)) for i, (_t, score) in enumerate(points)]
    body = [
        f'<rect x="{left}" y="{top}" width="{inner_w}" height="{inner_h / 2:.1f}" fill="#f0fdf4"/>',
        f'<rect x="{left}" y="{top + inner_h / 2:.1f}" width="{inner_w}" height="{inner_h / 2:.1f}" fill="#fef2f2"/>',
        f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#9ca3af" stroke-dasharray="4 3"/>',
    ]
    for value, text in ((1, "+1"), (0, "0"), (-1, "-1")):
        body.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" class="axis">{text}</text>')
    if len(xy) > 1:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in xy)
        body.append(f'<polyline points="{path}" fill="none" stroke="#374151" stroke-width="1.5"/>')
    for i, ((text, score), (px, py)) in enumerate(zip(points, xy)):
        body.append(
            f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="5" fill="{_colour(score)}">'
            f"<title>#{i + 1} ({score:+.2f}): {escape(text[:200])}</title></circle>"
        )
        body.append(f'<text x="{px:.1f}" y="{height - 6}" text-anchor="middle" class="axis">{i + 1}</text>')
    return _svg(width, height, "Sentiment of each customer message", body)


def stacked_bars(table: dict[date, dict[str, int]], width: int = 720, height: int = 240) -> Markup:
    """Escalations per day, stacked by reason, with a legend."""
    reasons = sorted({reason for row in table.values() for reason in row})
    colours = {reason: PALETTE[i % len(PALETTE)] for i, reason in enumerate(reasons)}
    left, right, top, bottom = 32, 170, 12, 28
    inner_w, inner_h = width - left - right, height - top - bottom
    peak = max([sum(row.values()) for row in table.values()] + [1])
    slot = inner_w / max(1, len(table))
    body = [f'<line x1="{left}" x2="{left + inner_w}" y1="{top + inner_h}" y2="{top + inner_h}" stroke="#9ca3af"/>']
    body.append(f'<text x="{left - 6}" y="{top + 8}" text-anchor="end" class="axis">{peak}</text>')
    for i, (day, row) in enumerate(sorted(table.items())):
        x, base = left + i * slot + slot * 0.15, float(top + inner_h)
        for reason in reasons:
            count = row.get(reason, 0)
            if not count:
                continue
            h = count / peak * inner_h
            base -= h
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{base:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{colours[reason]}"><title>{escape(day.isoformat())} {escape(reason)}: {count}</title></rect>'
            )
        if len(table) <= 10 or i % 2 == 0:
            label = escape(day.strftime("%d %b"))
            body.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{height - 8}" text-anchor="middle" class="axis">{label}</text>'
            )
    for i, reason in enumerate(reasons):
        y = top + 14 + i * 18
        body.append(f'<rect x="{width - right + 12}" y="{y - 10}" width="12" height="12" fill="{colours[reason]}"/>')
        body.append(f'<text x="{width - right + 30}" y="{y}" class="legend">{escape(reason.replace("_", " "))}</text>')
    if not reasons:
        body.append(f'<text x="{left + 8}" y="{top + inner_h / 2:.1f}" class="axis">no escalations</text>')
    return _svg(width, height, "Escalations per day by reason", body)


def day_line(series: dict[date, float], window: Sequence[date], width: int = 720, height: int = 200) -> Markup:
    """A value in [-1, 1] per day (days without a value are gaps)."""
    left, right, top, bottom = 36, 28, 12, 28
    inner_w, inner_h = width - left - right, height - top - bottom
    slot = inner_w / max(1, len(window) - 1)

    def y(v: float) -> float:
        return top + (1 - (max(-1.0, min(1.0, v)) + 1) / 2) * inner_h

    body = [
        f'<line x1="{left}" x2="{left + inner_w}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#9ca3af" stroke-dasharray="4 3"/>'
    ]
    for value, text in ((1, "+1"), (0, "0"), (-1, "-1")):
        body.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" class="axis">{text}</text>')
    xy = [(left + i * slot, day) for i, day in enumerate(window)]
    points = [(x, y(series[day]), day) for x, day in xy if day in series]
    if len(points) > 1:
        body.append(
            '<polyline fill="none" stroke="#2563eb" stroke-width="2" points="'
            + " ".join(f"{px:.1f},{py:.1f}" for px, py, _d in points)
            + '"/>'
        )
    for px, py, day in points:
        body.append(
            f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{_colour(series[day])}">'
            f"<title>{escape(day.isoformat())}: {series[day]:+.2f}</title></circle>"
        )
    for i, (x, day) in enumerate(xy):
        if len(window) <= 10 or i % 2 == 0:
            body.append(
                f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" class="axis">{escape(day.strftime("%d %b"))}</text>'
            )
    if not points:
        body.append(f'<text x="{left + 8}" y="{top + 20}" class="axis">no scored messages in this period</text>')
    return _svg(width, height, "Mean sentiment of escalated customers per day", body)


def hbars(counts: dict[int, int], width: int = 360, height: int = 150) -> Markup:
    """Horizontal bars, one per key (CSAT 1..5)."""
    left, right, row = 28, 40, (height - 10) / max(1, len(counts))
    peak = max(list(counts.values()) + [1])
    body = []
    for i, (key, count) in enumerate(sorted(counts.items(), reverse=True)):
        y = 5 + i * row
        w = count / peak * (width - left - right)
        body.append(f'<text x="{left - 8}" y="{y + row * 0.65:.1f}" text-anchor="end" class="axis">{key}</text>')
        body.append(
            f'<rect class="bar" x="{left}" y="{y:.1f}" width="{w:.1f}" height="{row * 0.7:.1f}" fill="#2563eb">'
            f"<title>{key}: {count}</title></rect>"
        )
        body.append(f'<text x="{left + w + 6:.1f}" y="{y + row * 0.65:.1f}" class="axis">{count}</text>')
    return _svg(width, height, "CSAT answers by score", body)
