"""The source caches (content versions, sniffed headers) are read and written shard by shard,
so a one-day command does not load or rewrite what every other file left there."""

from __future__ import annotations

import os
import threading

from conftest import Duck
from duck_cli.state.versions import ShardedCache, VersionCache


def test_a_cache_keeps_its_entries_across_commands_and_rewrites_only_changed_shards(tmp_path):
    folder = tmp_path / "cache"
    cache = ShardedCache(folder, shards=8)
    for i in range(200):
        cache[f"/data/{i}.csv"] = ("stamp", f"b2:{i}")
    cache[("sniff", "b2:1", "1.csv")] = ", header=true"
    cache.save()
    assert len(list(folder.iterdir())) == 8
    stamps = {f.name: f.stat().st_mtime_ns for f in folder.iterdir()}
    again = ShardedCache(folder, shards=8)
    assert again.get("/data/7.csv") == ("stamp", "b2:7")
    assert again[("sniff", "b2:1", "1.csv")] == ", header=true"
    assert again.setdefault("/data/7.csv", "other") == ("stamp", "b2:7")
    again["/data/7.csv"] = ("stamp", "b2:7")  # the same value: nothing to write
    again["/data/new.csv"] = ("stamp", "b2:new")
    for f in folder.iterdir():
        os.utime(f, ns=(1, 1))
    again.save()
    written = [f.name for f in folder.iterdir() if f.stat().st_mtime_ns != 1]
    assert len(written) == 1 and len(stamps) == 8
    assert ShardedCache(folder, shards=8).get("/data/new.csv") == ("stamp", "b2:new")


def test_a_damaged_shard_is_only_a_miss_and_threads_share_one_load(tmp_path):
    folder = tmp_path / "cache"
    cache = ShardedCache(folder, shards=4)
    for i in range(40):
        cache[str(i)] = i
    cache.save()
    for f in folder.iterdir():
        f.write_bytes(b"not a pickle")
    fresh = ShardedCache(folder, shards=4)
    seen: list = []
    threads = [threading.Thread(target=lambda: seen.extend(fresh.get(str(i)) for i in range(40)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [None] * 160


def test_version_cache_rehashes_only_a_changed_file(tmp_path):
    data = tmp_path / "a.csv"
    data.write_text("x\n1\n")
    versions = VersionCache(tmp_path / "cache")
    first = versions.version(str(data))
    versions.save()
    os.utime(data, (1, 1))  # a new time, the same bytes: the same version
    assert VersionCache(tmp_path / "cache").version(str(data)) == first
    data.write_text("x\n2\n")
    assert VersionCache(tmp_path / "cache").version(str(data)) != first


def test_a_project_whose_source_cache_was_lost_plans_nothing(project):
    duck = Duck(project)
    duck("materialize")
    cache = project / ".duck" / "cache"
    assert list((cache / "sources").iterdir()) and list((cache / "headers").iterdir())
    for f in (cache / "sources").iterdir():
        f.write_bytes(b"\x80garbage")
    assert duck.json("plan")["empty"] is True


def test_threads_making_the_same_entry_make_it_once_and_the_others_wait(tmp_path):
    """Two steps reading the same source files at once (two assets of one batch): each file's
    sniffed options are made by one of them, and the other waits for that value."""
    cache = ShardedCache(tmp_path / "cache")
    made: list = []
    start = threading.Barrier(3)

    def step():
        start.wait()
        for i in range(50):
            key = ("sniff", f"b2:{i}", f"{i}.csv")
            if cache.claim(key):
                try:
                    made.append(key)
                    cache[key] = f"options {i}"
                finally:
                    cache.release(key)
            else:
                cache.wait(key)
                assert cache[key] == f"options {i}"

    threads = [threading.Thread(target=step) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(made) == sorted({("sniff", f"b2:{i}", f"{i}.csv") for i in range(50)})


def test_the_whole_pickle_a_sharded_cache_replaced_is_deleted_when_it_is_written(tmp_path):
    old = tmp_path / "cache" / "sources.pickle"  # what an older duck kept: every entry at once
    old.parent.mkdir()
    old.write_bytes(b"x" * 1000)
    cache = ShardedCache(tmp_path / "cache" / "sources", shards=4)
    assert cache.get("/data/1.csv") is None
    cache.save()  # nothing changed: nothing written, nothing deleted
    assert old.exists()
    cache["/data/1.csv"] = ("stamp", "b2:1")
    cache.save()
    assert not old.exists()
    assert ShardedCache(tmp_path / "cache" / "sources", shards=4).get("/data/1.csv") == (
        "stamp", "b2:1")
