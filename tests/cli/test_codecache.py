"""The dataclass methods a command compiles are kept for the next (`cli/codecache.py`).

Each case runs in a new interpreter (the cache patches the process's dataclasses module), on a
cache folder of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# a frozen dataclass made through the cache; prints whether a method had to be compiled, and
# what the class does (equality, hashing, repr, default, frozen)
SCRIPT = """
import dataclasses, sys
from duck_cli.cli import codecache
codecache.install(sys.argv[1])

@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int = 7

p = Point(1)
try:
    p.x = 2
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
print(codecache._state["new"], p == Point(1, 7), hash(p) == hash(Point(1)), repr(p), frozen)
codecache.save()
"""


def _run(folder: Path, *flags: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, *flags, "-c", SCRIPT, str(folder)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_second_command_compiles_nothing_and_its_classes_behave_the_same(tmp_path):
    first = _run(tmp_path)
    assert first == "True True True Point(x=1, y=7) True"  # compiled, then kept
    [cache] = tmp_path.glob("dataclass-methods.*.marshal")
    assert _run(tmp_path) == "False True True Point(x=1, y=7) True"  # all from the cache
    assert cache.stat().st_size > 0


def test_an_unreadable_cache_is_compiled_again_and_replaced(tmp_path):
    _run(tmp_path)
    [cache] = tmp_path.glob("dataclass-methods.*.marshal")
    cache.write_bytes(b"not a marshal file")
    assert _run(tmp_path) == "True True True Point(x=1, y=7) True"
    assert _run(tmp_path).startswith("False ")  # written anew


def test_nothing_is_written_when_python_writes_no_bytecode(tmp_path):
    assert _run(tmp_path, "-B") == "True True True Point(x=1, y=7) True"
    assert list(tmp_path.iterdir()) == []


def test_the_duck_command_compiles_through_the_cache():
    code = ("import dataclasses, sys\nsys.argv = ['duck', '--version']\n"
            "from duck_cli.cli.console import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "from duck_cli.cli import codecache\nprint(dataclasses.exec is codecache._exec)")
    done = subprocess.run([sys.executable, "-B", "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["duck", "0.1.0", "True"], done.stdout + done.stderr
