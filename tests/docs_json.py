"""docs/json.md, generated: every --json document kind, with a real, shortened example.

    python tests/docs_json.py > docs/json.md

It plays the README's tour on a copy of the example project (the 2026-03-12 file late, the
clock at 07:30 Amsterdam on 13 March 2026), prints each kind of document once, keeps the first
item of each list, and fixes the values that change from one run to the next (process ids, host
names, durations) so that the file only changes when the documents do.
`tests/cli/test_cli_docs.py` validates every example against its schema.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-03-13T07:30:00+01:00"
LATE = "data/trips/2026-03-12.csv"
STEADY = {"pid": 4242, "host": "runner", "seconds": 0.05, "time_seconds": 0.05,
          "hash": "3a7bd3e2360a3d29e"}  # a migrate hash sums pids and times

# kind: (printed by, what it holds)
KINDS = {
    "validate": ("`duck validate --json`", "Whether the manifests are valid, how many assets and "
                 "products they define, and every problem (errors and warnings) with its file, "
                 "line and hint. Exit 2 when `valid` is false."),
    "graph": ("`duck graph --json` (the same as `--format json`)", "The selected assets "
              "(`nodes`, each with its state and the manifest line that defines it), their "
              "dependencies (`edges`, from upstream to downstream) and the data products."),
    "plan": ("`duck plan --json`, `duck backfill --dry-run --json`, `duck reconcile --json` "
             "(without `--apply`)", "The steps a writing command would run, in order, each with "
             "its partitions, its reasons (texts and codes) and the steps it waits for "
             "(`needs`); what is held back and why (`held`); what changed since the last build "
             "(`changes`). `empty` is true when there is nothing to do."),
    "run": ("`duck materialize --json`, `duck backfill --json`, `duck reconcile --apply --json`",
            "The run's id and status, one entry per step (status, rows, seconds, check results), "
            "what was held back, and a summary. A run of more than 50 steps lists only the "
            "steps that failed, were skipped or warned, and counts the rest."),
    "status": ("`duck status --json`", "One entry per selected asset (state, partitions by "
               "state with their ranges, freshness, checks, reasons, blockers, last run) and per "
               "data product, with a count of the states. `--partitions` adds each asset's "
               "`partition_list`."),
    "why": ("`duck why TARGET --json`", "Why an asset, a partition or a product is unhealthy: "
            "its state and freshness, the unhealthy partitions, the five questions and their "
            "answers, the blockers upstream (with their depth), the root causes, and the next "
            "action with the command to run."),
    "runs": ("`duck runs --json`", "The run history, newest first: command, status, start and "
             "end, the process, the arguments, the backfill it belongs to, the error of a run "
             "that failed."),
    "run_detail": ("`duck runs show RUN_ID --json`", "One run: the run, every step "
                   "(partitions, status, rows, timings, error) and every check result."),
    "check": ("`duck check --json`", "Check results on published data, one per asset, "
              "partition and check, with the observed value, the number of failing rows and a "
              "sample. Exit 1 when a check of severity `error` failed."),
    "backfills": ("`duck backfills --json`", "The recorded backfills: what was asked "
                  "(`selection`, `options`), the partitions it requested per asset, its status "
                  "and its runs."),
    "init": ("`duck init DIR --json`", "The project folder `duck init` created and the files it "
             "wrote."),
    "report": ("`duck report --html DIR --json`", "Where the HTML status report was written "
               "(`directory`, the status page `index`), its overview pages and the folders of "
               "asset and run pages (`pages`, relative to the directory), and the counts: pages "
               "written, assets by state, data products ([report.md](report.md))."),
    "prune": ("`duck prune --json`", "How many records of each kind were deleted, and the "
              "environments older than `env_retention_days` that were dropped."),
    "env_list": ("`duck env list --json`", "Every environment (preview): its schema, age, "
                 "size and the git commit it was last built from."),
    "env_drop": ("`duck env drop NAME --json`", "Whether the environment existed and was "
                 "dropped (its schema and its state)."),
    "promote": ("`duck promote --env NAME --json`", "What production took from the "
                "environment: the run recorded (the preview's) and the partitions per asset."),
    "doctor": ("`duck doctor --json`", "Whether catalog and warehouse agree (`ok`), and each "
               "finding with its level (`ok`, `repaired`, `error`), code and message. Exit 1 "
               "when a finding is an error."),
    "diff": ("`duck diff --env ENV --json`", "An environment's tables compared with the base's "
             "(production by default): per asset its status (`shared` when the environment "
             "did not build it and reads the base's table), the key rows were matched on, the "
             "rows added, removed and changed in total and per partition (only the partitions "
             "that differ), the columns added, removed or retyped, per column the values "
             "changed and each side's nulls, sum, min and max, and the first rows that differ. "
             "This example is an environment `pr` whose zone_metrics lost a row, changed two "
             "and gained one, and a column."),
    "migrate": ("`duck migrate --to shared --json` (or `--to local`)", "What moved (`moves`: the "
                "state and/or the warehouse, from which backend and place to which), what `--force` "
                "replaced, and every table compared (`tables`: the record tables, the assets' tables "
                "and views, the ledger), with its rows and order-independent hash on each side and "
                "whether they `match`. `ok` (exit 0) only when all match. This example moved the "
                "tour's project into a PostgreSQL state and a DuckLake; it is made where the "
                "extensions and a PostgreSQL server are at hand, and kept as it was elsewhere."),
    "error": ("any command given `--json` that fails", "What went wrong, with the same exit "
              "code: a stable `code` (`invalid_manifest`, `invalid_sql`, `usage`, "
              "`bad_partition_key`, `state`, `locked`, `execution`, `interrupted`, `internal`), the "
              "`message`, where (`file`, `line`, `asset`, `partition`), how to fix it (`hint`, "
              "with a \"did you mean\" for an unknown name) and the `exit_code`; several manifest "
              "problems are all listed in `problems`. This example is `duck status daily_revenu "
              "--json`. The paragraph for people still goes to stderr, and `duck validate "
              "--json` on invalid manifests keeps its `validate` document and adds the same "
              "`error` object."),
}

INTRO = """\
# JSON documents

