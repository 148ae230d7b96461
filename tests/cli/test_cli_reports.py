"""CI reports: JUnit XML (each step and each check a test case) and GitHub Actions workflow
commands (annotations at the asset's manifest file and line, a Markdown step summary)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from conftest import add_checks_on_published_data
from conftest import append_duplicate_trip

# ::error file=<path>,line=<n>,title=<title>::<message>
ANNOTATION = re.compile(r"^::(error|warning) file=([^,]+),line=(\d+),title=([^:]*)::(.*)$")


def junit(path: Path) -> list[dict]:
    """The test cases of a JUnit file, checking the suite's counters on the way."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = []
    for case in suite.findall("testcase"):
        failure, skipped = case.find("failure"), case.find("skipped")
        cases.append({"classname": case.get("classname"), "name": case.get("name"),
                      "time": float(case.get("time")),
                      "status": "failed" if failure is not None else
                                "skipped" if skipped is not None else "passed",
                      "message": (failure if failure is not None else skipped).get("message")
                                 if failure is not None or skipped is not None else None,
                      "text": failure.text if failure is not None else None,
                      "out": case.findtext("system-out"),
                      "properties": {p.get("name"): p.get("value")
                                     for p in case.iter("property")}})
    assert int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == sum(c["status"] == "failed" for c in cases)
    assert int(suite.get("skipped")) == sum(c["status"] == "skipped" for c in cases)
    return cases


def expected_cases(run: dict) -> int:
    """A run's test cases: one per asset materialized, one per check of each asset (whatever
    partitions and steps the run covered)."""
    assets = {s["asset"] for s in run["steps"]}
    checks = {(s["asset"], c["name"]) for s in run["steps"] for c in s["checks"]}
    return len(assets) + len(checks)


def annotations(stderr: str) -> list[tuple]:
    """Every workflow-command line on stderr, parsed; other lines must not look like one."""
    found = []
    for line in stderr.splitlines():
        if line.startswith("::"):
            m = ANNOTATION.match(line)
            assert m, f"not a workflow command: {line!r}"
            found.append((m[1], m[2], int(m[3]), unescape(m[4]), unescape(m[5])))
    return found


def unescape(text: str) -> str:
    return (text.replace("%0A", "\n").replace("%0D", "\r").replace("%3A", ":")
            .replace("%2C", ",").replace("%25", "%"))


def asset_line(manifest: Path, asset: str) -> int:
    """The 1-based line of `- name: <asset>` in a manifest."""
    lines = manifest.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.strip() == f"- name: {asset}")


def break_stg_trips(duck, project) -> str:
    """On the materialized example (the test's mark), deliver a duplicated trip: stg_trips
    2026-03-09 fails unique. Returns the duplicated trip id."""
    assert (project / ".duck" / "warehouse.duckdb").exists(), "mark the test materialized"
    append_duplicate_trip(project)
    day = project / "data" / "trips" / "2026-03-09.csv"
    return day.read_text().splitlines()[-1].split(",")[0]


# -- JUnit XML -----------------------------------------------------------------------------


def test_junit_for_a_successful_materialize(duck, tmp_path):
    report = tmp_path / "reports" / "duck.xml"
    run = duck.json("materialize", "--junit-xml", str(report))
    cases = junit(report)
    assert len(cases) == expected_cases(run) == 20  # 7 assets, 13 checks (the example's 9, the forecast's 1, the chart's 3)
    assert {c["status"] for c in cases} == {"passed"}
    names = [c["name"] for c in cases]
    by_name = {c["name"]: c for c in cases}
    assert by_name["materialize stg_trips"]["properties"] == {
        "partitions": "2026-03-01..2026-03-12"}  # the keys are a property, not in the name
    assert "materialize revenue_summary" in names
    assert by_name["materialize revenue_summary"]["properties"] == {}
    assert names.count("check stg_trips.one_row_per_trip") == 1
    assert len(set(names)) == len(names)
    again = tmp_path / "again.xml"
    duck.json("materialize", "--force", "--junit-xml", str(again))
    assert [c["name"] for c in junit(again)] == names  # stable across runs
    assert {c["classname"] for c in cases} == {"stg_trips", "zone_metrics", "daily_revenue",
                                               "regional_revenue", "revenue_summary",
                                               "revenue_forecast", "revenue_chart"}
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite.get("name") == f"duck {run['run_id']}"


