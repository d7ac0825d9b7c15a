"""Other answers than the defaults: each renders clean, and each base model's project works."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import (
    TEMPLATE_ROOT,
    assert_ruff_clean,
    assert_suite_passed,
    render,
    run_project_tests,
)

VERSIONS = yaml.safe_load((TEMPLATE_ROOT / "includes" / "versions.yml").read_text())["versions"][
    "default"
]
CATALOGUE = yaml.safe_load((TEMPLATE_ROOT / "includes" / "catalogue.yml").read_text())
MODELS = CATALOGUE["model_catalogue"]["default"]
TASKS = CATALOGUE["task_catalogue"]["default"]
# Each task's default model is tested by tests/test_tasks.py. The smoke config builds its tiny
# model by architecture (model_type), so one model of each other architecture in a task's
# catalogue stands for the rest.
ARCHITECTURES: dict[tuple[str, str], str] = {}
for _name, _facts in MODELS.items():
    for _task in _facts["tasks"]:
        if _facts["model_type"] != MODELS[TASKS[_task]["default_model"]]["model_type"]:
            ARCHITECTURES.setdefault((_task, _facts["model_type"]), _name)


@pytest.mark.parametrize("python_version", ["3.11", "3.12", "3.13"])
def test_each_python_version_renders_clean(copie, python_version: str) -> None:
    project = render(copie, project_name="ticket-router", python_version=python_version)
    assert_ruff_clean(project)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={python_version}"
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{python_version.replace('.', '')}"
    assert f"ARG PYTHON_VERSION={python_version}" in (project / "Dockerfile").read_text()


def test_free_text_answers_with_quotes_render_valid_code(copie) -> None:
    project = render(
        copie,
        project_name="ticket-router",
        description='Routes "urgent" tickets; it\'s fast \\ reliable — ünïcode too.',
        author_name='Ada "the Countess" O\'Brien',
    )
    assert_ruff_clean(project)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"].startswith('Routes "urgent" tickets')
    assert pyproject["project"]["authors"][0]["name"] == 'Ada "the Countess" O\'Brien'


def test_a_custom_package_name_is_used_throughout(copie) -> None:
    project = render(copie, project_name="ticket-router", package_name="routing")
    assert (project / "src" / "routing" / "cli.py").is_file()
    assert not (project / "src" / "ticket_router").exists()
    scripts = tomllib.loads((project / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"ticket-router": "routing.cli:main"}
    assert_ruff_clean(project)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "base_model"),
    [(task, model) for (task, _), model in ARCHITECTURES.items()],
    ids=[f"{task}-{model_type}" for task, model_type in ARCHITECTURES],
)
def test_each_catalogue_architecture_renders_a_working_project(
    copie, task: str, base_model: str
) -> None:
    # A GPU every catalogue model fits on (a 7B model fits nowhere on the default cpu); the
    # smoke config still trains a tiny model on the CPU.
    answers: dict[str, object] = {"task": task, "base_model": base_model, "gpu": "A100-80GB"}
    if MODELS[base_model].get("architecture") == "cnn":
        # A CNN's graph (convolutions, channels-first norms) exports through other ops than the
        # transformers' that test_onnx_target_exports_and_serves_with_parity checks: its ONNX
        # parity tests run in this same suite.
        answers["deploy_targets"] = ["fastapi-docker", "onnx"]
    project = render(copie, project_name="ticket-router", **answers)
    smoke = yaml.safe_load((project / "configs" / "smoke.yaml").read_text())
    assert smoke["model"]["tiny"]["model_type"] == MODELS[base_model]["model_type"]
    assert_ruff_clean(project)
    outcome = run_project_tests(project)
    assert_suite_passed(outcome)


def test_a_model_outside_the_catalogue_smoke_tests_with_the_task_architecture(copie) -> None:
    project = render(copie, project_name="ticket-router", base_model="my-org/my-encoder")
    train = yaml.safe_load((project / "configs" / "train.yaml").read_text())
    smoke = yaml.safe_load((project / "configs" / "smoke.yaml").read_text())
    assert train["model"]["base_model"] == "my-org/my-encoder"
    assert smoke["model"]["tiny"]["model_type"] == "distilbert"


STRATEGIES = {
    "full": {"packages": set(), "files": set()},
    "lora": {"packages": {"peft"}, "files": {"adapters.py", "test_adapters.py"}},
    "qlora": {"packages": {"peft", "bitsandbytes"}, "files": {"adapters.py", "test_adapters.py"}},
}


def _strategy_answers(fine_tuning: str) -> dict[str, str]:
    # QLoRA needs a GPU in the answers; the rendered smoke config still trains on the CPU.
    return {"project_name": "ticket-router", "fine_tuning": fine_tuning, "gpu": "T4"}


@pytest.mark.parametrize("fine_tuning", STRATEGIES)
def test_each_strategy_renders_its_own_files_and_pins(copie, fine_tuning: str) -> None:
    project = render(copie, **_strategy_answers(fine_tuning))
    assert_ruff_clean(project)
    names = {path.name for path in project.rglob("*.py")}
    for strategy, facts in STRATEGIES.items():
        if strategy != fine_tuning:
            extra = facts["files"] - STRATEGIES[fine_tuning]["files"]
            assert not extra & names, f"{fine_tuning} renders {extra & names}"
    assert STRATEGIES[fine_tuning]["files"] <= names
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    installed = {requirement.split("==")[0] for requirement in dependencies}
    all_strategy_packages = {"peft", "bitsandbytes"}
    assert installed & all_strategy_packages == STRATEGIES[fine_tuning]["packages"]
    train = yaml.safe_load((project / "configs" / "train.yaml").read_text())
    assert ("lora" in train["model"]) == (fine_tuning != "full")
    assert ("quantization" in train["model"]) == (fine_tuning == "qlora")
    source = (project / "src" / "ticket_router" / "model.py").read_text()
    assert ("BitsAndBytes" in source or "quantization_config" in source) == (fine_tuning == "qlora")


ALL_TARGETS = ["fastapi-docker", "kubernetes", "modal", "hf-endpoints", "onnx"]
GENERATIVE_TARGETS = ["fastapi-docker", "kubernetes", "modal", "hf-endpoints"]


@pytest.mark.parametrize(
    "answers",
    [
        {"fine_tuning": "full", "gpu": "T4"},
        {"fine_tuning": "qlora", "gpu": "T4"},
        # Every platform, every deploy target, every task and the distributed tests: each puts
        # the project or package name into imports, commands and docstrings of its own.
        {"task": "text-classification", "platform": "local", "deploy_targets": ALL_TARGETS},
        {
            "task": "token-classification",
            "platform": "lambda",
            "gpu": "A100-80GB",
            "num_nodes": 2,
            "deploy_targets": ALL_TARGETS,
        },
        {"task": "image-classification", "platform": "modal", "gpu": "A10G"},
        {"task": "seq2seq", "platform": "sagemaker", "gpu": "A10G", "fine_tuning": "lora"},
        {
            "task": "causal-lm",
            "platform": "local",
            "gpu": "A10G",
            "fine_tuning": "qlora",
            "deploy_targets": GENERATIVE_TARGETS,
        },
        {"task": "causal-lm", "platform": "modal", "gpu": "H100", "gpu_count": 8, "num_nodes": 2},
    ],
    ids=lambda answers: "-".join(
        str(value) for value in answers.values() if not isinstance(value, list)
    ),
)
def test_a_long_package_name_still_renders_clean(copie, answers: dict[str, object]) -> None:
    # Import lines, commands and names grow with the project's name; they must lint and format
    # the same at any length.
    project = render(
        copie,
        project_name="customer-support-ticket-routing-and-triage-service",  # 50, the limit
        **answers,
    )
    assert_ruff_clean(project)


TRACKERS = [name for name in CATALOGUE["tracking_catalogue"]["default"] if name != "none"]


@pytest.mark.parametrize("tracking", TRACKERS)
def test_each_tracker_renders_its_module_config_and_pin(copie, tracking: str) -> None:
    project = render(copie, project_name="ticket-router", tracking=tracking)
    assert_ruff_clean(project)
    assert (project / "src" / "ticket_router" / "tracking.py").is_file()
    assert (project / "tests" / "test_tracking.py").is_file()
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    packages = CATALOGUE["tracking_catalogue"]["default"][tracking]["packages"]
    installed = {requirement.split("==")[0] for requirement in dependencies}
    assert set(packages) <= installed
    for other in TRACKERS:
        if other != tracking:
            extra = set(CATALOGUE["tracking_catalogue"]["default"][other]["packages"])
            assert not extra & installed, f"{tracking} pins {extra & installed}"
    for config in ("train.yaml", "smoke.yaml"):
        assert "tracking" in yaml.safe_load((project / "configs" / config).read_text())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tracking", "fine_tuning"),
    # Full fine-tuning scores with the training Trainer; LoRA scores the saved, merged model
    # apart, and hands those scores to the tracker itself.
    [*((tracking, "full") for tracking in TRACKERS), ("mlflow", "lora"), ("tensorboard", "lora")],
)
def test_each_tracker_records_the_training_run(copie, tracking: str, fine_tuning: str) -> None:
    project = render(
        copie, project_name="ticket-router", tracking=tracking, fine_tuning=fine_tuning
    )
    outcome = run_project_tests(project, "tests/test_tracking.py", "tests/test_settings.py")
    assert_suite_passed(outcome)
    assert "passed" in outcome.stdout and "skipped" not in outcome.stdout


@pytest.mark.parametrize("distributed", ["ddp", "fsdp"])
def test_each_distribution_renders_its_launch_config(copie, distributed: str) -> None:
    project = render(
        copie, project_name="ticket-router", gpu="L4", gpu_count=4, distributed=distributed
    )
    assert_ruff_clean(project)
    launch = yaml.safe_load((project / "configs" / "accelerate.yaml").read_text())
    assert launch["num_processes"] == 4
    if distributed == "fsdp":
        assert launch["distributed_type"] == "FSDP"
        assert launch["fsdp_config"]["fsdp_version"] == 2
        # FSDP checkpoints activations itself; the Trainer's switch must stay off.
        train = yaml.safe_load((project / "configs" / "train.yaml").read_text())
        assert train["training"]["gradient_checkpointing"] is False
    else:
        assert launch["distributed_type"] == "MULTI_GPU"
    assert (
        "accelerate launch --config_file configs/accelerate.yaml"
        in (project / "Makefile").read_text()
    )


def test_several_nodes_render_the_multi_machine_launch(copie) -> None:
    project = render(
        copie,
        project_name="ticket-router",
        gpu="L4",
        gpu_count=2,
        num_nodes=2,
        distributed="ddp",
        platform="local",
    )
    assert_ruff_clean(project)
    launch = yaml.safe_load((project / "configs" / "accelerate.yaml").read_text())
    assert (launch["num_machines"], launch["num_processes"]) == (2, 4)
    readme = (project / "README.md").read_text()
    assert "launch --machine-rank 1 --main-process-ip 10.0.0.1" in readme
    outcome = run_project_tests(project, "tests/test_launch.py")
    assert_suite_passed(outcome)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "fine_tuning", "tracking"),
    [
        ("text-classification", "full", "none"),
        # Adapters: one process rewrites the saved model for serving and saves the tiny base.
        ("text-classification", "qlora", "mlflow"),
        ("seq2seq", "lora", "tensorboard"),
    ],
)
def test_ddp_trains_on_two_cpu_processes_in_the_rendered_suite(
    copie, task: str, fine_tuning: str, tracking: str
) -> None:
    project = render(
        copie,
        project_name="ticket-router",
        task=task,
        fine_tuning=fine_tuning,
        tracking=tracking,
        gpu="L4",
        gpu_count=2,
        distributed="ddp",
    )
    suite = project / "tests" / "test_distributed.py"
    outcome = run_project_tests(project, "tests/test_distributed.py")
    assert_suite_passed(outcome)
    # Every test of the file ran (adapters add the merge-order one), none was skipped.
    tests = suite.read_text().count("\ndef test_")
    assert f"{tests} passed" in outcome.stdout
    assert "skipped" not in outcome.stdout


def test_deploy_targets_render_only_their_own_files(copie, default_project: Path) -> None:
    # The default answer (fastapi-docker) renders no deploy folder, module, test or extra.
    assert not (default_project / "deploy").exists()
    assert not (default_project / "src" / "ticket_router" / "deploy").exists()
    assert "deploy" not in (default_project / "Makefile").read_text()
    # Every managed target on CPU: its files, pins and settings sized for CPU serving.
    project = render(
        copie,
        project_name="ticket-router",
        gpu="cpu",
        deploy_targets=["fastapi-docker", "kubernetes", "modal", "hf-endpoints"],
    )
    assert_ruff_clean(project)
    assert (project / "deploy" / "kubernetes" / "overlays" / "canary").is_dir()
    assert (project / "deploy" / "hf-endpoints" / "handler.py").is_file()
    assert (project / "src" / "ticket_router" / "deploy" / "modal_app.py").is_file()
    deployment = yaml.safe_load(
        (project / "deploy" / "kubernetes" / "base" / "deployment.yaml").read_text()
    )
    limits = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert "nvidia.com/gpu" not in limits
    train = yaml.safe_load((project / "configs" / "train.yaml").read_text())
    assert train["deploy"]["modal"]["gpu"] is None
    assert train["deploy"]["hf_endpoints"]["accelerator"] == "cpu"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert any(pin.startswith("modal==") for pin in pyproject["optional-dependencies"]["modal"])
    assert any(
        pin.startswith("kubernetes-validate==") for pin in pyproject["optional-dependencies"]["dev"]
    )
    makefile = (project / "Makefile").read_text()
    assert {"deploy-k8s:", "deploy-modal:", "deploy-hf:"} <= set(makefile.split())
    architecture = (project / "docs" / "architecture.md").read_text()
    assert "## Deployment" in architecture and "USD per hour" in architecture


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "fine_tuning"),
    [("token-classification", "lora"), ("image-classification", "full")],
)
def test_onnx_target_exports_and_serves_with_parity(copie, task: str, fine_tuning: str) -> None:
    # Two task families; LoRA's unmerged-adapter path meets the export's merge on the way.
    project = render(
        copie,
        project_name="ticket-router",
        task=task,
        fine_tuning=fine_tuning,
        deploy_targets=["fastapi-docker", "onnx"],
    )
    assert_ruff_clean(project)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert "onnxruntime==" + VERSIONS["onnxruntime"] in pyproject["project"]["dependencies"]
    # The ONNX target's benchmarks/ joins every task's.
    benchmarks = {path.name for path in (project / "benchmarks").iterdir()}
    assert benchmarks == {"train_speed.py", "onnx_speed.py"}
    assert (project / "tests" / "test_onnx.py").is_file()
    assert_suite_passed(run_project_tests(project))


def test_benchmark_folders_of_the_template_merge_into_one(copie) -> None:
    # Three benchmarks/ folders: every task's, the text classifier's and the ONNX target's.
    project = render(copie, project_name="ticket-router", deploy_targets=["fastapi-docker", "onnx"])
    benchmarks = {path.name for path in (project / "benchmarks").iterdir()}
    assert benchmarks == {"train_speed.py", "serve.py", "onnx_speed.py"}
    assert_ruff_clean(project)


@pytest.mark.parametrize("task", ["seq2seq", "causal-lm"])
def test_onnx_target_is_refused_for_generation_tasks(copie, task: str) -> None:
    result = copie.copy(
        extra_answers={"project_name": "ticket-router", "task": task, "deploy_targets": ["onnx"]},
        template_dir=TEMPLATE_ROOT,
        vcs_ref="HEAD",
    )
    assert result.exit_code != 0
    assert "generates token by token" in str(result.exception)


def test_onnx_alone_is_refused_for_want_of_a_service(copie) -> None:
    result = copie.copy(
        extra_answers={"project_name": "ticket-router", "deploy_targets": ["onnx"]},
        template_dir=TEMPLATE_ROOT,
        vcs_ref="HEAD",
    )
    assert result.exit_code != 0
    assert "no target here serves it: add fastapi-docker" in str(result.exception)


def test_without_the_onnx_target_nothing_of_it_renders(copie) -> None:
    project = render(copie, project_name="ticket-router")
    # benchmarks/ holds the serving benchmark; the ONNX one is not there.
    assert not (project / "benchmarks" / "onnx_speed.py").exists()
    assert not list(project.rglob("*onnx*"))
    assert "onnx" not in (project / "pyproject.toml").read_text()


def test_a_long_context_model_serves_the_context_its_kv_cache_allows(copie) -> None:
    # Llama 3.1 reads 131,072 tokens at 128 KiB of KV cache each (16 GiB a sequence): serving is
    # capped where one sequence takes 2 GiB, so that vLLM can start on the GPU it is deployed to.
    project = render(
        copie,
        project_name="ticket-router",
        task="causal-lm",
        base_model="meta-llama/Llama-3.1-8B-Instruct",
        fine_tuning="qlora",
        gpu="A10G",
    )
    train = yaml.safe_load((project / "configs" / "train.yaml").read_text())
    assert train["serve"]["context_length"] == 2 * 1024**3 // (2 * 32 * 8 * 128 * 2)
    # The smoke model is tiny: its own context. A model whose cache is small keeps its own too.
    smoke = yaml.safe_load((project / "configs" / "smoke.yaml").read_text())
    assert smoke["serve"]["context_length"] is None
    small = render(copie, project_name="ticket-router", task="causal-lm", gpu="A10G")
    train = yaml.safe_load((small / "configs" / "train.yaml").read_text())
    assert train["serve"]["context_length"] is None
