"""The remote platforms' launchers: rendered for each platform and validated with the platform's
own tools, which cannot share this environment (their pins clash with the project's): each gets a
virtual environment of its own, made with uv and kept between runs."""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import (
    TEMPLATE_ROOT,
    assert_ruff_clean,
    assert_suite_passed,
    render,
    run_project_tests,
    tool,
)

SEPARATE = yaml.safe_load((TEMPLATE_ROOT / "includes" / "versions.yml").read_text())[
    "separate_versions"
]["default"]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ml-architect"


def separate_environment(name: str, *requirements: str) -> Path:
    """The Python of a uv venv holding these requirements, made once and kept in CACHE."""
    uv = tool("uv")
    if uv is None:
        pytest.skip("uv is not installed (pip install uv): it makes the tools' environments")
    folder = CACHE / name
    python = folder / "bin" / "python"
    stamp = folder / ".installed"
    if stamp.is_file() and stamp.read_text() == "\n".join(requirements):
        return python
    outcome = subprocess.run(
        [uv, "venv", "--quiet", "--clear", "--python", "3.11", str(folder)],
        capture_output=True,
        text=True,
    )
    if outcome.returncode == 0:
        outcome = subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", str(python), *requirements],
            capture_output=True,
            text=True,
            timeout=1200,
        )
    if outcome.returncode != 0:
        pytest.skip(f"cannot install {' '.join(requirements)}: {outcome.stderr[-1000:]}")
    stamp.write_text("\n".join(requirements))
    return python


@pytest.mark.slow
def test_lambda_task_files_pass_skypilots_schema(copie) -> None:
    # One node of one GPU, and two nodes of two GPUs (the multi-machine accelerate launch).
    projects = [
        render(copie, project_name="ticket-router", gpu="A100-80GB", platform="lambda"),
        render(
            copie,
            project_name="ticket-router",
            task="causal-lm",
            fine_tuning="lora",
            gpu="H100",
            gpu_count=2,
            num_nodes=2,
            distributed="ddp",
            platform="lambda",
        ),
    ]
    for project in projects:
        assert_ruff_clean(project)
        outcome = run_project_tests(project, "tests/test_launch.py")
        assert_suite_passed(outcome)
    skypilot = f"skypilot[lambda]=={SEPARATE['skypilot']}"
    python = separate_environment(f"skypilot-{SEPARATE['skypilot']}", skypilot)
    # Task.from_yaml checks the file against SkyPilot's schema offline (keys, types, resources).
    check = (
        "import sys, sky\n"
        "for path in sys.argv[1:]:\n"
        "    task = sky.Task.from_yaml(path)\n"
        "    print(path, task.num_nodes, sorted(task.resources)[0].accelerators)\n"
    )
    files = [str(project / "configs" / "sky.yaml") for project in projects]
    outcome = subprocess.run(
        [str(python), "-c", check, *files], capture_output=True, text=True, timeout=300
    )
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    assert f"{files[0]} 1 {{'A100-80GB': 1}}" in outcome.stdout
    assert f"{files[1]} 2 {{'H100': 2}}" in outcome.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tracking", "keys"), [("none", ["HF_TOKEN"]), ("wandb", ["HF_TOKEN", "WANDB_API_KEY"])]
)
def test_the_modal_secret_must_hold_what_the_run_reads(
    copie, tracking: str, keys: list[str]
) -> None:
    # W&B logs online from a container only with its key: a secret without it fails the launch
    # at once, not after the model is loaded; the README's `modal secret create` line sets it.
    project = render(
        copie, project_name="ticket-router", gpu="A10G", platform="modal", tracking=tracking
    )
    assert_ruff_clean(project)
    app = ast.parse((project / "src" / "ticket_router" / "modal_train.py").read_text())
    (secret,) = [
        node
        for node in ast.walk(app)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "modal.Secret.from_name"
    ]
    (required,) = [keyword.value for keyword in secret.keywords if keyword.arg == "required_keys"]
    assert ast.literal_eval(required) == keys
    readme = (project / "README.md").read_text()
    (create,) = [
        line
        for line in readme.splitlines()
        if line.startswith("modal secret create ticket-router-secrets")
    ]
    assert all(f"{key}=" in create for key in keys)


def test_a_modal_cluster_renders_and_passes_its_launch_tests(copie) -> None:
    # Two clustered containers of 8 GPUs (a Modal cluster node takes its whole host), FSDP.
    project = render(
        copie,
        project_name="ticket-router",
        task="causal-lm",
        fine_tuning="lora",
        gpu="H100",
        gpu_count=8,
        num_nodes=2,
        distributed="fsdp",
        platform="modal",
    )
    assert_ruff_clean(project)
    app = (project / "src" / "ticket_router" / "modal_train.py").read_text()
    assert "@modal.clustered(size=NODES, rdma=True)" in app
    outcome = run_project_tests(project, "tests/test_launch.py")
    assert_suite_passed(outcome)


@pytest.mark.slow
def test_sagemaker_jobs_are_created_against_motos_aws(copie, versions: dict[str, str]) -> None:
    # One A10G (ml.g5.xlarge), and two ml.p5.48xlarge of 8 H100 (accelerate launch on each).
    projects = [
        render(copie, project_name="ticket-router", gpu="A10G", platform="sagemaker"),
        render(
            copie,
            project_name="customer-support-ticket-routing-and-triage-service",
            task="causal-lm",
            fine_tuning="lora",
            gpu="H100",
            gpu_count=8,
            num_nodes=2,
            distributed="ddp",
            platform="sagemaker",
        ),
    ]
    for project in projects:
        assert_ruff_clean(project)
        outcome = run_project_tests(project, "tests/test_launch.py")
        assert_suite_passed(outcome)
    # The SDK cannot join this environment (it needs rich<15): the job tests run in one of their
    # own, with the SDK, moto, and the pins of what the launcher and the CLI import.
    requirements = [
        f"sagemaker=={SEPARATE['sagemaker']}",
        f"moto[s3]=={SEPARATE['moto']}",
        *(f"{name}=={versions[name]}" for name in PROJECT_CLI_PACKAGES),
    ]
    python = separate_environment(f"sagemaker-{SEPARATE['sagemaker']}", *requirements)
    for project in projects:
        outcome = subprocess.run(
            [str(python), "-m", "pytest", *JOB_TEST_ARGUMENTS],
            cwd=project,
            env={**os.environ, "PYTHONPATH": str(project / "src")},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert_suite_passed(outcome)
        # The file skips itself without the SDK: here every test must have run.
        summary = outcome.stdout.strip().splitlines()[-1]
        assert summary.startswith("4 passed"), outcome.stdout[-3000:]


# The SDK's own DeprecationWarnings (invalid escapes in its docstrings) are not the project's.
JOB_TEST_ARGUMENTS = ["-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"]
JOB_TEST_ARGUMENTS += ["tests/test_sagemaker_job.py"]
# What the rendered CLI and launcher import, besides the SDK (the package itself is on PYTHONPATH).
PROJECT_CLI_PACKAGES = ("pydantic", "pydantic-settings", "pytest", "pyyaml", "typer")
