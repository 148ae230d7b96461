"""Every module imports on its own, and start-up stays lazy (no duckdb/jsonschema for --help)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import duck_cli

MODULES = sorted(m.name for m in pkgutil.iter_modules(duck_cli.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_alone(name):
    result = subprocess.run([sys.executable, "-c", f"import duck_cli.{name}"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_cli_import_is_lazy():
    code = ("import sys, duck_cli.cli; "
            "print(sorted(m for m in ('duckdb', 'jsonschema', 'yaml', 'rich.table', 'croniter') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout
