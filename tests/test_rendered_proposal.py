"""The rendered project carries the proposal: docs/architecture.md and the recommended config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ml_architect.framework import answer, plan

from .conftest import render

VARIANTS = [
    {"gpu": "L4"},
    {"gpu": "T4", "max_seq_length": 512, "dataset": "stanfordnlp/sst2", "dataset_examples": 67000},
    {"gpu": "A100-80GB", "gpu_count": 2, "base_model": "FacebookAI/roberta-large"},
]


@pytest.mark.parametrize("inputs", VARIANTS, ids=lambda inputs: inputs["gpu"])
def test_architecture_proposal_and_config_follow_the_recommendation(copie, inputs) -> None:
    project = render(copie, project_name="ticket-router", **inputs)
    answers = answer({"project_name": "ticket-router", **inputs})
    proposal = plan(answers)

    architecture = (project / "docs" / "architecture.md").read_text()
    for heading in (
        "## Overview",
        "## Model",
        "## Training strategy",
        "## Memory on",
        "## Time and cost",
        "## Trade-offs",
        "## Risks and mitigations",
        "## Implementation plan",
    ):
        assert heading in architecture, heading
    chosen = {"full": "Full fine-tuning", "lora": "LoRA", "qlora": "QLoRA"}[answers["fine_tuning"]]
    assert f"| **{chosen} (chosen)** |" in architecture
    for row in proposal["memory_table"]:
        assert f"| {row['memory']['total_gb']} GB |" in architecture
    for row in proposal["costs"]:
        assert f" | {row['price_per_gpu_hour']} | {row['hours']} | {row['usd']} |" in architecture
    assert f"**{answers['platform']} (chosen)**" in architecture
    assert "docs/architecture.md" in (project / "README.md").read_text()

    training = yaml.safe_load((project / "configs" / "train.yaml").read_text())["training"]
    hyperparameters = proposal["hyperparameters"]
    assert training["precision"] == answers["precision"]
    assert training["gradient_checkpointing"] == answers["gradient_checkpointing"]
    assert training["learning_rate"] == pytest.approx(hyperparameters["learning_rate"])
    assert training["per_device_train_batch_size"] == hyperparameters["per_device_train_batch_size"]
    assert training["gradient_accumulation_steps"] == hyperparameters["gradient_accumulation_steps"]
    data = yaml.safe_load((project / "configs" / "train.yaml").read_text())["data"]
    assert data["max_length"] == answers["max_seq_length"]


def test_dataset_answer_sets_the_data_source(copie) -> None:
    hub = render(copie, project_name="ticket-router", dataset="stanfordnlp/sst2")
    local = render(copie, project_name="ticket-router", dataset="data/tickets.csv")

    def data(project: Path) -> dict:
        return yaml.safe_load((project / "configs" / "train.yaml").read_text())["data"]

    assert data(hub)["hub_dataset"] == "stanfordnlp/sst2"
    assert data(local)["hub_dataset"] is None
    assert data(local)["files"] == {"train": "data/tickets.csv"}
    # The smoke config always trains on the shipped sample, offline.
    smoke = yaml.safe_load((hub / "configs" / "smoke.yaml").read_text())["data"]
    assert smoke["files"]["train"] == "data/sample/train.jsonl"


def test_budget_overrun_is_noted_in_the_proposal(copie) -> None:
    project = render(
        copie,
        project_name="ticket-router",
        gpu="H100",
        platform="sagemaker",
        base_model="FacebookAI/roberta-large",
        dataset_examples=5000000,
        max_seq_length=512,
        budget_usd=1,
    )
    assert "over the budget of 1.0 USD" in (project / "docs" / "architecture.md").read_text()