<!-- Generated by `python tests/docs_json.py > docs/json.md`. Do not edit by hand. -->

`--json` makes a command print exactly one JSON document on stdout and nothing else there;
progress lines and GitHub annotations go to stderr, and the exit code is the same as without
`--json` ([ci.md](ci.md#exit-codes)). When the command fails (invalid manifests, a bad option,
an unknown asset or partition, a locked project), stdout holds an [`error`](#error) document
and stderr the one-paragraph message, so `duck COMMAND --json | jq -e '.error | not'` works on
every command.

Every document has `schema_version` (now `1`) and `kind`. Its shape is a JSON Schema (draft
2020-12) in [schemas/](../schemas/), also printed by `duck schema KIND`; the tests check the
documents duck prints against them.

**What stays stable.** Within a `schema_version`, duck only adds: new keys, new kinds of
document. It does not remove or rename a key or change its type; such a change comes with a new
`schema_version`. So read the keys you need and ignore the ones you do not know. Times are ISO
8601 with an offset; partition keys are texts; run ids look like `r00001` and backfill ids like
`b00001`.

```
$ duck status daily_revenue --json | jq '{state: .assets[0].state, blockers: .assets[0].blockers}'
```

| kind | printed by | schema |
| --- | --- | --- |
"""

EXAMPLES = """
The examples below are real documents from the README's tour (the example project at 07:30 on
13 March 2026, with the 2026-03-12 file late), shortened: lists keep their first item (`status`
and `why` keep `daily_revenue`'s, `held` its first entry that is not fresh), and process ids,
host names and durations are fixed values. A test validates each of them against its schema.
"""


def _duck(project: Path, *args: str, codes: tuple[int, ...] = (0, 1),
          extra: dict | None = None) -> dict:
    duck = Path(sys.executable).parent / "duck"  # the installed command, as a user runs it
    env = {**os.environ, "DUCK_NOW": NOW, "DUCK_PROJECT": str(project), "NO_COLOR": "1",
           **(extra or {})}
    result = subprocess.run([str(duck), *args, "--json"], capture_output=True, text=True,
                            env=env, timeout=300)
    if result.returncode not in codes:
        raise RuntimeError(f"duck {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return json.loads(result.stdout)


# An environment's build, as `duck materialize --env pr` leaves it: its own zone_metrics in
# schema main__pr (one row removed, two changed, one added, a new column).
PREVIEW = """
CREATE SCHEMA main__pr;
CREATE TABLE main__pr.zone_metrics AS
  SELECT *, round(revenue / trips, 2)::DOUBLE AS revenue_per_trip FROM main.zone_metrics
  WHERE NOT (trip_date = DATE '2026-03-02' AND zone_id = 3);
UPDATE main__pr.zone_metrics SET revenue = revenue + 1
  WHERE trip_date = DATE '2026-03-05' AND zone_id IN (1, 2);
INSERT INTO main__pr.zone_metrics VALUES (DATE '2026-03-05', 99, 'Zone 99', 1, 10.00, 1.0, 10.0);
"""


def _warehouse(project: Path, sql: str) -> None:
    import duckdb

    con = duckdb.connect(str(project / ".duck" / "warehouse.duckdb"))
    try:
        con.execute(sql)
    finally:
        con.close()


def documents(work: Path) -> dict[str, dict]:
    """One document of every kind, from the tour's story on a copy of the example project."""
    project = work / "tour"
    shutil.copytree(ROOT / "examples" / "manifests", project,
                    ignore=shutil.ignore_patterns(".duck"))
    (project / LATE).rename(work / "late.csv")
    docs = {k: _duck(project, *a) for k, a in [("validate", ["validate"]), ("graph", ["graph"]),
                                               ("plan", ["plan"]), ("run", ["materialize"]),
                                               ("status", ["status"]),
                                               ("why", ["why", "revenue_dashboard"])]}
    (work / "late.csv").rename(project / LATE)
    _duck(project, "backfill", "stg_trips", "--partition", "2026-03-12", "--downstream")
    for kind, args in [("runs", ["runs"]), ("run_detail", ["runs", "show", "r00001"]),
                       ("check", ["check", "zone_metrics", "--partition", "2026-03-12"]),
                       ("backfills", ["backfills"]),
                       ("report", ["report", "--html", str(work / "site")]),
                       ("prune", ["prune", "--keep-runs", "5"]),
                       ("doctor", ["doctor"]), ("init", ["init", str(work / "new")])]:
        docs[kind] = _duck(project, *args)
    docs["migrate"] = _migrated(project, work)
    sql = project / "models" / "zone_metrics.sql"
    sql.write_text(sql.read_text().replace("avg(distance_km), 2)", "avg(distance_km), 1)"))
    _duck(project, "materialize", "--env", "pr-42")
    for kind, args in [("env_list", ["env", "list"]), ("promote", ["promote", "--env", "pr-42"]),
                       ("env_drop", ["env", "drop", "pr-42"])]:
        docs[kind] = _duck(project, *args)
    docs["error"] = _duck(project, "status", "daily_revenu", codes=(2,))
    _warehouse(project, PREVIEW)
    docs["diff"] = _duck(project, "diff", "zone_metrics", "--env", "pr")
    _warehouse(project, "DROP SCHEMA main__pr CASCADE")
    for kind in ("init", "report", "migrate"):
        docs[kind] = json.loads(json.dumps(docs[kind]).replace(str(work) + "/", ""))
    return docs


def _migrated(project: Path, work: Path) -> dict:
    """`duck migrate --to shared` of a copy of the tour's project into a new PostgreSQL server's
    state and lake; the example already in docs/json.md where the server or the extensions
    are not at hand (the base environment's DuckDB has no extension packages)."""
    try:
        sys.path.insert(0, str(ROOT / "tests"))
        from pg import _start

        import duckdb
        import psycopg

        from duck_cli.state import extensions

        extensions.load(duckdb.connect(), ("ducklake", "postgres"), work / "ext")
    except Exception:  # noqa: BLE001 - no server or extension here: keep the example
        return _kept("migrate")
    shared = work / "shared"
    shutil.copytree(project, shared)
    server, pg = _start(work / "pgdata")
    try:
        with psycopg.connect(pg.dsn(), autocommit=True) as con:
            con.execute("CREATE DATABASE duck_state")
            con.execute("CREATE DATABASE duck_lake")
        (shared / "duck.yaml").write_text(
            "state: {postgres: 'dbname=duck_state'}\nwarehouse:\n  ducklake: {catalog: "
            "'postgres:dbname=duck_lake', data_path: lake/}\n")
        env = {k: v for k, v in pg.env().items() if k != "PGDATABASE"}
        return _duck(shared, "migrate", "--to", "shared", extra=env)
    finally:
        server.cleanup()


def _kept(kind: str) -> dict:
    """The example of ``kind`` docs/json.md already shows."""
    text = (ROOT / "docs" / "json.md").read_text().split(f"\n## {kind}\n", 1)[1]
    return json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])


