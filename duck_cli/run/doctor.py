"""`duck doctor`: check that the catalog and the warehouse agree, and repair what a dead run
left behind (abandoned runs, published data the catalog had not recorded, stray staging)."""

from __future__ import annotations

import os
from dataclasses import dataclass


from duck_cli.code_version import schema_of
from duck_cli.errors import StateError
from duck_cli.run.build import STAGE
from duck_cli.run.session import session
from duck_cli.state import extensions, lake, lake_config
from duck_cli.state import backends
from duck_cli.state.migrate_copy import MARK
from duck_cli.state import catalog as cat
from duck_cli.sql import env_schema, quote_ident


@dataclass(frozen=True)
class Finding:
    """One thing doctor found: ``level`` is ok, repaired, warn or error; ``code`` is stable."""

    level: str
    code: str
    message: str


@dataclass(frozen=True)
class DoctorReport:
    """What `duck doctor` repaired and found; ``ok`` unless a finding is an error."""

    findings: tuple[Finding, ...]
    storage: backends.Storage | None = None  # which backends, where (None: not reached)

    @property
    def ok(self) -> bool:
        """Whether nothing is left broken."""
        return not any(f.level == "error" for f in self.findings)


def run(project, clock, *, wait: float, fix: bool = False, faults=None,
        environ=None) -> DoctorReport:
    """Repair under the write lock, then check every invariant (reading every table vouched
    for); with ``fix``, first move an unreadable catalog aside to rebuild it from the ledger."""
    unset = extensions.missing_variables(project.settings, os.environ if environ is None
                                         else environ)
    if unset:  # every secret's variable, by name (never a value), before anything connects
        return DoctorReport(tuple(Finding(
            "error", "secret_variable_missing", f"the secret '{name}' in duck.yaml reads the "
            f"environment variable {var}, which is not set") for name, var in unset))
    findings: list[Finding] = []
    storage = backends.storage(project.settings, project.root)  # says which mode; checks the connection
    moving = _migration(project, wait)
    if moving:  # a state that `duck migrate` should fill: repairing it would half-fill it
        return DoctorReport(tuple(moving), storage)

    def prepare() -> None:  # under the write lock: no writer is changing the files
        findings.extend(_catalog_readable(project, clock, fix, wait))
        damaged = _warehouse_readable(project, wait)
        if damaged:  # a session would fail on the first damaged block: change nothing
            raise _Damaged(damaged)

    try:
        with session(project, "doctor", clock, wait=wait, faults=faults, prepare=prepare) as s:
            findings += _session_findings(s)
            mode = _lake_housekeeping(s, fix)
    except _Damaged as err:
        return DoctorReport(tuple(findings + err.findings), storage)
    if not findings:
        findings.append(Finding("ok", "consistent", "catalog and warehouse agree"))
    return DoctorReport(tuple(findings + mode), storage)


class _Damaged(Exception):
    """The warehouse cannot be read: doctor reports it without opening a session."""

    def __init__(self, findings: list[Finding]):
        super().__init__("damaged")
        self.findings = findings


def _session_findings(s) -> list[Finding]:
    """What the session repaired, and what is still inconsistent."""
    findings: list[Finding] = []
    rec = s.recovered
    if rec.get("lost"):
        findings.append(Finding("repaired", "data_lost", "the warehouse no longer holds "
                                f"{', '.join(rec['lost'])}: now recorded as missing; run "
                                "`duck materialize` to rebuild them"))
    if rec.get("abandoned"):
        findings.append(Finding("repaired", "abandoned_runs", "marked abandoned: "
                                + ", ".join(rec["abandoned"])))
    if rec.get("recovered"):
        findings.append(Finding("repaired", "ledger_sync", f"recorded {rec['recovered']} "
                                "published materialization(s) the catalog had missed"))
    return findings + _stray_stages(s) + _ledger_agrees(s) + _tables_exist(s)


def _lake_housekeeping(s, fix: bool) -> list[Finding]:
    """In lake mode: which lake, at which snapshot; with ``fix``, expire the lake's snapshots
    past its retention and delete the files no snapshot references."""
    if not s.wh.lake:
        return []
    cfg = s.wh.cfg
    out = [Finding("ok", "lake_mode", f"the warehouse is a DuckLake: catalog "
                   f"{lake_config.shown_catalog(cfg)}, data {cfg.data_path}, at snapshot "
                   f"{s.wh.snapshot_id()}")]
    done = lake.housekeeping(s.wh.con, cfg) if fix else {}
    if any(done.values()):
        out.append(Finding("repaired", "lake_housekeeping", f"the lake (retention "
                           f"{cfg.retention}): " + ", ".join(
                               f"{n} {k.replace('_', ' ')}" for k, n in done.items())))
    return out


