"""The backend factory: duck.yaml chooses the state and the warehouse; the local files stay the
default; a backend this duck lacks, or an env: reference to an unset variable, is one clear
error; and the ledger comparison works for any pair of backends, not only the attached one."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import catalog_rows, invoke
from duck_cli.manifest.settings import load_settings
from duck_cli.records import Batch
from duck_cli.state import backends
from duck_cli.state import catalog as cat
from duck_cli.state.local import LocalState
from duck_cli.state.warehouse import Warehouse, ledger_row


def _asset(project: Path):
    from duck_cli.manifest.load import load_project

    return load_project(project).assets["stg_trips"]


@pytest.mark.local_state
def test_local_files_are_the_default(project: Path) -> None:
    settings = load_settings(project)
    assert isinstance(backends.state_backend(settings), LocalState)
    assert backends.mode(settings) == "local"
    wh = backends.open_warehouse(settings, wait=1)
    try:
        assert isinstance(wh, Warehouse) and settings.warehouse.exists()
    finally:
        wh.close()


def test_env_reference_to_an_unset_variable_is_one_clear_error(project: Path) -> None:
    (project / "duck.yaml").write_text("state: {postgres: 'env:DUCK_TEST_NO_SUCH_DSN'}\n")
    result = invoke(project, "status")
    assert result.exit_code == 2
    assert "duck.yaml's state.postgres reads the environment variable DUCK_TEST_NO_SUCH_DSN, " \
           "which is not set" in result.output


@pytest.mark.skipif(importlib.util.find_spec("duck_cli.state.lake") is not None,
                    reason="this duck has the DuckLake warehouse: tests/state/test_lake covers it")
def test_a_warehouse_this_duck_cannot_open_is_one_clear_error(project: Path) -> None:
    (project / "duck.yaml").write_text(
        "warehouse: {ducklake: {catalog: 'postgres:service=lake', data_path: lake/}}\n")
    result = invoke(project, "materialize")
    assert result.exit_code == 2
    assert "warehouse is a DuckLake ({ducklake: ...}), which this version of duck cannot " \
           "open" in result.output
    assert not (project / ".duck" / "catalog.duckdb").exists()  # nothing was recorded


@pytest.mark.local_state
def test_ledger_rows_missing_from_a_separate_store_are_found(project: Path) -> None:
    """The comparison any backend pair uses (the state not attached to the warehouse): rows
    published but not recorded are found, recorded ones are not, and pruned runs stay pruned."""
    settings, asset = load_settings(project), _asset(project)
    now = datetime(2026, 3, 13, 6, 0, tzinfo=timezone.utc)
    rows = [ledger_row(seq, asset, f"2026-03-0{seq}", run, 1, now, 10, "materialization")
            for seq, run in ((1, "r00001"), (2, "r00002"), (3, None), (4, "r00003"))]
    wh = Warehouse.open(settings, wait=1)
    store = LocalState(settings).writer(None, wait=1)  # its own connection, not attached
    try:
        wh.begin()
        wh.append_ledger(rows)
        wh.commit()
        from duck_cli.records import RunRow

        run = RunRow("r00003", "materialize", "success", now, now, 1, "h", "", None, None)
        store.write(Batch(runs=[run], mats=[rows[1]]))
        # recorded_max 2: row 1 (seq <= 2, its run r00001 pruned) stays deleted; row 2 is
        # recorded; row 3 (an observation, no run) and row 4 (run still recorded) are missing
        missing = wh.ledger_unrecorded(2, store)
        assert [r.seq for r in missing] == [3, 4]
        assert missing[1] == rows[3]
    finally:
        store.close()
        wh.close()


@pytest.mark.local_state
def test_attached_and_separate_comparisons_agree(project: Path) -> None:
    assert invoke(project, "materialize").exit_code == 0
    seqs = [r[0] for r in catalog_rows(project, "SELECT seq FROM materializations ORDER BY seq")]
    settings = load_settings(project)
    con = cat.connect(settings.catalog, read_only=False, wait=1)
    con.execute("DELETE FROM materializations WHERE seq IN (?, ?)", [seqs[2], seqs[-1]])
    con.close()
    wh = Warehouse.open(settings, wait=1)
    try:
        attached = cat.attach(wh.con, settings.catalog)
        fast = [r.seq for r in wh.ledger_unrecorded(max(seqs), attached)]
        attached.close()
        separate = cat.open_connection(settings.catalog, read_only=True)
        slow = [r.seq for r in wh.ledger_unrecorded(max(seqs), separate)]
        separate.close()
    finally:
        wh.close()
    assert fast == slow == [seqs[2], seqs[-1]]
