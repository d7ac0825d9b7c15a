"""The ml-architect command line renders projects and refuses bad input cleanly."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from ml_architect import __version__
from ml_architect.cli import app

runner = CliRunner()
# Render the working tree's HEAD, with defaults for what --data does not answer.
NEW = ["new", "--defaults", "--vcs-ref", "HEAD"]


def test_version() -> None:
    outcome = runner.invoke(app, ["--version"])
    assert outcome.exit_code == 0
    assert outcome.stdout.strip() == f"ml-architect {__version__}"


def test_new_renders_with_defaults_and_data(tmp_path: Path) -> None:
    destination = tmp_path / "router"
    outcome = runner.invoke(
        app,
        [
            *NEW,
            str(destination),
            "--data",
            "project_name=ticket-router",
            "--data",
            "author_name=Ada",
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "ticket-router"
    assert answers["author_name"] == "Ada"
    assert (destination / "src/ticket_router/train.py").is_file()


def test_new_reads_a_data_file(tmp_path: Path) -> None:
    data_file = tmp_path / "answers.yml"
    data_file.write_text("project_name: intent-classifier\npython_version: '3.12'\n")
    destination = tmp_path / "out"
    outcome = runner.invoke(app, [*NEW, str(destination), "--data-file", str(data_file)])
    assert outcome.exit_code == 0, outcome.output
    assert 'requires-python = ">=3.12"' in (destination / "pyproject.toml").read_text()


def test_new_with_an_invalid_answer_names_it_and_writes_nothing(tmp_path: Path) -> None:
    destination = tmp_path / "out"
    outcome = runner.invoke(app, [*NEW, str(destination), "--data", "project_name=a b"])
    assert outcome.exit_code == 2
    assert "project_name" in outcome.stderr
    assert not destination.exists()


def test_new_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    outcome = runner.invoke(app, ["new", str(tmp_path), "--defaults"])
    assert outcome.exit_code == 2
    assert "not empty" in outcome.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


def test_malformed_data_is_a_usage_error(tmp_path: Path) -> None:
    outcome = runner.invoke(app, ["new", str(tmp_path / "x"), "--data", "project_name"])
    assert outcome.exit_code == 2
    assert "QUESTION=VALUE" in outcome.output