def _migration(project, wait: float) -> list[Finding]:
    """With the state in PostgreSQL: an interrupted `duck migrate` (its mark still on the
    state), or records in the local catalog that the shared state does not hold yet."""
    settings = project.settings
    if settings.state_dsn is None:
        return []
    with backends.open_state(settings, read_only=True, wait=wait) as c:
        marked = c.meta(MARK) if c is not None else None
        shared = c.snapshot().max_seq if c is not None else 0
    if marked:
        return [Finding("error", "migration_incomplete", "the shared state is marked as the "
                        "target of a `duck migrate` that did not finish; run `duck migrate "
                        "--to shared` again (it starts over)")]
    if shared or not settings.catalog.exists():
        return []
    with cat.open_catalog(settings.catalog, read_only=True, wait=wait) as c:
        local = c.snapshot().max_seq if c is not None else 0
    return [Finding("warn", "migrate_available", f"the local catalog {settings.catalog.name} "
                    "holds records the shared state does not: run `duck migrate --to shared` "
                    "to move them (and the warehouse) before building here")] if local else []


def _stray_stages(s) -> list[Finding]:
    # a table step stages beside its table: in each asset schema (this environment's copies)
    mine = [env_schema(s.settings.env, schema) for schema in s.wh.schemas]
    rows = s.wh.con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                            "WHERE list_contains(?, table_schema) AND table_catalog = "
                            "current_database() AND starts_with(table_name, ?) ORDER BY 1, 2",
                            [mine, STAGE]).fetchall()
    for schema, name in rows:
        s.wh.con.execute(f"DROP TABLE IF EXISTS {quote_ident(schema)}.{quote_ident(name)}")
    return [Finding("repaired", "stray_stage", f"dropped staging table "
                    f"{n if sc == mine[0] else sc + '.' + n}") for sc, n in rows]


def _ledger_agrees(s) -> list[Finding]:
    # the session's snapshot, after its repair (what it recorded as lost is no longer claimed)
    catalog_max = max((m.seq for m in s.snapshot.current.values()), default=0)
    ledger_max = s.wh.max_seq()
    if catalog_max > ledger_max:
        return [Finding("error", "warehouse_behind", f"the catalog records materializations up to "
                   f"#{catalog_max} but the warehouse ledger ends at #{ledger_max}: the "
                   "warehouse file was replaced or restored from an older copy. Rebuild with "
                   "`duck materialize --force`.")]
    return []


def _tables_exist(s) -> list[Finding]:
    # where each was built (an asset moved since still has its rows in the old schema)
    built = {a: f"{schema_of(m.code_version)}.{a}" for (a, _k), m in s.snapshot.current.items()
             if m.kind == "materialization" and a in s.project.assets}
    missing = sorted(a for a, rel in built.items() if not s.wh.exists(rel))
    return [Finding("error", "table_missing", f"{a} has a recorded materialization but no table or "
               f"view in the warehouse; run `duck materialize {a} --force`") for a in missing]


def _catalog_readable(project, clock, fix: bool, wait: float) -> list[Finding]:
    """Read every catalog table; an unreadable catalog is moved aside with ``fix`` (the
    session then rebuilds it from the warehouse ledger), else reported with that way out."""
    path, local = project.settings.catalog, project.settings.state_dsn is None
    if local and not path.exists():
        return []
    try:
        with backends.open_state(project.settings, read_only=True, wait=wait) as c:
            if c is not None:
                c.verify()
        return []
    except StateError as err:
        if "newer duck" in err.message or not local:  # an upgrade, or a server, is the way out
            raise
        if not fix:
            raise StateError(err.message, hint="Run `duck doctor --fix` to move it aside and "
                             "rebuild it from the warehouse ledger (the run history before the "
                             "damage stays only in the moved file), or move it aside yourself "
                             "(mv .duck/catalog.duckdb .duck/catalog.broken).") from err
    aside = path.with_name(f"{path.name}.broken-{clock().strftime('%Y%m%dT%H%M%S')}")
    os.replace(path, aside)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        os.replace(wal, aside.with_name(aside.name + ".wal"))
    return [Finding("repaired", "catalog_rebuilt", f"moved the unreadable catalog aside to "
                    f"{aside.name} and rebuilt it from the warehouse ledger")]


def _warehouse_readable(project, wait: float) -> list[Finding]:
    """Read every table and view in the warehouse, and its ledger: DuckDB verifies the checksum
    of each block it reads, so a damaged file shows here rather than in the next run."""
    from duck_cli.engine import duckdb

    path = project.settings.warehouse
    if project.settings.lake is not None or not path.exists():  # a lake checks its own files
        return []
    con = cat.connect(path, read_only=True, wait=wait)
    out = []
    try:
        names = [f"{quote_ident(schema)}.{quote_ident(name)}" for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary AND "
            "database_name = current_database() UNION ALL SELECT schema_name, view_name FROM "
            "duckdb_views() WHERE NOT internal AND NOT temporary AND database_name = "
            "current_database() ORDER BY 1, 2").fetchall()]
        for name in names:
            try:
                con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {name} t").fetchone()
            except duckdb.Error as err:
                out.append(_unreadable(path, name, err))
    except duckdb.Error as err:
        out.append(_unreadable(path, "its list of tables", err))
    finally:
        con.close()
    return out


def _unreadable(path, name: str, err: Exception) -> Finding:
    return Finding("error", "warehouse_damaged", f"{name} in {path.name} cannot be read "
                   f"({str(err).splitlines()[0]}): the warehouse file is damaged. Restore it "
                   f"from a backup, or move it aside (mv {path} {path}.broken) and run `duck "
                   "materialize`: the catalog then marks every asset missing and rebuilds it")
