"""A writer's warehouse facts in one query agree with the facts read one by one."""

from __future__ import annotations

import pytest

from duck_cli.state import held

from conftest import edit_zone_metrics, run_ok


def _open(root):
    import duckdb

    return duckdb.connect(str(root / ".duck" / "warehouse.duckdb"), read_only=True)


@pytest.mark.materialized
def test_writer_facts_are_the_readers_facts_and_the_ledgers_last_run(project):
    run_ok(project, "materialize", "--force")  # a second run: r00002 in the ledger
    con = _open(project)
    try:
        facts, last_run = held.writer_facts(con)
        assert facts == held.read_facts(con)
        assert facts.identity and facts.ledger_max > 0 and "main.zone_metrics" in facts.relations
        runs = {r[0] for r in con.execute('SELECT DISTINCT run_id FROM "_duck"."ledger" '
                                          "WHERE run_id IS NOT NULL").fetchall()}
        assert last_run == max(int(r[1:]) for r in runs) == 2
    finally:
        con.close()


@pytest.mark.materialized
def test_an_environments_writer_facts_name_its_own_tables_under_productions_names(project):
    edit_zone_metrics(project)  # the preview builds its own copy of the changed asset
    run_ok(project, "materialize", "zone_metrics", "--env", "pr-7")
    con = _open(project)
    try:
        facts, _last = held.writer_facts(con, "pr-7")
        assert facts == held.read_facts(con, "pr-7")
        assert facts.ledger_max > 0
        assert "main.zone_metrics" in facts.relations  # main__pr_7.zone_metrics, as main's
    finally:
        con.close()
