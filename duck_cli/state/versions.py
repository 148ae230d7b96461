"""Content versions of source files: a streaming hash, cached by the file's identity on disk.

A file's version is a BLAKE2b hash of its bytes (the standard library's, so no new dependency;
about 1 GB/s, far faster than DuckDB parses the same file). The hash is cached in `.duck/cache`
(`ShardedCache`) keyed by (path, size, mtime_ns, inode), so an unchanged file is never re-read, and a file that
was touched, copied or checked out again with the same bytes keeps its version: `git clone` of a
built project plans nothing.

Catalogs written before content versions recorded ``size:mtime_ns``; `legacy` computes that form
so a recorded legacy version can be recognised as the same file (see `sources.same_version`).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
import zlib
from pathlib import Path

PREFIX = "b2:"
EMPTY = ";empty"  # suffix: the file holds no data rows (a partition that arrived empty)
_CHUNK = 1 << 20
SHARDS = 64  # cache files per cache: a one-day command reads a few of them


class ShardedCache:
    """A dict kept in a folder of small pickle files, each holding the keys that hash to it: a
    command reads only the shards of the keys it asks for and writes only the shards it
    changed, so a one-day command's cost does not grow with the files the cache knows (one
    pickle of every entry cost each command a few ms per 1,000 files). Safe across threads."""

    def __init__(self, folder: Path | None, shards: int = SHARDS):
        self.folder, self.shards = folder, shards
        self._parts: dict[int, dict] = {}
        self._dirty: set[int] = set()
        self._lock = threading.Lock()
        self._making: dict = {}  # key -> Event: a thread is making that key's value
        self._claims = threading.Lock()  # guards _making (not _lock: `in` may load a shard)

    def _index(self, key) -> int:
        text = key if isinstance(key, str) else repr(key)  # not hash(): salted per process
        return zlib.crc32(text.encode()) % self.shards

    def _part(self, index: int) -> dict:
        part = self._parts.get(index)
        if part is None:
            with self._lock:  # two steps asking at once load the shard once
                part = self._parts.get(index)
                if part is None:
                    part = load_cache(None if self.folder is None else
                                      self.folder / f"{index:03d}.pickle")
                    self._parts[index] = part
        return part

    def get(self, key, default=None):
        """The value cached for ``key``, else ``default``."""
        return self._part(self._index(key)).get(key, default)

    def __contains__(self, key) -> bool:
        return key in self._part(self._index(key))

    def __getitem__(self, key):
        return self._part(self._index(key))[key]

    def __setitem__(self, key, value) -> None:
        index = self._index(key)
        part = self._part(index)
        if key not in part or part[key] != value:
            part[key] = value
            self._dirty.add(index)

    def setdefault(self, key, value):
        """``key``'s value, storing ``value`` first when there is none."""
        if key not in self:
            self[key] = value
        return self[key]

    def claim(self, key) -> bool:
        """Whether this thread is to make ``key``'s value: none is stored and no other thread
        is making it. The claimer stores it, then calls `release`; the others `wait`."""
        with self._claims:  # a value stored before its claim was released is seen here
            if key in self._making or key in self:
                return False
            self._making[key] = threading.Event()
            return True

    def release(self, key) -> None:
        """Let the threads waiting for ``key`` go (its value stored, or its making failed)."""
        with self._claims:
            done = self._making.pop(key, None)
        if done is not None:
            done.set()

    def wait(self, key) -> None:
        """Until no other thread is making ``key``'s value."""
        with self._claims:
            making = self._making.get(key)
        if making is not None:
            making.wait()

    def save(self) -> None:
        """Write the shards that changed (a cache: failing to write one only costs its work)."""
        if self.folder is None:
            return
        if self._dirty:  # the one pickle of every entry this folder replaced (an earlier duck)
            self.folder.with_suffix(".pickle").unlink(missing_ok=True)
        for index in sorted(self._dirty):
            if save_cache(self.folder / f"{index:03d}.pickle", self._parts[index]):
                self._dirty.discard(index)


