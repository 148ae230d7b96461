"""Tiny SVG bar charts, so the example needs no plotting library."""

from html import escape


def bar_chart(title: str, bars: list[tuple[str, float]], width: int = 320, height: int = 200) -> str:
    """A bar chart of (label, value) pairs as an SVG document."""
    top = max([v for _, v in bars] + [1.0])
    slot = width // max(len(bars), 1)
    shapes = [f'<text x="10" y="20" font-size="14">{escape(title)}</text>']
    for i, (label, value) in enumerate(bars):
        h = int((height - 60) * value / top)
        x, y = i * slot + 20, height - 30 - h
        shapes += [f'<rect x="{x}" y="{y}" width="{slot - 40}" height="{h}" fill="#4a7"/>',
                   f'<text x="{x}" y="{height - 12}" font-size="12">{escape(label)} {value:,.2f}</text>']
    body = "\n  ".join(shapes)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">\n'
            f"  {body}\n</svg>\n")
