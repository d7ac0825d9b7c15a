"""Fixtures of the template's test suite: renders of the template at the checked-out HEAD."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from copier import run_copy

from ml_architect.versions import load_versions

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]

# The answers of the default variant, with a project name of its own (the default name comes from
# the destination folder, which pytest-copie calls copie000).
DEFAULT_ANSWERS = {"project_name": "ticket-router"}


def render(copie, **answers: object) -> Path:
    """Render the template with these answers (defaults for the rest); fail on any error."""
    result = copie.copy(extra_answers=answers, template_dir=TEMPLATE_ROOT, vcs_ref="HEAD")
    assert result.exit_code == 0, result.exception
    assert result.project_dir is not None
    return result.project_dir


def tool(name: str) -> str | None:
    """A command installed with this environment's packages, even when it is not activated."""
    search = [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    return shutil.which(name, path=os.pathsep.join(search))


def assert_ruff_clean(project: Path) -> None:
    """The rendered project passes ruff's lint and format check, as its own CI would require."""
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        outcome = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=project, capture_output=True, text=True
        )
        assert outcome.returncode == 0, outcome.stdout + outcome.stderr


def assert_suite_passed(outcome: subprocess.CompletedProcess[str]) -> None:
    """A rendered project's suite passed; otherwise show the end of what it printed."""
    assert outcome.returncode == 0, outcome.stdout[-6000:] + outcome.stderr[-3000:]


def run_project_tests(project: Path, *pytest_args: str) -> subprocess.CompletedProcess[str]:
    """Run a rendered project's own suite in this environment (shared by every variant)."""
    # One torch thread per suite: the suites run side by side (pytest-xdist), and more threads
    # than cores make every training step many times slower.
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=600
    )


def git(cwd: Path, *args: str) -> str:
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    outcome = subprocess.run(
        ["git", *identity, *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return outcome.stdout


def snapshot_template(destination: Path, tag: str) -> Path:
    """The working tree's template files, committed and tagged in a repository of their own."""
    listed = git(TEMPLATE_ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for name in filter(None, listed.split("\0")):
        source = TEMPLATE_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git(destination, "init", "--quiet")
    git(destination, "add", "-A")
    git(destination, "commit", "--quiet", "-m", f"template {tag}")
    git(destination, "tag", tag)
    return destination


def render_release(template: Path, project: Path, **answers: object) -> Path:
    """Render the template repository's newest tag into `project` and commit it, as a user's
    project starts out before `copier update`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_copy(str(template), str(project), data=answers, defaults=True, quiet=True)
    git(project, "init", "--quiet")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "start")
    return project


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    """A committed, tagged (v0.1.0) copy of the template, as users' copier sees a release."""
    return snapshot_template(tmp_path / "template-repo", "v0.1.0")


@pytest.fixture(scope="session")
def versions() -> dict[str, str]:
    return load_versions()


@pytest.fixture(scope="session")
def default_project(copie_session) -> Path:
    return render(copie_session, **DEFAULT_ANSWERS)
