"""`ml-architect matrix --check`: render variants with plain copier and run their own suites.

Each variant is rendered by the `copier copy` command line from its answer set (the very file a
CI job would pass), into a folder of its own, and its test suite runs with the current Python
(PYTHONPATH=src, offline), so one environment serves every variant. A pool of workers runs
several variants at once; each worker only waits on its two subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import template_root

# A variant's suite trains tiny models on the CPU: a minute is usual, ten is a hang.
SUITE_TIMEOUT_S = 900


@dataclass
class Outcome:
    """What happened to one variant."""

    index: int
    answers: dict[str, Any]
    stage: str  # "passed", or the stage that failed: "render" or "tests"
    render_s: float
    tests_s: float
    output: str

    @property
    def passed(self) -> bool:
        return self.stage == "passed"


def check_variant(
    index: int,
    answers: dict[str, Any],
    *,
    pytest_args: Sequence[str] = (),
    vcs_ref: str | None = "HEAD",
) -> Outcome:
    """Render one variant with copier into a temporary folder and run its suite there."""
    with tempfile.TemporaryDirectory(prefix="ml-architect-matrix-") as scratch:
        data_file = Path(scratch) / "answers.json"
        data_file.write_text(json.dumps(answers))
        project = Path(scratch) / "variant"
        render = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet"]
        render += ["--data-file", str(data_file)]
        render += ["--vcs-ref", vcs_ref] if vcs_ref else []
        started = time.perf_counter()
        rendered = subprocess.run(
            [*render, str(template_root()), str(project)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        render_s = time.perf_counter() - started
        if rendered.returncode != 0:
            return Outcome(
                index, answers, "render", render_s, 0.0, rendered.stdout + rendered.stderr
            )
        # One torch thread per suite: suites run side by side, and more threads than cores make
        # every training step many times slower.
        environment = {
            **os.environ,
            "PYTHONPATH": str(project / "src"),
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
        }
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]
        started = time.perf_counter()
        try:
            tested = subprocess.run(
                command,
                cwd=project,
                env=environment,
                capture_output=True,
                text=True,
                timeout=SUITE_TIMEOUT_S,
            )
            output, passed = tested.stdout + tested.stderr, tested.returncode == 0
        except subprocess.TimeoutExpired as timeout:
            output, passed = f"the suite ran past {SUITE_TIMEOUT_S} s\n{timeout.stdout}", False
        tests_s = time.perf_counter() - started
        return Outcome(index, answers, "passed" if passed else "tests", render_s, tests_s, output)


def check_variants(
    variants: Sequence[dict[str, Any]],
    *,
    jobs: int,
    pytest_args: Sequence[str] = (),
    vcs_ref: str | None = "HEAD",
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Check every variant, `jobs` at a time; `on_outcome` hears of each as it finishes. The
    outcomes come back in the variants' order."""
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        futures = [
            pool.submit(check_variant, index, answers, pytest_args=pytest_args, vcs_ref=vcs_ref)
            for index, answers in enumerate(variants, start=1)
        ]
        outcomes = []
        for future in as_completed(futures):
            outcome = future.result()
            if on_outcome is not None:
                on_outcome(outcome)
            outcomes.append(outcome)
    return sorted(outcomes, key=lambda outcome: outcome.index)
