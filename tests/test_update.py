"""A template release reaches a project through `copier update` without losing the user's work.

Two tagged releases of the template in a temporary repository: v0.1.0 (this tree) and v0.2.0
(this tree plus a realistic change: an edited rendered file, a new file, and a renamed question
with its migration). A project rendered from v0.1.0 gets user edits, is committed, and is updated.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from typer.testing import CliRunner

from ml_architect.cli import app

from .conftest import git, render_release, tool

runner = CliRunner()

RENAME_MIGRATION = """
_migrations:
  - version: "0.2.0"
    when: "{{ _stage == 'before' }}"
    command:
      - "{{ _copier_python }}"
      - "{{ _copier_conf.src_path }}/migrations/rename_answers.py"
      - "{{ _copier_conf.answers_file }}"
      - author_name=maintainer_name
"""


def _release_v2(template: Path) -> None:
    """v0.2.0: a changed rendered file, a new file, and author_name renamed to maintainer_name."""
    readme = template / "includes" / "common" / "README.md.jinja"
    text = readme.read_text()
    # A changed line (the title, which the user also changes) and a new troubleshooting entry.
    text = text.replace("\n# {{ project_name }}\n", "\n# {{ project_name }} (ml-architect)\n")
    text = text.replace(
        "## Troubleshooting\n\n",
        "## Troubleshooting\n\n- **Slow first run.** The first import of torch takes a while.\n",
    )
    readme.write_text(text)
    experiments = template / "template" / "docs" / "experiments.md.jinja"
    experiments.write_text(experiments.read_text().replace("## Runs", "## Runs, newest first"))
    (template / "template" / "CONTRIBUTING.md.jinja").write_text(
        "# Contributing to {{ project_name }}\n\nRun `make lint test` before a pull request.\n"
    )
    for path in [template / "copier.yml", *template.glob("template/**/*.jinja")]:
        path.write_text(path.read_text().replace("author_name", "maintainer_name"))
    copier_yml = template / "copier.yml"
    copier_yml.write_text(
        copier_yml.read_text().replace("\n---\n", RENAME_MIGRATION + "\n---\n", 1)
    )
    git(template, "add", "-A")
    git(template, "commit", "--quiet", "-m", "v0.2.0: new title, CONTRIBUTING, maintainer_name")
    git(template, "tag", "v0.2.0")


def _user_edits(project: Path) -> None:
    train = project / "configs" / "train.yaml"
    config = train.read_text()
    assert "  learning_rate: " in config
    lines = [
        "  learning_rate: 3.0e-5  # tuned" if line.startswith("  learning_rate: ") else line
        for line in config.splitlines()
    ]
    train.write_text("\n".join(lines) + "\n")
    (project / "src" / "up_project" / "features.py").write_text(
        '"""Our own feature engineering."""\n\nKEYWORDS = ("refund", "crash")\n'
    )
    readme = project / "README.md"
    text = readme.read_text().replace("# up-project\n", "# up-project: our ticket router\n", 1)
    text = text.replace(
        "## Project layout\n", "## Our team notes\n\nAsk #ml-platform.\n\n## Project layout\n"
    )
    readme.write_text(text)
    experiments = project / "docs" / "experiments.md"
    experiments.write_text(experiments.read_text() + "\n### 2026-11-20: lr 3e-5\n\n- Better F1.\n")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "our tuning, module and notes")


def test_an_update_keeps_user_work_brings_the_release_and_migrates_answers(
    tmp_path: Path, template_repo: Path
) -> None:
    project = render_release(
        template_repo, tmp_path / "project", project_name="up-project", author_name="Ada Lovelace"
    )
    _user_edits(project)
    _release_v2(template_repo)

    # The migration is a command: without --trust the update refuses, saying why.
    refused = runner.invoke(app, ["update", str(project)])
    assert refused.exit_code == 2
    assert "--trust" in refused.stderr and "migrations" in refused.stderr
    assert git(project, "status", "--porcelain") == ""

    outcome = runner.invoke(app, ["update", str(project), "--trust"])
    # Only the README's title was changed on both sides: the one conflict, reported by file.
    assert outcome.exit_code == 1, outcome.output
    assert "Updated with conflicts" in outcome.stderr
    listed = [line.strip() for line in outcome.stderr.splitlines() if line.startswith("  ")]
    assert listed == ["README.md"]

    # Nothing the user changed is lost.
    assert "learning_rate: 3.0e-5  # tuned" in (project / "configs" / "train.yaml").read_text()
    assert "KEYWORDS" in (project / "src" / "up_project" / "features.py").read_text()
    readme = (project / "README.md").read_text()
    assert "## Our team notes\n\nAsk #ml-platform." in readme
    assert "our ticket router" in readme and "(ml-architect)" in readme  # both sides, marked
    # The experiment log is the user's: the release's change to it is not applied.
    experiments = (project / "docs" / "experiments.md").read_text()
    assert "### 2026-11-20: lr 3e-5" in experiments and "newest first" not in experiments
    # The release's changes arrive.
    assert "**Slow first run.**" in readme
    assert (project / "CONTRIBUTING.md").read_text().startswith("# Contributing to up-project")
    # The renamed question keeps the recorded answer.
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v0.2.0"
    assert answers["maintainer_name"] == "Ada Lovelace"
    assert "author_name" not in answers
    assert 'name = "Ada Lovelace"' in (project / "pyproject.toml").read_text()


def test_check_update_tells_the_rendered_ci_about_a_new_release(
    tmp_path: Path, template_repo: Path
) -> None:
    """The rendered CI's template-update job reads this exit status: 2 means a newer release."""
    project = render_release(template_repo, tmp_path / "project", project_name="up-project")
    command = [tool("copier"), "check-update", "--quiet"]
    assert subprocess.run(command, cwd=project, check=False).returncode == 0
    (template_repo / "template" / "CONTRIBUTING.md.jinja").write_text("# Contributing\n")
    git(template_repo, "add", "-A")
    git(template_repo, "commit", "--quiet", "-m", "v0.2.0")
    git(template_repo, "tag", "v0.2.0")
    assert subprocess.run(command, cwd=project, check=False).returncode == 2
