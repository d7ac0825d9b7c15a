#!/usr/bin/env python3
"""Suite-time benchmark: how long each rendered project's own test suite takes on this machine.

    python benchmarks/suite_times.py [--only causal-lm/qlora causal-lm/lora+ddp ...]

Renders every task x fine-tuning strategy of the catalogue, plus each task with DDP and each
tracker on the default task, and runs each project's suite one at a time, as its own CI does:
in a fresh virtual environment that holds exactly the project's pinned dependencies (made with
uv, which the template's test extra pins; torch comes from the CPU wheel in pip's find-links).
The shared environment of the template's tests holds every variant's packages, and importing
those a project does not use (bitsandbytes through peft, say) adds seconds to every process.

Prints each wall time against the 60 s budget and as a ratio to the default project's suite,
timed in the same run (machines differ; the ratio travels better). Run it on an otherwise idle
machine: suites that share cores take several times longer.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 60.0
DEFAULT = "text-classification/full"


def variants() -> dict[str, dict[str, str]]:
    """Variant name -> answers: the task x strategy grid, DDP per task, each tracker."""
    catalogue = yaml.safe_load((ROOT / "includes" / "catalogue.yml").read_text())
    tasks = list(catalogue["task_catalogue"]["default"])
    strategies = list(catalogue["strategy_catalogue"]["default"])
    trackers = [name for name in catalogue["tracking_catalogue"]["default"] if name != "none"]
    chosen = {
        f"{task}/{strategy}": {"task": task, "fine_tuning": strategy}
        for task in tasks
        for strategy in strategies
    }
    for task in tasks:
        # DDP adds a 2-process training run; LoRA is the strategy it is most often paired with.
        chosen[f"{task}/lora+ddp"] = {
            "task": task,
            "fine_tuning": "lora",
            "gpu_count": "2",
            "distributed": "ddp",
        }
    for tracker in trackers:
        chosen[f"{DEFAULT}+{tracker}"] = {"tracking": tracker}
    return chosen


def cpu_torch_wheel() -> str:
    """torch as the CPU wheel from pip's find-links (the index's torch pulls CUDA packages)."""
    folders = os.environ.get("PIP_FIND_LINKS", "").split()
    pip_config = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
        capture_output=True,
        text=True,
    )
    folders += pip_config.stdout.split()
    versions = yaml.safe_load((ROOT / "includes" / "versions.yml").read_text())["versions"][
        "default"
    ]
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    for folder in folders:
        for wheel in sorted(Path(folder).glob(f"torch-{versions['torch']}*-{tag}-*.whl")):
            return str(wheel)
    return f"torch=={versions['torch']}"


def render(name: str, answers: dict[str, str], scratch: Path) -> Path:
    project = scratch / name.replace("/", "-").replace("+", "-")
    # A GPU in the answers (QLoRA and DDP need one); the smoke config still trains on the CPU.
    answers = {"project_name": "bench", "gpu": "T4", **answers}
    data = [part for key, value in answers.items() for part in ("--data", f"{key}={value}")]
    copier = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD"]
    subprocess.run([*copier, *data, str(ROOT), str(project)], check=True, capture_output=True)
    return project


def project_python(project: Path, uv: str, torch: str) -> Path:
    """A fresh environment with the project's pinned dependencies, as its CI installs them."""
    venv = project / ".venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    # Bytecode compiled at install, as pip does: otherwise every process of the suite compiles
    # torch's and transformers' modules again (this machine sets PYTHONDONTWRITEBYTECODE).
    install = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python)]
    subprocess.run([*install, torch, "-e", ".[dev]"], cwd=project, check=True)
    return python


def suite_seconds(project: Path, python: Path) -> tuple[float, bool]:
    started = time.perf_counter()
    outcome = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started, outcome.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help="variant names to time")
    args = parser.parse_args()
    uv = shutil.which("uv")
    if uv is None:
        sys.exit("uv is not installed: pip install -e '.[test]' installs the pinned one")
    chosen = variants()
    if args.only:
        unknown = sorted(set(args.only) - set(chosen))
        if unknown:
            sys.exit(f"--only: unknown variants {unknown}; known: {sorted(chosen)}")
        chosen = {name: chosen[name] for name in args.only}
    torch = cpu_torch_wheel()
    with tempfile.TemporaryDirectory() as scratch:
        baseline_project = render("baseline", {}, Path(scratch))
        baseline, _ = suite_seconds(baseline_project, project_python(baseline_project, uv, torch))
        print(f"{DEFAULT} (baseline): {baseline:.1f} s", flush=True)
        for name, answers in chosen.items():
            project = render(name, answers, Path(scratch))
            seconds, passed = suite_seconds(project, project_python(project, uv, torch))
            verdict = "within" if seconds <= BUDGET_S else "OVER"
            status = "passed" if passed else "FAILED"
            print(
                f"{name}: {seconds:.1f} s, {seconds / baseline:.2f} x baseline, "
                f"{verdict} the {BUDGET_S:.0f} s budget ({status})",
                flush=True,
            )
            shutil.rmtree(project)


if __name__ == "__main__":
    main()
