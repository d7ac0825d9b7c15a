#!/usr/bin/env python3
"""Suite-time benchmark: how long each rendered project's own test suite takes on this machine.

    python benchmarks/suite_times.py [--only causal-lm/qlora ...]

Renders every task x fine-tuning strategy of the catalogue (or those named with --only), runs
each project's suite one at a time with the current Python (the suites need the packages of the
versions table installed), and prints each wall time against the 60 s budget and as a ratio to
the default project's suite, timed in the same run (machines differ; the ratio travels better).
Run it on an otherwise idle machine: suites that share cores take several times longer.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 60.0
DEFAULT = ("text-classification", "full")


def variants() -> list[tuple[str, str]]:
    catalogue = yaml.safe_load((ROOT / "includes" / "catalogue.yml").read_text())
    tasks = catalogue["task_catalogue"]["default"]
    strategies = catalogue["strategy_catalogue"]["default"]
    return [(task, strategy) for task in tasks for strategy in strategies]


def suite_seconds(task: str, fine_tuning: str, scratch: Path) -> tuple[float, bool]:
    project = scratch / f"{task}-{fine_tuning}"
    # QLoRA needs a GPU in the answers; the smoke config still trains on the CPU.
    answers = {"project_name": "bench", "task": task, "fine_tuning": fine_tuning, "gpu": "T4"}
    data = [part for name, value in answers.items() for part in ("--data", f"{name}={value}")]
    copier = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD"]
    subprocess.run([*copier, *data, str(ROOT), str(project)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    started = time.perf_counter()
    outcome = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started, outcome.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help="task/strategy pairs to time")
    args = parser.parse_args()
    chosen = variants()
    if args.only:
        chosen = [pair for pair in chosen if "/".join(pair) in args.only]
    with tempfile.TemporaryDirectory() as scratch:
        baseline, _ = suite_seconds(*DEFAULT, Path(scratch))
        print(f"{'/'.join(DEFAULT)} (baseline): {baseline:.1f} s")
        for task, fine_tuning in chosen:
            seconds, passed = suite_seconds(task, fine_tuning, Path(scratch))
            verdict = "within" if seconds <= BUDGET_S else "OVER"
            status = "passed" if passed else "FAILED"
            print(
                f"{task}/{fine_tuning}: {seconds:.1f} s, {seconds / baseline:.2f} x baseline, "
                f"{verdict} the {BUDGET_S:.0f} s budget ({status})"
            )


if __name__ == "__main__":
    main()
