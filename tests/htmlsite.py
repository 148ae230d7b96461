"""Helpers shared by the HTML report tests: the troubled example and an element finder."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from conftest import Duck, add_checks_on_published_data, append_duplicate_trip, example_copy


def troubled_example(root: Path) -> Duck:
    """The example after a late file (2026-03-12 never arrived) and a delivery that fails
    checks (a duplicate trip on 2026-03-09, checks on distance and fare)."""
    example_copy(root)
    late = root / "data" / "trips" / "2026-03-12.csv"
    late.rename(root.parent / "late.csv")
    duck = Duck(root)
    duck("materialize")
    add_checks_on_published_data(root)
    append_duplicate_trip(root)
    duck("materialize", expect=1)
    return duck


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside each element by tag."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs) -> list[dict]:
        """Attributes of every ``tag`` whose attributes include ``attrs``."""
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]
