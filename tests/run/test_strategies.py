"""append, merge and snapshot: sequences of runs over changing input, each table compared
with the one computed by hand; --force is a full refresh, said in the plan; a kill -9 in
the middle of a merge or a snapshot leaves the table as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Duck, catalog_rows, warehouse_rows

DAY1 = "2026-03-05T07:30:00+00:00"
DAY2 = "2026-03-06T07:30:00+00:00"
DAY3 = "2026-03-07T07:30:00+00:00"


def project(tmp_path: Path, materialize: str, columns: str = "id, name, updated_at") -> Path:
    """A project whose asset `people` reads data/people.csv through the `raw_people` source."""
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    (root / "m.yaml").write_text(f"""\
assets:
  - name: raw_people
    source: {{path: data/people.csv, format: csv}}
  - name: people
    deps: [raw_people]
    materialize:
      sql: "select {columns} from raw_people"
{materialize}
""")
    return root


def deliver(root: Path, rows: list[tuple]) -> None:
    lines = ["id,name,updated_at"] + [f"{i},{n},{u}" for i, n, u in rows]
    (root / "data" / "people.csv").write_text("\n".join(lines) + "\n")


def table(root: Path, order: str = "ALL") -> list[tuple]:
    return warehouse_rows(root, f"SELECT * FROM people ORDER BY {order}")


# -- append -----------------------------------------------------------------------------------


def test_append_with_a_cursor_inserts_only_new_rows(tmp_path):
    root = project(tmp_path, "      strategy: append\n      cursor: id", "id, name")
    duck = Duck(root, DAY1)
    deliver(root, [(1, "ann", 1), (2, "bob", 1)])
    duck("materialize")
    assert table(root) == [(1, "ann"), (2, "bob")]
    deliver(root, [(1, "ann", 1), (2, "bob", 1), (3, "cat", 2)])
    duck("materialize", now=DAY2)
    assert table(root) == [(1, "ann"), (2, "bob"), (3, "cat")]
    duck("materialize", "people", "--force", now=DAY3)  # re-run: full refresh, no duplicates
    assert table(root) == [(1, "ann"), (2, "bob"), (3, "cat")]


def test_append_without_a_cursor_inserts_every_row_again(tmp_path):
    root = project(tmp_path, "      strategy: append", "id, name")
    duck = Duck(root, DAY1)
    deliver(root, [(1, "ann", 1)])
    duck("materialize")
    deliver(root, [(2, "bob", 1)])
    duck("materialize", now=DAY2)
    assert table(root) == [(1, "ann"), (2, "bob")]


def test_append_checks_unique_over_the_table_it_would_leave(tmp_path):
    root = project(tmp_path, "      strategy: append\n    checks:\n      - {unique: [id]}",
                   "id, name")
    duck = Duck(root, DAY1)
    deliver(root, [(1, "ann", 1)])
    duck("materialize")
    deliver(root, [(1, "ann again", 1)])
    result = duck("materialize", now=DAY2, expect=1)
    assert "unique_id failed" in result.output
    assert table(root) == [(1, "ann")]


# -- merge ------------------------------------------------------------------------------------


MERGE = ("      strategy: merge\n      unique_key: id\n"
         "      delete_when: \"name = 'DELETED'\"")


def test_merge_updates_inserts_and_deletes(tmp_path):
    root = project(tmp_path, MERGE, "id, name")
    duck = Duck(root, DAY1)
    deliver(root, [(1, "ann", 1), (2, "bob", 1), (3, "cat", 1)])
    duck("materialize")
    assert table(root) == [(1, "ann"), (2, "bob"), (3, "cat")]
    # a batch of changes: 2 renamed, 3 deleted, 4 new; 1 not in the batch stays
    deliver(root, [(2, "bobby", 2), (3, "DELETED", 2), (4, "dan", 2)])
    duck("materialize", now=DAY2)
    assert table(root) == [(1, "ann"), (2, "bobby"), (4, "dan")]
    [(rows,)] = catalog_rows(root, "SELECT row_count FROM materializations WHERE asset = "
                                   "'people' ORDER BY seq DESC LIMIT 1")
    assert rows == 3


def test_merge_force_is_a_full_refresh_said_in_the_plan(tmp_path):
    root = project(tmp_path, MERGE, "id, name")
    duck = Duck(root, DAY1)
    deliver(root, [(1, "ann", 1), (2, "bob", 1)])
    duck("materialize")
    deliver(root, [(2, "bobby", 2)])
    [step] = duck.json("plan", "people", "--force")["steps"]
    assert step["reasons"][0] == "full refresh (--force): the table is rebuilt from scratch"
    duck("materialize", "people", "--force", now=DAY2)
    assert table(root) == [(2, "bobby")]


# -- snapshot ---------------------------------------------------------------------------------


def test_snapshot_by_updated_at_keeps_history(tmp_path):
    root = project(tmp_path, "      strategy: snapshot\n      unique_key: id\n"
                             "      updated_at: updated_at",
                   "id, name, cast(updated_at as timestamp) as updated_at")
    duck = Duck(root, DAY1)
    deliver(root, [(1, "ann", "2026-03-01 10:00"), (2, "bob", "2026-03-01 10:00")])
    duck("materialize")
    deliver(root, [(1, "ann", "2026-03-01 10:00"), (2, "robert", "2026-03-05 09:00")])
    duck("materialize", now=DAY2)
    rows = warehouse_rows(root, "SELECT id, name, valid_from::VARCHAR, valid_to::VARCHAR, "
                                "is_current FROM people ORDER BY id, valid_from")
    assert rows == [(1, "ann", "2026-03-01 10:00:00", None, True),
                    (2, "bob", "2026-03-01 10:00:00", "2026-03-05 09:00:00", False),
                    (2, "robert", "2026-03-05 09:00:00", None, True)]
    duck("materialize", "people", "--force", now=DAY3)  # a full refresh drops the history
    assert warehouse_rows(root, "SELECT id, name, is_current FROM people ORDER BY id") == [
        (1, "ann", True), (2, "robert", True)]


def test_snapshot_by_check_columns_with_hard_deletes(tmp_path):
    root = project(tmp_path, "      strategy: snapshot\n      unique_key: [id]\n"
                             "      check_columns: [name]\n      hard_deletes: true", "id, name")
    duck = Duck(root, DAY1)
    deliver(root, [(1, "ann", 0), (2, "bob", 0), (3, "cat", 0)])
    duck("materialize")
    deliver(root, [(1, "ann", 0), (2, "bobby", 0)])  # 2 changed, 3 gone
    duck("materialize", now=DAY2)
    rows = warehouse_rows(root, "SELECT id, name, valid_from::VARCHAR, valid_to::VARCHAR, "
                                "is_current FROM people ORDER BY id, valid_from")
    assert rows == [(1, "ann", "2026-03-05 07:30:00", None, True),
                    (2, "bob", "2026-03-05 07:30:00", "2026-03-06 07:30:00", False),
                    (2, "bobby", "2026-03-06 07:30:00", None, True),
                    (3, "cat", "2026-03-05 07:30:00", "2026-03-06 07:30:00", False)]
    deliver(root, [(1, "ann", 0), (2, "bobby", 0), (3, "cat", 0)])  # 3 is back
    duck("materialize", now=DAY3)
    assert warehouse_rows(root, "SELECT id, name, valid_from::VARCHAR FROM people "
                                "WHERE is_current ORDER BY id") == [
        (1, "ann", "2026-03-05 07:30:00"), (2, "bobby", "2026-03-06 07:30:00"),
        (3, "cat", "2026-03-07 07:30:00")]


def test_strategy_options_are_validated(tmp_path):
    root = project(tmp_path, "      strategy: snapshot\n      cursor: id", "id, name")
    result = Duck(root, DAY1)("validate", expect=2)
    assert "'cursor' applies to strategy append, not snapshot" in result.output
    assert "strategy snapshot needs a unique_key" in result.output
    assert "needs exactly one of updated_at and check_columns" in result.output


# -- crash safety -----------------------------------------------------------------------------


def _duck_bin() -> str:
    found = Path(sys.executable).with_name("duck")
    if not found.exists():
        pytest.skip("the duck command is not installed next to this Python")
    return str(found)


@pytest.mark.parametrize("strategy", [MERGE, "      strategy: snapshot\n      unique_key: id\n"
                                             "      check_columns: [name]"])
@pytest.mark.parametrize("point", ["stage", "checks", "publish", "ledger"])
def test_a_kill_in_the_middle_leaves_the_table_as_it_was(tmp_path, strategy, point):
    root = project(tmp_path, strategy, "id, name")
    duck = Duck(root, DAY1)
    deliver(root, [(1, "ann", 0), (2, "bob", 0)])
    duck("materialize")
    before = table(root)
    deliver(root, [(2, "bobby", 0), (3, "DELETED", 0), (4, "dan", 0)])
    env = {**os.environ, "DUCK_NOW": DAY2, "DUCK_FAULT": f"{point}:1", "NO_COLOR": "1"}
    killed = subprocess.run([_duck_bin(), "materialize", "-p", str(root)], env=env,
                            capture_output=True, text=True)
    assert killed.returncode == 137, killed.stderr
    assert table(root) == before
    duck("materialize", now=DAY2)  # the next run repairs the state and builds the change
    assert len(table(root)) > len(before)
