"""The cache of source files' columns (sniffed headers), by content version, kept between
commands in the state folder's ``cache/headers.pickle``."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from duck_cli.models import Settings


def _file(settings: Settings) -> Path:
    return settings.catalog.parent / "cache" / "headers.pickle"


def load(settings: Settings) -> dict:
    """Source files' columns by content version, as sniffed by earlier commands."""
    try:
        with open(_file(settings), "rb") as f:
            found = pickle.load(f)
        return found if isinstance(found, dict) else {}
    except Exception:  # noqa: BLE001 - a missing or unreadable cache is an empty one
        return {}


def save(settings: Settings, headers: dict, seen: int) -> None:
    """Keep ``headers`` when more were sniffed than the ``seen`` loaded."""
    if len(headers) == seen:
        return  # nothing new was sniffed
    target = _file(settings)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(headers, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
    except OSError:
        pass