@pytest.mark.materialized
def test_junit_for_a_failing_materialize_carries_message_and_sample(duck, project, tmp_path):
    break_stg_trips(duck, project)
    report = tmp_path / "duck.xml"
    run = duck.json("materialize", "--junit-xml", str(report), expect=1)
    cases = junit(report)
    assert len(cases) == expected_cases(run) == 7 + 2  # 7 assets, 2 checks
    step = next(c for c in cases if c["name"] == "materialize stg_trips")
    assert step["status"] == "failed"
    assert step["message"].startswith("check one_row_per_trip failed: unique(trip_id)")
    assert step["properties"] == {"partitions": "2026-03-09", "failed_partitions": "2026-03-09"}
    check = next(c for c in cases if c["name"] == "check stg_trips.one_row_per_trip")
    assert check["status"] == "failed" and "1 duplicate key" in check["message"]
    sample = run["steps"][0]["checks"][1]["sample"][0]
    assert str(sample["trip_id"]) in check["text"] and "duplicate_rows" in check["text"]
    passed = next(c for c in cases if c["name"] == "check stg_trips.trip_id_present")
    assert passed["status"] == "passed"
    skipped = [c for c in cases if c["status"] == "skipped"]
    # 6 skipped steps of 4 assets (regional_revenue's three regions are one test)
    assert len(skipped) == 6 and all(c["message"] == "blocked by stg_trips" for c in skipped)
    regional = next(c for c in skipped if c["name"] == "materialize regional_revenue")
    assert regional["properties"]["skipped_partitions"] == "APAC, EMEA, AMER"


@pytest.mark.materialized
def test_junit_for_a_backfill(duck, tmp_path):
    report = tmp_path / "backfill.xml"
    run = duck.json("backfill", "zone_metrics", "--from", "2026-03-01", "--to", "2026-03-03",
                    "--downstream", "--junit-xml", str(report))
    cases = junit(report)
    assert len(cases) == expected_cases(run)
    steps = [c for c in cases if c["name"].startswith("materialize")]
    assert [(c["name"], c["properties"].get("partitions")) for c in steps] == [
        ("materialize zone_metrics", "2026-03-01..2026-03-03"),
        ("materialize daily_revenue", "2026-03-01..2026-03-03"),
        ("materialize regional_revenue", "APAC, EMEA, AMER"),
        ("materialize revenue_forecast", "2026-03-01..2026-03-04"),
        ("materialize revenue_summary", None),
        ("materialize revenue_chart", "2026-03-01..2026-03-04")]
    assert all(c["status"] == "passed" for c in cases)


@pytest.mark.materialized
def test_junit_for_reconcile_apply(duck, project, tmp_path):
    break_stg_trips(duck, project)
    duck("materialize", expect=1)
    report = tmp_path / "reconcile.xml"
    run = duck.json("reconcile", "--apply", "--retry-failed", "--junit-xml", str(report),
                    expect=1)
    cases = junit(report)
    assert len(cases) == expected_cases(run) >= 3
    assert [c["classname"] for c in cases if c["status"] == "failed"] == ["stg_trips"] * 2


@pytest.mark.materialized
def test_junit_for_check_with_failure_warning_and_sample(duck, project, tmp_path):
    add_checks_on_published_data(project)
    report = tmp_path / "check.xml"
    doc = duck.json("check", "stg_trips", "--partition", "2026-03-09", "--junit-xml",
                    str(report), expect=1)
    cases = junit(report)
    assert len(cases) == len(doc["results"]) == 4
    by_name = {c["name"]: c for c in cases}
    short = by_name["check stg_trips.short_trips"]
    assert short["properties"]["failed_partitions"] == "2026-03-09"
    assert short["status"] == "failed"
    assert short["message"].startswith("accepted_range(distance_km):")
    failing = next(r for r in doc["results"] if r["name"] == "short_trips")
    assert str(failing["sample"][0]["trip_id"]) in short["text"]
    assert len(short["text"].splitlines()) == len(failing["sample"]) == 5
    cheap = by_name["check stg_trips.cheap_trips"]
    assert cheap["status"] == "passed" and cheap["out"].startswith("warning: accepted_range(fare)")
    assert by_name["check stg_trips.one_row_per_trip"]["status"] == "passed"


@pytest.mark.materialized
def test_no_junit_file_unless_asked(duck, project):
    assert not list(project.rglob("*.xml"))


# -- GitHub Actions ------------------------------------------------------------------------


@pytest.mark.materialized
def test_github_annotations_point_at_the_assets_manifest_line(duck, project, monkeypatch):
    trip = break_stg_trips(duck, project)
    monkeypatch.chdir(project)
    result = duck("materialize", "--github", expect=1)
    found = annotations(result.stderr)
    line = asset_line(project / "mobility.yaml", "stg_trips")
    assert found == [
        ("error", "mobility.yaml", line, "duck: materialize stg_trips 2026-03-09",
         f"check one_row_per_trip failed: unique(trip_id): 1 duplicate key, e.g. ({trip})"),
        ("error", "mobility.yaml", line, "duck: check stg_trips.one_row_per_trip 2026-03-09",
         f"unique(trip_id): 1 duplicate key, e.g. ({trip})")]
    assert "::" not in result.stdout


