"""project: the folder, duck.yaml settings, paths inside the project, the clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from duck_cli.errors import ManifestError, UsageError
from duck_cli.manifest.settings import SETTINGS_KEYS, clock, find_root, load_settings, relative_inside

ROOT = Path(__file__).resolve().parents[2]


def settings_errors(root: Path, text: str) -> str:
    (root / "duck.yaml").write_text(text)
    with pytest.raises(ManifestError) as caught:
        load_settings(root)
    return "\n".join(p.render() for p in caught.value.problems())


def test_find_root_prefers_the_option_then_the_environment_then_cwd(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert find_root(tmp_path / "a", {"DUCK_PROJECT": str(tmp_path / "b")}) == (tmp_path / "a").resolve()
    assert find_root(None, {"DUCK_PROJECT": str(tmp_path / "b")}) == (tmp_path / "b").resolve()
    monkeypatch.chdir(tmp_path)
    assert find_root(None, {}) == tmp_path.resolve()


def test_find_root_names_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nowhere' does not exist") as caught:
        find_root(tmp_path / "nowhere", {})
    assert "--project" in caught.value.hint
    (tmp_path / "f").write_text("")
    with pytest.raises(UsageError, match="is not a folder"):
        find_root(None, {"DUCK_PROJECT": str(tmp_path / "f")})


def test_default_settings(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.warehouse == tmp_path / ".duck/warehouse.duckdb"
    assert settings.catalog == tmp_path / ".duck/catalog.duckdb"
    assert (settings.threads, settings.memory_limit, settings.batch_size, settings.wait_seconds) == (None, None, 31, 30.0)


def test_all_settings(tmp_path: Path) -> None:
    (tmp_path / "duck.yaml").write_text("warehouse: data/wh.duckdb\ncatalog: /tmp/abs/cat.duckdb\nthreads: 4\n"
                                        "memory_limit: 4GB\nbatch_size: 7\nwait: 2.5\n")
    settings = load_settings(tmp_path)
    assert settings.warehouse == tmp_path / "data/wh.duckdb" and settings.warehouse.is_absolute()
    assert settings.catalog == Path("/tmp/abs/cat.duckdb")
    assert (settings.threads, settings.memory_limit, settings.batch_size, settings.wait_seconds) == (4, "4GB", 7, 2.5)


def test_shared_mode_settings(tmp_path: Path) -> None:
    (tmp_path / "duck.yaml").write_text(
        "state: {postgres: 'service=duck'}\nwarehouse: {ducklake: {catalog: 'postgres:service="
        "duck_lake', data_path: 's3://bucket/duck/'}}\n")
    settings = load_settings(tmp_path)
    assert settings.state_dsn == "service=duck"
    assert settings.lake == {"catalog": "postgres:service=duck_lake", "data_path": "s3://bucket/duck/"}
    assert settings.warehouse == tmp_path / ".duck/warehouse.duckdb"  # the state folder stays


def test_local_mode_by_default(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert (settings.state_dsn, settings.lake) == (None, None)


def test_empty_duck_yaml_means_defaults(tmp_path: Path) -> None:
    (tmp_path / "duck.yaml").write_text("# nothing yet\n")
    assert load_settings(tmp_path).batch_size == 31


@pytest.mark.parametrize("text, phrase", [
    ("threads: 4\nbatchsize: 3\n", "duck.yaml:2: unknown setting 'batchsize'. Did you mean 'batch_size'?"),
    ("colour: red\n", "duck.yaml:1: unknown setting 'colour'. Known keys: warehouse, catalog"),
    ("threads: four\n", "duck.yaml:1: 'threads' must be a whole number of at least 1, not 'four'. For example: threads: 4"),
    ("threads: 0\n", "'threads' must be a whole number of at least 1"),
    ("batch_size: true\n", "'batch_size' must be a whole number of at least 1, not True"),
    ("memory_limit: lots\n", "'memory_limit' must be a size such as '4GB'"),
    ("wait: -1\n", "'wait' must be a number of seconds (0 or more)"),
    ("jobs: 0\n", "duck.yaml:1: 'jobs' must be a whole number of at least 1, not 0. For example: jobs: 4"),
    ("warehouse: [a]\n", "'warehouse' must be a path (text)"),
    ("- threads\n", "duck.yaml:1: the top level is a list, not a mapping. duck.yaml is a mapping of settings"),
    ("threads: [\n", "duck.yaml:2: YAML syntax error"),
    ("state: {postgres: 5}\n", "duck.yaml:1: 'state' must be {postgres: CONNINFO}"),
    ("state: {mysql: x}\n", "For example: state: {postgres: 'service=duck'}"),
    ("warehouse: {ducklake: {catalog: 'postgres:service=l'}}\n",
     "'warehouse' must be a path (text) or {ducklake: {catalog:"),
])
def test_bad_settings(tmp_path: Path, text: str, phrase: str) -> None:
    assert phrase in settings_errors(tmp_path, text)


def test_settings_schema_lists_the_same_keys() -> None:
    schema = json.loads((ROOT / "schemas" / "settings.schema.json").read_text())
    assert list(schema["properties"]) == list(SETTINGS_KEYS)


def test_clock_reads_duck_now_with_offset() -> None:
    now = clock({"DUCK_NOW": "2026-03-13T07:30:00+01:00"})
    assert now == datetime(2026, 3, 13, 6, 30, tzinfo=timezone.utc)
    assert now.utcoffset() == timedelta(hours=1)
    assert clock({"DUCK_NOW": "2026-03-13T06:30:00Z"}) == now


def test_clock_without_duck_now_is_aware_utc() -> None:
    before = datetime.now(timezone.utc)
    now = clock({})
    assert now.tzinfo is not None and before <= now <= datetime.now(timezone.utc)


@pytest.mark.parametrize("text, phrase", [("2026-03-13T07:30:00", "has no UTC offset"),
                                          ("yesterday", "is not an ISO 8601 date and time")])
def test_clock_rejects_bad_duck_now(text: str, phrase: str) -> None:
    with pytest.raises(UsageError, match=phrase) as caught:
        clock({"DUCK_NOW": text})
    assert "2026-03-13T07:30:00+01:00" in caught.value.hint


def test_relative_inside(tmp_path: Path) -> None:
    base = tmp_path / "models"
    assert relative_inside(tmp_path, "q/a.sql", base) == base / "q/a.sql"
    assert relative_inside(tmp_path, "../data/x.csv", base) == tmp_path / "data/x.csv"
    assert relative_inside(tmp_path, "../../x.csv", base) is None
    assert relative_inside(tmp_path, "/etc/passwd", base) is None
    assert relative_inside(tmp_path, str(tmp_path / "data/{date}.csv"), base) == tmp_path / "data/{date}.csv"
