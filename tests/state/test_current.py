"""The catalog's current_* tables: the latest materialization, attempt and check result per key,
kept on every write so that reading the present does not scan the history. They always equal
what the history derives, an older catalog gets them by migration, and prune keeps them true."""

from __future__ import annotations

import json

import duckdb
import pytest

from conftest import Duck, add_checks_on_published_data, catalog_rows
from duck_cli.state.catalog_schema import CURRENT, SCHEMA_VERSION
from reliability_check import check_consistency

# the local catalog's current_* tables (PostgreSQL state keeps its own: tests/state/test_postgres*)
pytestmark = pytest.mark.local_state


def _status(duck: Duck) -> dict:
    doc = duck.json("status")
    doc.pop("now", None)
    return doc


@pytest.mark.materialized
def test_current_tables_follow_failures_checks_and_rebuilds(duck, project):
    add_checks_on_published_data(project)
    duck("materialize", "stg_trips", "--force", expect=1)  # a failing blocking check
    duck("materialize", "zone_metrics", "--partition", "2026-03-12", "--force", expect=None)
    assert check_consistency(project) == []
    counts = {c.table: catalog_rows(project, f"SELECT count(*) FROM {c.table}")[0][0]
              for c in CURRENT}
    history = {c.table: catalog_rows(project, f"SELECT count(*) FROM {c.history}")[0][0]
               for c in CURRENT}
    history["current_attempts"] = catalog_rows(  # a step covers several partitions
        project, "SELECT count(*) FROM (SELECT unnest(partitions) FROM steps)")[0][0]
    assert all(0 < counts[t] <= history[t] for t in counts), (counts, history)
    assert catalog_rows(project, "SELECT count(*) FROM current_attempts WHERE status = 'failed'"
                        )[0][0] >= 1


@pytest.mark.materialized
def test_a_catalog_before_current_tables_is_migrated_and_reads_the_same(duck, project):
    duck("materialize", "daily_revenue", "--partition", "2026-03-12", "--force")
    duck("materialize")  # what reads daily_revenue catches up: the migration's run is a no-op
    before = _status(duck)
    path = project / ".duck" / "catalog.duckdb"
    con = duckdb.connect(str(path))
    for c in CURRENT:
        con.execute(f"DROP TABLE {c.table}")
    con.execute("UPDATE duck_meta SET value = '3' WHERE key = 'schema_version'")
    con.close()
    (project / ".duck" / "cache" / "snapshot.pickle").unlink(missing_ok=True)
    assert duck("materialize").exit_code == 0  # a writer migrates (a reader cannot)
    assert (project / ".duck" / "catalog.duckdb.v3.bak").exists()
    assert catalog_rows(project, "SELECT value FROM duck_meta WHERE key = 'schema_version'"
                        ) == [(str(SCHEMA_VERSION),)]
    assert _status(duck) == before
    assert check_consistency(project) == []


@pytest.mark.materialized
def test_snapshot_reads_only_the_current_rows(duck, project):
    # a history row older than the current one changes nothing a reader sees: the present is
    # read from current_*, not from a scan of every run
    duck("materialize", "daily_revenue", "--partition", "2026-03-12", "--force")
    before = _status(duck)
    con = duckdb.connect(str(project / ".duck" / "catalog.duckdb"))
    con.execute("INSERT INTO check_results SELECT * REPLACE (seq - 1000000 AS seq, false AS "
                "passed) FROM check_results")
    con.close()
    (project / ".duck" / "cache" / "snapshot.pickle").unlink(missing_ok=True)
    assert _status(duck) == before
    doc = json.loads(duck("status", "--json").stdout)
    assert all(a["checks"]["failed"] == 0 for a in doc["assets"])


@pytest.mark.materialized
def test_the_snapshot_holds_each_current_materialization_as_recorded(duck, project):
    """The snapshot reads the current materializations grouped by publish (partitions as
    lists): each partition still gets its own row's run, step, time, version and row count."""
    from datetime import timezone

    from duck_cli.records import Mat
    from duck_cli.state.catalog import open_catalog

    duck("materialize", "zone_metrics", "--partition", "2026-03-12", "--force")
    duck("materialize", "zone_metrics", "--from", "2026-03-10", "--to", "2026-03-11", "--force")
    rows = catalog_rows(project, "SELECT seq, asset, partition_key, run_id, step, "
                        "timezone('UTC', created_at), code_version, data_version, row_count, "
                        "kind FROM current_materializations")
    expected = {(r[1], r[2]): Mat(*r[:5], r[5].replace(tzinfo=timezone.utc), *r[6:])
                for r in rows}
    with open_catalog(project / ".duck" / "catalog.duckdb", read_only=True, wait=5) as c:
        current = c.snapshot().current
    assert current == expected
    runs = {current[("zone_metrics", d)].run_id for d in ("2026-03-10", "2026-03-11", "2026-03-12")}
    assert len(runs) == 2  # two publishes, each partition with its own
    assert all(m.created_at.tzinfo is not None for m in current.values())


@pytest.mark.materialized
def test_a_writing_command_leaves_the_catalog_checkpointed_for_its_readers(duck, project):
    """A run records its start without checkpointing the catalog (its own end replays that
    short log), and its end leaves at most a short log: every later open, a reader's too,
    would replay a long one."""
    from duck_cli.state.catalog import SMALL_WAL

    duck("materialize", "--force", "stg_trips+")
    wal = project / ".duck" / "catalog.duckdb.wal"
    assert not wal.exists() or wal.stat().st_size <= SMALL_WAL, wal.stat().st_size
    runs = catalog_rows(project, "SELECT run_id, status FROM runs ORDER BY run_id")
    assert runs[-1][1] == "success" and len(runs) == 2, runs
    assert _status(duck)["assets"] and check_consistency(project) == []
