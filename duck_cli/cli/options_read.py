"""The options of the reading commands (validate, plan, status): `options` loads this module
on first use, so that a writing command does not create them (about 0.5 ms each)."""

from __future__ import annotations

from dataclasses import dataclass, field

from duck_cli.cli.options_shared import Keys, Target


@dataclass(frozen=True)
class ValidateOptions:
    """`duck validate`."""

    target: Target = field(default_factory=Target)


@dataclass(frozen=True)
class PlanOptions:
    """`duck plan`."""

    target: Target = field(default_factory=Target)
    partitions: Keys = field(default_factory=Keys)
    force: bool = False
    fail_on: str | None = None
    github: bool = False  # write the plan to the GitHub step summary
    show_all: bool = False


@dataclass(frozen=True)
class StatusOptions:
    """`duck status`."""

    target: Target = field(default_factory=Target)
    partitions: bool = False
    show_all: bool = False
    fail_on: tuple[str, ...] = ()
