"""The rendered project carries the proposal: docs/architecture.md and the recommended config."""

from __future__ import annotations

import re
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


# One variant per task, with adapters or several GPUs where the proposal says more.
PER_TASK = {
    "text-classification": {"gpu": "L4"},
    "token-classification": {"gpu": "L4", "gpu_count": 2, "distributed": "fsdp"},
    "seq2seq": {"gpu": "T4", "fine_tuning": "lora"},
    "image-classification": {"gpu": "T4", "fine_tuning": "lora"},
    "causal-lm": {"gpu": "T4", "base_model": "meta-llama/Llama-3.1-8B"},
}


def _stated(pattern: str, text: str) -> list[str]:
    found = re.findall(pattern, text)
    assert found, f"docs/architecture.md does not state {pattern!r}"
    return found


@pytest.mark.parametrize("task", PER_TASK)
def test_architecture_states_the_values_of_configs_train_yaml(copie, task: str) -> None:
    """Every value the proposal states about training is the one configs/train.yaml sets."""
    project = render(copie, project_name="ticket-router", task=task, **PER_TASK[task])
    architecture = (project / "docs" / "architecture.md").read_text()
    config = yaml.safe_load((project / "configs" / "train.yaml").read_text())
    training = config["training"]

    # The selection metric, wherever the proposal names one.
    metric = training["metric_for_best_model"]
    assert set(_stated(r"metric_for_best_model: (\w+)", architecture)) == {metric}
    for line in architecture.splitlines():
        if "selection metric" in line or "picks the" in line:
            assert f"metric_for_best_model: {metric}`" in line, line
    if metric != "f1_macro":
        assert "macro-f1 as the selection" not in architecture.lower()
    patience = _stated(r"stops early after (\d+) evaluations", architecture)
    assert {int(value) for value in patience} == {training["early_stopping_patience"]}

    # Optimizer, schedule, batch and memory savers.
    learning_rate = _stated(r"learning rate ([0-9.e+-]+),", architecture)[0]
    assert float(learning_rate) == pytest.approx(training["learning_rate"])
    assert float(_stated(r"weight decay ([0-9.]+)", architecture)[0]) == training["weight_decay"]
    assert (
        float(_stated(r"clipping at norm ([0-9.]+)", architecture)[0]) == training["max_grad_norm"]
    )
    assert int(_stated(r"decay; (\d+) epochs", architecture)[0]) == training["num_train_epochs"]
    warmup = int(_stated(r"warmup over (\d+) %", architecture)[0])
    assert warmup == round(training["warmup_ratio"] * 100)
    micro, accumulation = _stated(r"(\d+) per device x (\d+) accumulation steps", architecture)[0]
    assert int(micro) == training["per_device_train_batch_size"]
    assert int(accumulation) == training["gradient_accumulation_steps"]
    assert _stated(r"precision (\w+);", architecture) == [training["precision"]]
    checkpointing = _stated(r"gradient checkpointing (on|off)", architecture)[0] == "on"
    if PER_TASK[task].get("distributed") == "fsdp":
        # FSDP checkpoints activations itself (configs/accelerate.yaml), with the Trainer's off.
        accelerate = yaml.safe_load((project / "configs" / "accelerate.yaml").read_text())
        assert checkpointing == accelerate["fsdp_config"]["fsdp_activation_checkpointing"]
        assert training["gradient_checkpointing"] is False
    else:
        assert checkpointing == training["gradient_checkpointing"]
    if "max_length" in config["data"]:  # images have no token limit to set
        tokens = int(_stated(r"up to (\d+) tokens each", architecture)[0])
        assert tokens == config["data"]["max_length"]
    assert f"[{config['model']['base_model']}]" in architecture
    if "lora" in config["model"]:
        rank, alpha = _stated(r"LoRA rank (\d+) \(alpha (\d+)\)", architecture)[0]
        assert (int(rank), int(alpha)) == (
            config["model"]["lora"]["r"],
            config["model"]["lora"]["alpha"],
        )
    else:
        assert "LoRA rank" not in architecture
    attention = _stated(r"\| `attn_implementation` \| (\w+)", architecture)
    assert attention == [config["model"]["attn_implementation"]]
