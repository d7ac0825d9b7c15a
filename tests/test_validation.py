"""Unusable answers are refused with a message naming the question, and nothing is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TEMPLATE_ROOT

INVALID_ANSWERS = [
    ({"project_name": ""}, "project_name", "is empty"),
    ({"project_name": "   "}, "project_name", "is empty"),
    ({"project_name": "ml/project"}, "project_name", "path separator"),
    ({"project_name": "..\\evil"}, "project_name", "path separator"),
    ({"project_name": "my project"}, "project_name", "letters, digits and single hyphens"),
    ({"project_name": "2fast"}, "project_name", "starting with a letter"),
    ({"project_name": "tool-"}, "project_name", "ending with a letter or digit"),
    ({"project_name": "my--tool"}, "project_name", "double hyphen"),
    ({"project_name": "a" + "-long" * 10}, "project_name", "keep it within 50"),
    ({"package_name": "Ticket-Router"}, "package_name", "not a valid Python package name"),
    ({"package_name": "9lives"}, "package_name", "not a valid Python package name"),
    ({"package_name": "class"}, "package_name", "Python keyword"),
    ({"package_name": "torch"}, "package_name", "taken by Python itself or by a dependency"),
    ({"author_email": "nobody"}, "author_email", "not an e-mail address"),
    ({"base_model": "not a model id"}, "base_model", "not a Hugging Face hub id"),
    ({"python_version": "3.9"}, "python_version", ""),
    ({"task": "telepathy"}, "task", ""),
    ({"base_model": "acme/x", "params_b": 1, "vocab_size": -1}, "vocab_size", "or 0 to guess"),
    ({"base_model": "acme/x", "params_b": 1, "hidden_size": 10**6}, "hidden_size", "config.json"),
]


@pytest.mark.parametrize(("answers", "question", "reason"), INVALID_ANSWERS)
def test_invalid_answer_is_refused_naming_the_question(copie, answers, question, reason) -> None:
    result = copie.copy(
        extra_answers={"project_name": "ok-name", **answers},
        template_dir=TEMPLATE_ROOT,
        vcs_ref="HEAD",
    )
    assert result.exit_code != 0
    message = str(result.exception)
    assert question in message
    assert reason in message
    # pytest-copie makes the destination folder beforehand; copier must leave it empty.
    assert not any(path for path in copie.test_dir.rglob("*") if path.is_file())


COPIER_COPY = [sys.executable, "-m", "copier", "copy", "--defaults", "--vcs-ref", "HEAD"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [("project_name=a/b", "path separator"), ("package_name=import", "Python keyword")],
)
def test_copier_command_line_refuses_and_creates_nothing(
    tmp_path: Path, answer: str, reason: str
) -> None:
    destination = tmp_path / "new-project"
    outcome = subprocess.run(
        [*COPIER_COPY, "-d", "project_name=ok-name", "-d", answer, TEMPLATE_ROOT, destination],
        capture_output=True,
        text=True,
    )
    assert outcome.returncode != 0
    assert answer.split("=")[0] in outcome.stderr
    assert reason in outcome.stderr
    assert not destination.exists()
