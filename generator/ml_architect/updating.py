"""`ml-architect update`: copier update, guarded and with conflicts reported by file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from copier import run_update
from copier.errors import UnsafeTemplateError

from . import framework

CONFLICT_MARKER = "<<<<<<< before updating"


class UpdateError(Exception):
    """The project cannot be updated as it is; the message says what to do."""


def _git(project: Path, *args: str) -> str:
    outcome = subprocess.run(
        ["git", *args], cwd=project, capture_output=True, text=True, check=False
    )
    if outcome.returncode != 0:
        raise UpdateError(f"{project} is not a git repository: run `git init` and commit first")
    return outcome.stdout


def recommended_again(project: Path, changes: dict[str, object]) -> dict[str, object]:
    """`changes` plus fresh recommendations for the answers the framework computes.

    Copier keeps recorded answers on update; after a change of GPU or model, the recorded
    precision or strategy may no longer be the one the framework would pick.
    """
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    inputs = {
        name: value
        for name, value in recorded.items()
        if not name.startswith("_") and name not in framework.RECOMMENDED_QUESTIONS
    }
    fresh = framework.answer({**inputs, **changes})
    return {**changes, **{name: fresh[name] for name in framework.RECOMMENDED_QUESTIONS}}


def update(
    project: Path,
    answers: dict[str, object],
    vcs_ref: str | None,
    *,
    re_recommend: bool = False,
    trust: bool = False,
) -> list[Path]:
    """Update `project` to the template's newest (or `vcs_ref`) release; return conflicted files.

    `trust` lets the release's migrations run (commands, e.g. renaming recorded answers).
    """
    if not (project / ".copier-answers.yml").is_file():
        raise UpdateError(f"{project} has no .copier-answers.yml: it was not made by the template")
    if re_recommend:
        answers = recommended_again(project, answers)
    dirty = _git(project, "status", "--porcelain")
    if dirty.strip():
        changed = ", ".join(line[3:] for line in dirty.splitlines()[:5])
        raise UpdateError(
            f"{project} has uncommitted changes ({changed}): commit or stash them first, so the "
            "update can be reviewed and undone"
        )
    try:
        run_update(
            str(project),
            data=answers,
            defaults=True,
            overwrite=True,
            conflict="inline",
            vcs_ref=vcs_ref,
            quiet=True,
            unsafe=trust,
        )
    except UnsafeTemplateError:
        raise UpdateError(
            "this template release runs migrations (commands that carry your answers over "
            "renamed questions or moved files; CHANGELOG.md lists them): read them, then "
            "rerun with --trust"
        ) from None
    return conflicted_files(project)


# `git status --porcelain` codes of a path left unmerged.
_UNMERGED = {"DD", "AU", "UD", "UA", "DU", "AA", "UU"}


def conflicted_files(project: Path) -> list[Path]:
    """The files the update left conflicted, as git sees them: unmerged paths, and changed or new
    files that hold copier's conflict markers or are `.rej` leftovers. Only what git reports as
    changed is read, so ignored folders (.venv/, outputs/, checkpoints) are never walked."""
    status = _git(project, "status", "--porcelain", "-z", "--untracked-files=all")
    conflicted = set()
    for entry in filter(None, status.split("\0")):
        code, name = entry[:2], entry[3:]
        path = project / name
        if code in _UNMERGED or name.endswith(".rej"):
            conflicted.add(Path(name))
        elif path.is_file():
            try:
                if CONFLICT_MARKER in path.read_text():
                    conflicted.add(Path(name))
            except UnicodeDecodeError:
                continue
    return sorted(conflicted)


def recorded_version(project: Path) -> str | None:
    """The template version (`_commit`) the project's answers file records."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text()) or {}
    commit = answers.get("_commit")
    return str(commit) if commit is not None else None


def has_changes(project: Path) -> bool:
    """Whether the working tree differs from the last commit (the update changed something)."""
    return bool(_git(project, "status", "--porcelain").strip())