def trim(value, key: str | None = None):
    """A document shortened for reading: the first item of each list, steady values.

    >>> trim({"steps": [{"pid": 1}, {"pid": 2}], "tags": ["a", "b"]})
    {'steps': [{'pid': 4242}], 'tags': ['a', 'b']}
    """
    if isinstance(value, dict):
        return {k: STEADY[k] if k in STEADY else trim(v, k)
                for k, v in value.items()}
    if not isinstance(value, list):
        return value
    if key == "questions" or (len(value) <= 4 and not any(isinstance(v, (dict, list))
                                                            for v in value)):
        return [trim(v) for v in value]
    return [trim(v) for v in _pick(value, key)[:1]]


def _pick(items: list, key: str | None) -> list:
    if key == "assets" and any(isinstance(v, dict) and v.get("name") == "daily_revenue"
                               for v in items):
        return [v for v in items if v.get("name") == "daily_revenue"]
    if key == "held":
        return [v for v in items if v.get("status") != "fresh"] or items
    return items


def layout(value, indent: int = 0) -> str:
    """JSON with two-space indents, short lists and flat objects of scalars on one line.

    >>> print(layout({"a": [1, 2], "b": {"c": [{"d": 1}]}}))
    {
      "a": [1, 2],
      "b": {
        "c": [
          {"d": 1}
        ]
      }
    }
    """
    flat = json.dumps(value, ensure_ascii=False)
    scalars = isinstance(value, (dict, list)) and not any(
        isinstance(v, (dict, list)) for v in (value.values() if isinstance(value, dict) else value))
    if not isinstance(value, (dict, list)) or not value or (
            scalars and len(flat) + indent <= 96 and (isinstance(value, list) or len(value) <= 4)):
        return flat
    pad, end = " " * (indent + 2), " " * indent
    if isinstance(value, list):
        return "[\n" + ",\n".join(pad + layout(v, indent + 2) for v in value) + f"\n{end}]"
    return "{\n" + ",\n".join(f"{pad}{json.dumps(k)}: {layout(v, indent + 2)}"
                              for k, v in value.items()) + f"\n{end}}}"


def render(docs: dict[str, dict]) -> str:
    """The whole of docs/json.md."""
    table = "".join(f"| [`{k}`](#{k}) | {by} | [schemas/{k}.schema.json]"
                    f"(../schemas/{k}.schema.json) |\n" for k, (by, _what) in KINDS.items())
    sections = "".join(
        f"\n## {k}\n\nPrinted by {by}; schema [schemas/{k}.schema.json](../schemas/{k}.schema.json)."
        f"\n{what}\n\n```json\n{layout(trim(docs[k]))}\n```\n" for k, (by, what) in KINDS.items())
    return INTRO + table + EXAMPLES + sections


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        sys.stdout.write(render(documents(Path(tmp))))
