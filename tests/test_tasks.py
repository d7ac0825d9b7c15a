"""Every task x fine-tuning strategy renders clean and passes its own suite (trains, reloads,
predicts and serves for real, offline, on CPU). The grid follows the catalogue: a task joins it
by its entry in includes/catalogue.yml."""

from __future__ import annotations

import time

import pytest
import yaml

from .conftest import (
    TEMPLATE_ROOT,
    assert_ruff_clean,
    assert_suite_passed,
    render,
    run_project_tests,
)

CATALOGUE = yaml.safe_load((TEMPLATE_ROOT / "includes" / "catalogue.yml").read_text())
TASKS = list(CATALOGUE["task_catalogue"]["default"])
STRATEGIES = list(CATALOGUE["strategy_catalogue"]["default"])
# Each rendered project's suite must stay within this on 2 cores (the budget).
SUITE_BUDGET_S = 60
# Deploy targets beyond the default, spread over the grid so that each is rendered, and its tests
# run, in at least two task families (an encoder, a decoder with adapters, a vision model).
DEPLOY_TARGETS = {
    ("token-classification", "full"): ["fastapi-docker", "kubernetes", "hf-endpoints"],
    ("causal-lm", "lora"): ["fastapi-docker", "modal", "hf-endpoints"],
    ("image-classification", "full"): ["kubernetes", "modal"],
}


# Remote platforms ride along on some renders (their launch tests run in the suite): Modal's
# training body trains here on the smoke config. Lambda (no T4) is in tests/test_platforms.py.
PLATFORMS = {("token-classification", "lora"): "modal"}


def _answers(task: str, fine_tuning: str) -> dict[str, object]:
    # QLoRA needs a GPU in the answers; the rendered smoke config still trains on the CPU.
    answers: dict[str, object] = {
        "project_name": "ticket-router",
        "task": task,
        "fine_tuning": fine_tuning,
        "gpu": "T4",
        "platform": PLATFORMS.get((task, fine_tuning), "local"),
    }
    if (task, fine_tuning) in DEPLOY_TARGETS:
        answers["deploy_targets"] = DEPLOY_TARGETS[task, fine_tuning]
    return answers


@pytest.mark.parametrize("fine_tuning", STRATEGIES)
@pytest.mark.parametrize("task", TASKS)
def test_each_task_and_strategy_renders_clean(copie, task: str, fine_tuning: str) -> None:
    project = render(copie, **_answers(task, fine_tuning))
    assert_ruff_clean(project)
    smoke = yaml.safe_load((project / "configs" / "smoke.yaml").read_text())
    assert smoke["model"]["base_model"] is None  # the suite never downloads


@pytest.mark.slow
@pytest.mark.parametrize("fine_tuning", STRATEGIES)
@pytest.mark.parametrize("task", TASKS)
def test_each_task_and_strategy_passes_its_own_suite(copie, task: str, fine_tuning: str) -> None:
    if (task, fine_tuning) == ("text-classification", "full"):
        pytest.skip("the default project; tests/test_rendered_suite.py runs its suite")
    project = render(copie, **_answers(task, fine_tuning))
    started = time.monotonic()
    outcome = run_project_tests(project)
    elapsed = time.monotonic() - started
    assert_suite_passed(outcome)
    # Reported, not asserted: timings on a shared CI machine are noise (see benchmarks/).
    print(f"{task} x {fine_tuning}: suite ran in {elapsed:.0f} s (budget {SUITE_BUDGET_S} s)")
