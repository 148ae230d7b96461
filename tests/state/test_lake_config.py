"""The DuckLake settings of duck.yaml: paths, the catalog from the environment, secrets kept out
of YAML and out of every message (no extension needed: these run on every install)."""

from __future__ import annotations

import pytest

from duck_cli.errors import DuckError
from duck_cli.state.lake_config import attach_sql, config, extensions_needed, redact


def test_a_relative_data_path_is_the_project_folders(tmp_path):
    cfg = config({"catalog": "postgres:service=duck_lake", "data_path": "lake"}, tmp_path)
    assert cfg.data_path == f"{tmp_path}/lake/" and not cfg.remote
    assert cfg.retention == "7 days"
    assert extensions_needed(cfg) == ("ducklake", "postgres")
    assert attach_sql(cfg, read_only=True) == (
        f"ATTACH 'ducklake:postgres:service=duck_lake' AS duck_lake (DATA_PATH '{tmp_path}/lake/', "
        "READ_ONLY)")


def test_object_storage_needs_httpfs_and_plain_libpq_settings_mean_postgres(tmp_path):
    cfg = config({"catalog": "dbname=lake host=db", "data_path": "s3://bucket/duck",
                  "retention": "2 days"}, tmp_path)
    assert cfg.catalog == "postgres:dbname=lake host=db"
    assert cfg.data_path == "s3://bucket/duck/" and cfg.remote and cfg.retention == "2 days"
    assert extensions_needed(cfg) == ("ducklake", "postgres", "httpfs")


def test_the_catalog_may_come_from_the_environment_and_may_then_hold_a_password(tmp_path):
    body = {"catalog": "env:LAKE_CATALOG", "data_path": "lake"}
    cfg = config(body, tmp_path, {"LAKE_CATALOG": "postgres:dbname=x password=s3cret"})
    assert cfg.catalog.endswith("password=s3cret")
    with pytest.raises(DuckError) as err:
        config(body, tmp_path, {})
    assert "LAKE_CATALOG" in err.value.message and "not set" in err.value.message


def test_a_password_in_duck_yaml_is_refused_without_showing_it(tmp_path):
    with pytest.raises(DuckError) as err:
        config({"catalog": "postgres:dbname=x password=hunter2", "data_path": "lake"}, tmp_path)
    assert "holds a password" in err.value.message
    assert "hunter2" not in err.value.message + (err.value.hint or "")


@pytest.mark.parametrize("text, shown", [
    ("host=x password=s3cret dbname=y", "host=x password=*** dbname=y"),
    ("host=x PASSWORD = 's3 cret' dbname=y", "host=x PASSWORD = *** dbname=y"),
    ("postgresql://me:s3cret@db:5432/lake", "postgresql://me:***@db:5432/lake"),
])
def test_messages_never_carry_a_password(text, shown):
    assert redact(text) == shown