@pytest.mark.materialized
def test_github_paths_are_relative_to_the_working_directory(duck, project, monkeypatch):
    add_checks_on_published_data(project)
    monkeypatch.chdir(project.parent)
    result = duck("check", "stg_trips", "--partition", "2026-03-09", "--github", expect=1)
    found = annotations(result.stderr)
    line = asset_line(project / "mobility.yaml", "stg_trips")
    assert [(lvl, f, n, t) for lvl, f, n, t, _m in found] == [
        ("error", "project/mobility.yaml", line, "duck: check stg_trips.short_trips 2026-03-09"),
        ("warning", "project/mobility.yaml", line, "duck: check stg_trips.cheap_trips 2026-03-09")]
    assert found[0][4].startswith("accepted_range(distance_km): ")


@pytest.mark.materialized
def test_github_actions_env_turns_annotations_on_with_json(duck, project, monkeypatch):
    break_stg_trips(duck, project)
    monkeypatch.chdir(project)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = duck("materialize", "--json", expect=1)
    json.loads(result.stdout)  # stdout stays one JSON document
    assert [a[1] for a in annotations(result.stderr)] == ["mobility.yaml"] * 2


@pytest.mark.materialized
def test_annotations_for_another_manifest_file(duck, project, monkeypatch):
    """A failure in finance.yaml points there, at daily_revenue's line."""
    finance = project / "finance.yaml"
    finance.write_text(finance.read_text().replace(
        "{name: revenue_present, not_null: [revenue]}",
        "{name: revenue_present, not_null: [revenue]}\n"
        "      - {name: small_days, accepted_range: {column: revenue, max: 100}}"))
    monkeypatch.chdir(project)
    result = duck("check", "daily_revenue", "--partition", "2026-03-12", "--github", expect=1)
    (found,) = annotations(result.stderr)
    assert found[:4] == ("error", "finance.yaml", asset_line(finance, "daily_revenue"),
                         "duck: check daily_revenue.small_days 2026-03-12")


@pytest.mark.materialized
def test_no_annotations_without_github(duck, project):
    break_stg_trips(duck, project)
    result = duck("materialize", expect=1)
    assert annotations(result.stderr) == []


@pytest.mark.materialized
def test_step_summary_gets_a_markdown_table(duck, project, tmp_path, monkeypatch):
    break_stg_trips(duck, project)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run = duck.json("materialize", "--github", expect=1)
    text = summary.read_text()
    assert text.startswith("earlier step\n")  # appended, never overwritten
    assert f"### duck run {run['run_id']}: failed" in text
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows[0] == "| | Test | Partitions | Message |" and rows[1] == "|---|---|---|---|"
    assert len(rows) - 2 == 2 + 6  # what did not pass: two failures, six skipped assets
    assert rows[2].startswith("| ❌ | materialize stg_trips | 2026-03-09 | check one_row_per")
    assert rows[3].startswith("| ❌ | check stg_trips.one_row_per_trip | 2026-03-09 |")
    assert not any(r.startswith("| ✅ |") for r in rows)  # passes are counted, not listed
    passes = expected_cases(run) - 8
    assert f"✅ {passes} passed" in text and "❌ 2 failed, ✅" in text and "⏭️ 6 skipped" in text
    assert sum(r.startswith("| ⏭️ |") for r in rows) == 6
    duck("check", "stg_trips", "--partition", "2026-03-01", "--github")
    assert "### duck check" in summary.read_text()


@pytest.mark.parametrize("flag", [[], ["--github"]])
def test_no_step_summary_without_the_variable(duck, project, tmp_path, flag):
    duck("materialize", *flag)
    assert not list(tmp_path.glob("*.md"))


def test_annotation_titles_name_a_few_keys_as_ranges(duck, project, monkeypatch, tmp_path):
    duck("materialize")
    add_checks_on_published_data(project)
    monkeypatch.chdir(project)
    report = tmp_path / "all.xml"
    result = duck("check", "stg_trips", "--github", "--junit-xml", str(report), expect=1)
    titles = [t for _l, _f, _n, t, _m in annotations(result.stderr)]
    assert titles == ["duck: check stg_trips.short_trips 2026-03-01..2026-03-12",
                      "duck: check stg_trips.cheap_trips 2026-03-01..2026-03-12"]
    short = next(c for c in junit(report) if c["name"] == "check stg_trips.short_trips")
    assert short["properties"]["failed_partitions"] == "2026-03-01..2026-03-12"


def test_plan_github_writes_the_plan_to_the_step_summary(duck, project, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    (project / "data" / "trips" / "2026-03-12.csv").unlink()
    duck("plan", "+zone_metrics", "--github")
    text = summary.read_text()
    assert text.startswith("### duck plan: 2 step(s), 22 partition(s)")
    assert "| 1 | stg_trips | 2026-03-01..2026-03-11 | never materialized |" in text
    assert "Held back:" in text and "| zone_metrics | 2026-03-12 | blocked |" in text
    duck("plan", "+zone_metrics")  # without --github (and outside Actions) nothing is added
    assert summary.read_text() == text
