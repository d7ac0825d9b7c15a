"""The rendered project's own test suite passes: the proof that the project really works."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from .conftest import assert_suite_passed, run_project_tests


@pytest.mark.slow
def test_default_project_passes_its_own_suite(default_project: Path) -> None:
    # As `make test` runs it: the files spread over worker processes (pytest-xdist), which the
    # other rendered suites here skip, as they already run side by side.
    recipe = (default_project / "Makefile").read_text().split("\ntest:", 1)[1].splitlines()[1]
    command = recipe.split()
    assert command[0] == "$(BIN)/pytest" and "-n" in command, recipe
    started = time.monotonic()
    outcome = run_project_tests(default_project, *command[1:])
    elapsed = time.monotonic() - started
    assert_suite_passed(outcome)
    summary = outcome.stdout.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 40, summary
    assert "failed" not in summary and "error" not in summary, summary
    # Reported, not asserted: timing belongs to benchmarks, not to tests.
    print(f"rendered suite: {summary} ({elapsed:.1f} s wall)")