class VersionCache:
    """Content hashes of files by (size, mtime_ns, inode); saved only where it changed."""

    def __init__(self, path: Path | None):
        self.path = path
        self.entries = ShardedCache(path)

    def version(self, file: str, fmt: str = "csv", stamp: tuple | None = None) -> str | None:
        """The content version of one file (None: it does not exist); ``stamp``: its (size,
        mtime_ns, inode) when a folder listing already read them."""
        if stamp is None:
            try:
                st = os.stat(file)
            except OSError:
                return None
            stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
        hit = self.entries.get(file)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        version = content_version(file, fmt)
        self.entries[file] = (stamp, version)
        return version

    def save(self) -> None:
        """Write what changed."""
        self.entries.save()


def load_cache(path: Path | None) -> dict:
    """A dict kept in a pickle file by `save_cache` ({} when missing or unreadable)."""
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            entries = pickle.load(f)
        return entries if isinstance(entries, dict) else {}
    except Exception:  # noqa: BLE001 - a missing or unreadable cache is an empty one
        return {}


def save_cache(path: Path, entries: dict) -> bool:
    """Write a cache file atomically (a temporary file renamed over it); False when it could
    not be written, which only costs the work it would have saved."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(entries, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        return True
    except OSError:
        return False


def content_version(file: str, fmt: str = "csv") -> str:
    """``b2:<hash>`` of a file's bytes, with ``;empty`` when it holds no data rows.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    ...     _ = f.write("a,b\\n")
    >>> content_version(f.name).endswith(";empty")
    True
    """
    digest = hashlib.blake2b(digest_size=16)
    lines, seen_text = 0, False
    with open(file, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            if lines < 2:  # only the first lines matter for emptiness: stop counting early
                lines += _text_lines(chunk)
            seen_text = seen_text or bool(chunk.strip())
    empty = not seen_text or (fmt == "csv" and lines <= 1)
    return PREFIX + digest.hexdigest() + (EMPTY if empty and fmt != "parquet" else "")


def _text_lines(chunk: bytes) -> int:
    """How many of a chunk's lines hold text, counting at most two (splitting the whole chunk
    into lines cost a third of a second per 365 files of 2,739 rows).

    >>> _text_lines(b"a,b\\n\\n1,2\\n3,4\\n"), _text_lines(b"a,b\\n \\n"), _text_lines(b"")
    (2, 1, 0)
    """
    found, start = 0, 0
    while found < 2 and start < len(chunk):
        end = chunk.find(b"\n", start)
        end = len(chunk) if end < 0 else end
        found += bool(chunk[start:end].strip())
        start = end + 1
    return found


def combined(named: list[tuple[str, str]]) -> str:
    """One version for several files: a hash of their names (relative) and versions.

    >>> combined([("a.csv", "b2:1"), ("b.csv", "b2:2")]) == combined([("a.csv", "b2:1"), ("b.csv", "b2:2")])
    True
    """
    digest = hashlib.blake2b(digest_size=16)
    for name, version in sorted(named):
        digest.update(f"{name}\0{version}\n".encode())
    empty = all(v.endswith(EMPTY) for _n, v in named)
    return PREFIX + digest.hexdigest() + (EMPTY if empty else "")


def legacy(files: list[str]) -> str | None:
    """The version catalogs recorded before content versions: ``size:mtime_ns`` per file."""
    stamps = []
    for file in files:
        try:
            st = os.stat(file)
        except OSError:
            continue
        stamps.append(f"{st.st_size}:{st.st_mtime_ns}")
    return ";".join(stamps) if stamps else None


def is_legacy(version: str | None) -> bool:
    """Whether a recorded version is of the old size:mtime form.

    >>> is_legacy("120:1700000000000000000"), is_legacy("b2:ab"), is_legacy(None)
    (True, False, False)
    """
    return bool(version) and not version.startswith(PREFIX) and ":" in version \
        and all(p.replace(":", "").isdigit() for p in version.split(";"))


def is_empty(version: str | None) -> bool:
    """Whether a version says its partition arrived empty."""
    return bool(version) and version.endswith(EMPTY)
