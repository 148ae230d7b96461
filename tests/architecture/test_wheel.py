"""The built wheel, installed as a user gets it: every layer package and the JSON Schemas ship.

The editable install that the other tests run against reads the source tree, so it cannot notice a
package that a wheel would miss (the trap of a hand-written package list in ``pyproject.toml``).
This test builds a wheel from a copy of the sources, installs it with ``--no-deps`` into a fresh
virtual environment whose dependencies come from the test environment, and runs its ``duck``.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import EXAMPLE, ROOT

SOURCES = ("pyproject.toml", "setup.py", "README.md", "duck_cli", "schemas")


def _clean_env() -> dict[str, str]:
    """This environment without what would point a child at the test venv or the source tree."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DUCK_PROJECT", "DUCK_NOW")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "NO_COLOR": "1"}


def _run(*args: str | Path, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_clean_env())
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (the work tree stays free of build/ and egg-info)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    proc = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                "--no-index", "-q", "-w", out, ".", cwd=src, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [built] = out.glob("duck_cli-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding only the wheel; its dependencies are the test environment's.

    ``--system-site-packages`` would give the base interpreter's packages, not this test
    environment's (itself a venv), so a .pth file adds the test environment's site-packages after
    the new venv's own: the wheel's duck_cli comes first, and the editable install's finder (a .pth
    of the test environment, which a plain path entry does not run) never loads.
    """
    env = tmp_path_factory.mktemp("venv") / "v"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                   cwd=env).stdout.strip()
    (Path(purelib) / "test_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    proc = _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
                "--no-index", "-q", wheel, cwd=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return env


def _source_files() -> set[str]:
    """Every module of duck_cli, and every JSON Schema (shipped as duck_cli/schemas)."""
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "duck_cli").rglob("*.py")
               if "__pycache__" not in p.parts}
    return modules | {f"duck_cli/schemas/{p.name}" for p in (ROOT / "schemas").glob("*.json")}


def test_the_wheel_holds_every_layer_package_and_the_schemas(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert _source_files() <= names, sorted(_source_files() - names)
    for layer in ("manifest", "graph", "health", "plan", "state", "run", "report", "cli"):
        assert f"duck_cli/{layer}/__init__.py" in names, layer
    assert {"duck_cli/run/build.py", "duck_cli/manifest/compiled.py",
            "duck_cli/schemas/manifest.schema.json", "duck_cli/schemas/status.schema.json"} <= names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "examples/"))]


def test_the_installed_wheel_runs_from_its_own_files(installed, tmp_path):
    duck = installed / "bin" / "duck"
    where = _run(installed / "bin" / "python", "-c", "import duck_cli; print(duck_cli.__file__)",
                 cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(installed), where.stdout + where.stderr
    version = _run(duck, "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("duck "), version.stderr

    project = shutil.copytree(EXAMPLE, tmp_path / "project", ignore=shutil.ignore_patterns(".duck"))
    valid = _run(duck, "validate", "-p", project, cwd=tmp_path)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "valid: 9 assets" in valid.stdout

    schema = _run(duck, "schema", "manifest", cwd=tmp_path)
    assert schema.returncode == 0, schema.stderr
    assert json.loads(schema.stdout) == json.loads(
        (ROOT / "schemas" / "manifest.schema.json").read_text())
