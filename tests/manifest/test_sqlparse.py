"""sqlparse: DuckDB's parser finds the tables read, a canonical form, and syntax errors."""

from __future__ import annotations

import pytest

from duck_cli.errors import DuckError
from duck_cli.manifest.sqlparse import SqlSyntaxError, parse_select, position_to_line_column


@pytest.mark.parametrize("sql, tables", [
    ("select * from a", ("a",)),
    ("select * from a join s.b using (k) left join c on a.k = c.k", ("a", "s.b", "c")),
    ("select * from (select * from inner_t) q", ("inner_t",)),
    ("select * from a where k in (select k from b) and exists (select 1 from c)", ("a", "b", "c")),
    ("with t as (select * from raw) select * from t join u using (k)", ("raw", "u")),
    ("with t as (select 1) select * from a union all select * from b except select * from t", ("a", "b")),
    ("with recursive r as (select 1 as n union all select n + 1 from r where n < 3) select * from r", ()),
    ("select * from read_csv('x.csv')", ()),
    ("select * from A join a using (k)", ("A",)),
    ("from cat.sch.tbl", ("cat.sch.tbl",)),
    ("select (select max(x) from m) as top from n", ("n", "m")),
])
def test_tables_read(sql: str, tables: tuple[str, ...]) -> None:
    assert set(parse_select(sql).tables) == set(tables)
    assert len(parse_select(sql).tables) == len(tables)


def test_partition_parameters_parse() -> None:
    parsed = parse_select("select * from t where d >= $partition_start and d < $partition_end "
                          "and k = $partition_key")
    assert parsed.parameters == ("partition_end", "partition_key", "partition_start")
    assert parsed.tables == ("t",)


def test_normalized_ignores_whitespace_comments_and_keyword_case() -> None:
    one = parse_select("select x, y from t where x > 1")
    two = parse_select("SELECT  x,\n  y -- why\nFROM t /* c */ WHERE x > 1;")
    assert one.normalized == two.normalized
    assert "query_location" not in one.normalized
    assert parse_select("select x, y from t where x > 2").normalized != one.normalized


def test_syntax_errors_carry_line_and_column() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse_select("select 1\nfrom t\nwhere )")
    err = caught.value
    assert isinstance(err, DuckError)
    assert (err.line, err.column) == (3, 7) and 'syntax error at or near ")"' in err.message


@pytest.mark.parametrize("sql", ["create table x as select 1", "insert into t values (1)", "select 1; select 2",
                                 "", "-- nothing"])
def test_only_one_select(sql: str) -> None:
    with pytest.raises(SqlSyntaxError, match="a materialization is one SELECT statement"):
        parse_select(sql)


def test_positions_are_byte_offsets() -> None:
    sql = "select 'é€' from x where )"  # DuckDB 2 reports a byte offset, 1.5 a character one
    with pytest.raises(SqlSyntaxError) as caught:
        parse_select(sql)
    assert caught.value.column == sql.rindex(")") + 1
    assert position_to_line_column("a\nbc", 3) == (2, 2)


@pytest.mark.parametrize("sql", [
    "select * from a join b using (x) where y in (select y from c) union select * from main.d",
    "select (select max(x) from e) as m from f, lateral (select * from g) z",
    "with t as (select * from a) select * from t, b",
    "select * from b, (with a as (select 1) select * from a, c) s",
    "select * from a at (version => 3), B, b",
])
def test_tables_read_without_ctes_match_the_full_walk(sql: str) -> None:
    """The tables collected while decoding (no WITH) are the full tree walk's, in its order."""
    import json

    from duck_cli.manifest.sqlparse import _base_tables, _connection, _dedupe, without_locations

    text = _connection().execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0]
    tree = json.loads(without_locations(text))["statements"][0]
    assert parse_select(sql).tables == _dedupe(_base_tables(tree, frozenset(), []))


def test_many_texts_parse_in_one_call_to_the_same_trees_in_their_order():
    """Thousands of texts parsed in one call: each text still maps to its own parse (the one
    a call of its own gives), errors included."""
    from duck_cli.manifest import sqlparse

    texts = [f"SELECT {i} AS n, x FROM t{i % 7} WHERE y > {i}" for i in range(2500)]
    texts += ["SELECT FROM WHERE", texts[3]]  # a syntax error, and a repeat
    many = sqlparse.serialize_many(texts)
    assert len(many) == 2501
    for text in (texts[0], texts[1234], texts[2499], "SELECT FROM WHERE"):
        one = sqlparse._connection().execute("SELECT json_serialize_sql(?)", [text]).fetchone()
        assert many[text] == one[0]
    assert sqlparse.parse_select(texts[1234], many).tables == ("t2",)


def test_parses_started_in_the_background_give_every_text_its_own_tree():
    """Validation hands each file's SQL to `Parses` as it goes (a batch parses on a thread
    while the next files are built); the result holds each text's parse, as one call gives."""
    from duck_cli.manifest import sqlparse

    texts = [f"SELECT {i} AS n FROM t{i}" for i in range(1500)]
    parses = sqlparse.Parses()
    parses.add(texts[:1200])  # a full batch: starts on the thread
    parses.add(texts[1200:])  # pending until `result`
    got = parses.result(["SELECT 1 FROM late", texts[5]])
    import os

    assert len(parses.futures) == (1 if (os.cpu_count() or 1) > 1 else 0)  # one core: no thread
    assert len(got) == 1501
    assert got == sqlparse.serialize_many(texts + ["SELECT 1 FROM late"])
