"""`duck doctor`: check that the catalog and the warehouse agree, and repair what a dead run
left behind (abandoned runs, published data the catalog had not recorded, stray staging)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from duck_cli.run.build import STAGE
from duck_cli.run.session import session
from duck_cli.state import extensions


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

    @property
    def ok(self) -> bool:
        """Whether nothing is left broken."""
        return not any(f.level == "error" for f in self.findings)


def run(project, clock, *, wait: float, faults=None, environ=None) -> DoctorReport:
    """Repair under the write lock, then check every invariant."""
    unset = extensions.missing_variables(project.settings, os.environ if environ is None
                                         else environ)
    if unset:  # every secret's variable, by name (never a value), before anything connects
        return DoctorReport(tuple(Finding(
            "error", "secret_variable_missing", f"the secret '{name}' in duck.yaml reads the "
            f"environment variable {var}, which is not set") for name, var in unset))
    findings: list[Finding] = []
    with session(project, "doctor", clock, wait=wait, faults=faults) as s:
        rec = s.recovered
        if rec.get("abandoned"):
            findings.append(Finding("repaired", "abandoned_runs", "marked abandoned: "
                               + ", ".join(rec["abandoned"])))
        if rec.get("recovered"):
            findings.append(Finding("repaired", "ledger_sync", f"recorded {rec['recovered']} "
                               "published materialization(s) the catalog had missed"))
        findings += _stray_stages(s)
        findings += _ledger_agrees(s)
        findings += _tables_exist(s)
    if not findings:
        findings.append(Finding("ok", "consistent", "catalog and warehouse agree"))
    return DoctorReport(tuple(findings))




def _stray_stages(s) -> list[Finding]:
    rows = s.wh.con.execute("SELECT table_name FROM information_schema.tables WHERE "
                            "table_schema = 'main' AND table_catalog = current_database() "
                            "AND starts_with(table_name, ?)",
                            [STAGE]).fetchall()
    for (name,) in rows:
        s.wh.con.execute(f'DROP TABLE IF EXISTS "{name}"')
    return [Finding("repaired", "stray_stage", f"dropped staging table {n}") for (n,) in rows]


def _ledger_agrees(s) -> list[Finding]:
    catalog_max = s.snapshot.max_seq  # the session's snapshot, after its repair
    ledger_max = s.wh.max_seq()
    if catalog_max > ledger_max:
        return [Finding("error", "warehouse_behind", f"the catalog records materializations up to "
                   f"#{catalog_max} but the warehouse ledger ends at #{ledger_max}: the "
                   "warehouse file was replaced or restored from an older copy. Rebuild with "
                   "`duck materialize --force`.")]
    return []


def _tables_exist(s) -> list[Finding]:
    built = {a for (a, _k), m in s.snapshot.current.items() if m.kind == "materialization"
             and a in s.project.assets}
    missing = sorted(a for a in built if not s.wh.exists(a))
    return [Finding("error", "table_missing", f"{a} has a recorded materialization but no table or "
               f"view in the warehouse; run `duck materialize {a} --force`") for a in missing]
