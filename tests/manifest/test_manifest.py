"""manifest: discovery, YAML with line numbers, readable problems for malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from duck_cli.manifest.read import Map, Seq, discover, line_of, loads, parse_document, read_manifests, value_line


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_discover_sorts_and_skips_settings_dot_folders_and_pycache(tmp_path: Path) -> None:
    write(tmp_path, {"b.yaml": "", "a/z.yml": "", "a/b.yaml": "", "duck.yaml": "", "sub/duck.yaml": "",
                     ".duck/x.yaml": "", ".git/y.yaml": "", "m/.hidden/z.yaml": "", "m/__pycache__/q.yaml": "",
                     "notes.txt": "", "x.yaml.bak": ""})
    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)] == [
        "a/b.yaml", "a/z.yml", "b.yaml", "sub/duck.yaml"]


def test_lines_of_keys_items_and_values() -> None:
    doc = loads("# c\nassets:\n  - name: a\n    checks:\n      - {unique: [x]}\n      - not_null: y\n"
                "    sql: |\n      select 1\n")
    assert isinstance(doc, Map) and isinstance(doc["assets"], Seq)
    assert doc.line == 2 and doc.lines == {"assets": 2}
    assert doc["assets"].lines == [3]
    assert line_of(doc, ["assets", 0, "checks", 1, "not_null"]) == 6
    assert line_of(doc, ["assets", 0, "checks", 0, "unique", 0]) == 5
    assert line_of(doc, ["assets", 0, "checks", 7]) == 4  # nearest known
    assert line_of(doc, []) == 2
    assert value_line(doc, ["assets", 0, "sql"]) == 8
    assert value_line(doc, ["assets", 0, "name"]) == 3


def test_yaml_12_core_scalars() -> None:
    doc = loads("a: 2026-03-01\nb: [NO, yes, on, true, False]\nc: 10:30\nd: 07:00\ne: 1.5\nf: ~\ng: 0x10\n")
    assert doc == {"a": "2026-03-01", "b": ["NO", "yes", "on", True, False], "c": "10:30", "d": "07:00",
                   "e": 1.5, "f": None, "g": 16}


def test_merge_keys_work_and_may_be_overridden() -> None:
    assert loads("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n")["m"] == {"x": 1, "y": 3}


@pytest.mark.parametrize("text, line, phrases", [
    ("assets:\n  - name: a\n    kind: b: c\n", 3, ["YAML syntax error: mapping values are not allowed", "Check the indentation"]),
    ("assets:\n\t- name: a\n", 2, ["YAML syntax error", "tabs"]),
    ("assets: [a, b\n", 1, ["YAML syntax error", "bracket"]),  # where the bracket opened
    ("assets:\n  - name: \"a\n", 2, ["YAML syntax error", "Close the quote"]),
    ("assets: []\nassets: []\n", 2, ["YAML syntax error: duplicate key 'assets'", "remove or rename"]),
    ("assets:\n  - name: a\n name: b\n", 3, ["YAML syntax error"]),
    ("assets: *nope\n", 1, ["YAML syntax error", "anchor"]),
    ("assets: []\n---\nproducts: []\n", 2, ["expected a single document", "remove the extra '---'"]),
    ("assets: !!python/object:os.system x\n", 1, ["could not determine a constructor", "Remove the '!tag'"]),
    ("assets:\n  - source: {path: d/{date}.csv}\n", 2, ["YAML syntax error", 'Quote values that hold braces']),
])
def test_malformed_yaml_is_a_problem_with_line_and_hint(text: str, line: int, phrases: list[str]) -> None:
    doc, problem = parse_document("m.yaml", text.encode())
    assert doc is None and problem.file == "m.yaml" and problem.line == line
    for phrase in phrases:
        assert phrase in problem.render()


@pytest.mark.parametrize("text, phrase", [
    ("- a\n- b\n", "m.yaml:1: the top level is a list, not a mapping"),
    ("just text\n", "the top level is a single value, not a mapping"),
    ("version: 1\n", "the manifest has neither 'assets' nor 'products'"),
    ("asets: []\n", "m.yaml:1: unknown top-level key 'asets'. Did you mean 'assets'?"),
])
def test_top_level_must_be_a_manifest_mapping(text: str, phrase: str) -> None:
    assert phrase in parse_document("m.yaml", text.encode())[1].render()


def test_empty_and_non_utf8_files() -> None:
    assert parse_document("m.yaml", b"") == (None, None)
    assert parse_document("m.yaml", b"# only a comment\n") == (None, None)
    assert "not UTF-8" in parse_document("m.yaml", b"assets: [\xff]\n")[1].message


def test_settings_documents_need_no_assets() -> None:
    doc, problem = parse_document("duck.yaml", b"threads: 4\n", manifest=False)
    assert problem is None and doc == {"threads": 4}


def test_read_manifests_returns_documents_and_problems(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": "assets: []\n", "b.yaml": "assets: [\n", "c.yaml": ""})
    manifests, problems = read_manifests(tmp_path)
    assert [m.file for m in manifests] == ["a.yaml", "b.yaml", "c.yaml"]
    assert manifests[0].doc == {"assets": []} and manifests[1].doc is None and manifests[2].doc is None
    assert [p.file for p in problems] == ["b.yaml"]


@pytest.mark.parametrize("anchor", ["", "&top "])
def test_nesting_limit_is_the_same_with_and_without_anchors(anchor: str) -> None:
    """Without an anchor the constructors count the depth (no alias can expand the document);
    with one, the whole document is sized first: the same limit either way."""
    from duck_cli.manifest.read import MAX_DEPTH

    def nested(levels: int) -> str:  # the top mapping, then lists down to a scalar
        return f"a: {anchor}" + "[" * (levels - 2) + "1" + "]" * (levels - 2) + "\n"

    assert loads(nested(MAX_DEPTH))["a"]
    for text in (nested(MAX_DEPTH + 1), "k:\n  " + nested(MAX_DEPTH)):
        doc, problem = parse_document("m.yaml", text.encode(), manifest=False)
        assert doc is None and "nested more than 64 levels deep" in problem.message
        assert problem.line == text.count("\n")
