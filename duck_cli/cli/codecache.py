"""The compiled methods of dataclasses, kept between commands as Python keeps bytecode.

Python 3.11 writes the methods of each dataclass (``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, and a frozen class's ``__setattr__`` and ``__delattr__``) as source text and
compiles each one when the class is created: about 0.3 ms a frozen class, ~20 ms of every
command for the ~60 classes a backfill imports (measured: bench/results.md). What a text
compiles to depends on the text alone, so `install` has the dataclasses module compile each
text once: the code objects are kept in a marshal file in duck's ``__pycache__`` (tagged with
the interpreter, like the ``.pyc`` files beside it), and `save` adds the ones a command had to
compile. The functions are then made from the code exactly as ``exec`` makes them from the
text. A file that cannot be read is ignored, one that cannot be written is not written, and
nothing is written when Python is told not to write bytecode (``PYTHONDONTWRITEBYTECODE``).
"""

from __future__ import annotations

import builtins
import marshal
import os
import sys

LIMIT = 1024  # texts kept at most (duck's own: ~600; a project's dataclasses, imported by
# its Python assets, go through the cache too); loading costs ~5 us a text

_codes: dict[str, object] = {}
_state = {"path": None, "new": False}


def install(folder: str) -> None:
    """Compile dataclass methods through the cache kept in ``folder``."""
    import dataclasses

    if getattr(dataclasses, "exec", None) is _exec:
        return
    path = os.path.join(folder, f"dataclass-methods.{sys.implementation.cache_tag}.marshal")
    try:
        with open(path, "rb") as f:
            magic, found = marshal.loads(f.read())  # (marshal.load reads piece by piece)
        if magic == _magic() and isinstance(found, dict):  # this interpreter's bytecode
            _codes.update(found)
    except (OSError, EOFError, ValueError, TypeError):
        pass  # none yet, or unreadable: compiled as usual, and written anew
    _state["path"] = path
    dataclasses.exec = _exec  # the module's own name for the builtin, as it calls it


def _magic() -> bytes:
    """The interpreter's bytecode version (what a .pyc file starts with)."""
    from importlib.util import MAGIC_NUMBER

    return MAGIC_NUMBER


def _exec(source, globals=None, locals=None):  # noqa: A002 - exec's own parameter names
    """``exec`` for the dataclasses module: a text compiled before runs its kept code."""
    if not isinstance(source, str):
        return builtins.exec(source, globals, locals)
    code = _codes.get(source)
    if code is None:
        code = compile(source, "<string>", "exec")
        if len(_codes) < LIMIT:
            _codes[source] = code
            _state["new"] = True
    return builtins.exec(code, globals, locals)


def save() -> None:
    """Write the cache if this command compiled a text it did not hold (atomically: a
    command reading it meanwhile sees the old file or the new one)."""
    path = _state["path"]
    if not _state["new"] or path is None or sys.dont_write_bytecode:
        return
    _state["new"] = False
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(marshal.dumps((_magic(), _codes)))
        os.replace(tmp, path)
    except OSError:  # a read-only install: compiled every time, as without the cache
        try:
            os.unlink(tmp)
        except OSError:
            pass
