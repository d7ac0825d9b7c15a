"""Rendered projects install with pip and with uv, next to torch at the table's version."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import render, tool

PIP_DRY_RUN = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-"]


def test_pip_finds_every_pin_already_satisfied_in_the_shared_environment(
    default_project: Path,
) -> None:
    # The test environment holds the whole versions table; pip's resolver accepting the project
    # with nothing to add but itself shows that the pins agree with each other and with the table.
    outcome = subprocess.run(
        [*PIP_DRY_RUN, "--editable", f"{default_project}[dev]"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    report = json.loads(outcome.stdout)
    to_install = [item["metadata"]["name"] for item in report["install"]]
    assert to_install == ["ticket-router"]


@pytest.mark.parametrize("python_version", ["3.11", "3.12", "3.13"])
def test_uv_resolves_the_pins(copie, python_version: str, versions: dict[str, str]) -> None:
    uv = tool("uv")
    if uv is None:
        pytest.skip("uv is not installed (pip install uv)")
    project = render(copie, project_name="ticket-router", python_version=python_version)
    outcome = subprocess.run(
        [
            uv,
            "pip",
            "compile",
            "pyproject.toml",
            "--extra",
            "dev",
            "--quiet",
            "--no-header",
            "--no-annotate",
            "--python-version",
            python_version,
            # [tool.uv.sources] sends torch to PyTorch's own index, for `make lock`; here the
            # pins must resolve together from the package index that pip installs from.
            "--no-sources",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    resolved = dict(line.split("==", 1) for line in outcome.stdout.splitlines() if "==" in line)
    assert resolved["torch"].split("+")[0] == versions["torch"]
    assert resolved["transformers"] == versions["transformers"]
