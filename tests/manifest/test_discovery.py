"""Which YAML files are manifests: duck.yaml's `paths:` and `ignore:`, and the compose and
dot-files that live beside projects, never read as manifests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import example_copy, invoke

COMPOSE = "version: '3'\nservices:\n  db: {image: postgres}\n"
K8S = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: duck}\n"


def validate(root: Path):
    result = invoke(root, "validate", "--json")
    return result.exit_code, json.loads(result.stdout)


def settings(root: Path, text: str) -> None:
    path = root / "duck.yaml"
    path.write_text(path.read_text() + text if path.exists() else text)


@pytest.fixture
def beside(project) -> Path:
    """The example project with a compose file, a CI file and a Kubernetes manifest in it."""
    (project / "docker-compose.yml").write_text(COMPOSE)
    (project / ".gitlab-ci.yml").write_text("stages: [test]\n")
    (project / "deploy").mkdir()
    (project / "deploy" / "k8s.yaml").write_text(K8S)
    return project


def test_compose_and_dot_files_are_never_manifests_and_others_say_how_to_ignore(beside):
    code, doc = validate(beside)
    assert code == 2
    (problem,) = doc["problems"]
    assert problem["file"] == "deploy/k8s.yaml"
    assert "ignore: [deploy/k8s.yaml]" in problem["text"] and "'paths:'" in problem["text"]


def test_ignore_globs_leave_files_and_folders_out(beside):
    settings(beside, "ignore: ['deploy/**']\n")
    code, doc = validate(beside)
    assert code == 0 and doc["assets"] == 9
    assert invoke(beside, "materialize", "stg_trips").exit_code == 0


def test_paths_limit_where_manifests_are_read(tmp_path):
    root = tmp_path / "repo"
    example_copy(root / "pipelines")
    shutil.move(root / "pipelines" / "duck.yaml", root / "duck.yaml")
    (root / "duck.yaml").write_text((root / "duck.yaml").read_text() + "paths: [pipelines]\n")
    (root / "config").mkdir()
    (root / "config" / "app.yaml").write_text("log_level: info\n")
    (root / "k8s.yaml").write_text(K8S)
    code, doc = validate(root)
    assert code == 0 and doc["assets"] == 9, doc


@pytest.mark.parametrize("text, phrase", [
    ("paths: [nowhere]\n", "'paths' names 'nowhere', which is not a folder in the project"),
    ("paths: ['../outside']\n", "'paths' must be a list of folders inside the project"),
    ("paths: models\n", "'paths' must be a list of folders inside the project"),
    ("ignore: [1]\n", "'ignore' must be a list of globs"),
])
def test_bad_paths_and_ignore_are_clear_errors(project, text, phrase):
    settings(project, text)
    code, doc = validate(project)
    assert code == 2 and doc["problems"][0]["file"] == "duck.yaml"
    assert phrase in doc["problems"][0]["text"]
