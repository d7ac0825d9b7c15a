"""The decision framework's rules, its validators in plain copier, and one source of truth."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import pytest
from copier import run_copy

from ml_architect.framework import (
    RECOMMENDED_QUESTIONS,
    AnswerError,
    answer,
    catalogue,
    plan,
)

from .conftest import TEMPLATE_ROOT

TASK = {"task": "text-classification"}
SMALL = {**TASK, "base_model": "distilbert/distilbert-base-uncased"}


def custom(params_b: float) -> dict[str, Any]:
    return {**TASK, "base_model": "acme/encoder-xl", "params_b": params_b}


def copier_answers(inputs: dict[str, Any]) -> dict[str, Any]:
    """What plain copier answers for these inputs (defaults for the rest); nothing is written."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        worker = run_copy(
            str(TEMPLATE_ROOT),
            "/nonexistent/ml-architect-pretend",
            data={"project_name": "grid-project", **inputs},
            defaults=True,
            pretend=True,
            quiet=True,
            vcs_ref="HEAD",
        )
    return worker._answers_to_remember()


# --- rules -------------------------------------------------------------------------------


def test_full_fine_tuning_when_it_fits() -> None:
    chosen = plan({**SMALL, "gpu": "T4"})["chosen"]
    assert chosen["fine_tuning"] == "full"
    assert chosen["gradient_checkpointing"] is False


def test_lora_when_full_does_not_fit_but_16bit_weights_do() -> None:
    proposal = plan({**custom(7), "gpu": "A100-80GB"})
    assert proposal["chosen"]["fine_tuning"] == "lora"
    rows = {row["method"]: row for row in proposal["memory_table"]}
    assert not rows["full"]["fits"] and rows["lora"]["fits"]


def test_qlora_when_only_4bit_weights_fit() -> None:
    proposal = plan({**custom(7), "gpu": "T4"})
    assert proposal["chosen"]["fine_tuning"] == "qlora"
    rows = {row["method"]: row for row in proposal["memory_table"]}
    assert not rows["lora"]["fits"] and rows["qlora"]["fits"]


def test_gradient_checkpointing_only_when_needed_to_fit() -> None:
    long_inputs = plan({**custom(1), "gpu": "L4", "max_seq_length": 8192})["chosen"]
    assert long_inputs["gradient_checkpointing"] is True
    short_inputs = plan({**custom(1), "gpu": "L4", "max_seq_length": 128})["chosen"]
    assert short_inputs["gradient_checkpointing"] is False


def test_fsdp_when_sharding_is_needed_to_fit_and_ddp_otherwise() -> None:
    sharded = plan({**custom(7), "gpu": "A100-80GB", "gpu_count": 4})["chosen"]
    assert (sharded["fine_tuning"], sharded["distributed"]) == ("full", "fsdp")
    replicated = plan({**SMALL, "gpu": "A100-80GB", "gpu_count": 4})["chosen"]
    assert (replicated["fine_tuning"], replicated["distributed"]) == ("full", "ddp")


@pytest.mark.parametrize(
    ("gpu", "precision"), [("T4", "fp16"), ("L4", "bf16"), ("H100", "bf16"), ("cpu", "fp32")]
)
def test_bf16_only_where_the_gpu_supports_it(gpu: str, precision: str) -> None:
    assert plan({**SMALL, "gpu": gpu})["chosen"]["precision"] == precision


SEQ2SEQ = {"task": "seq2seq"}


@pytest.mark.parametrize(
    ("base_model", "gpu", "precision"),
    [
        ("google-t5/t5-small", "T4", "fp32"),
        ("google/flan-t5-base", "T4", "fp32"),
        ("google/mt5-small", "T4", "fp32"),
        ("acme/my-t5-summarizer", "T4", "fp32"),  # outside the catalogue, named T5
        ("google/flan-t5-base", "L4", "bf16"),
        ("facebook/bart-base", "T4", "fp16"),
    ],
)
def test_t5_family_trains_in_fp32_where_the_gpu_has_no_bf16(
    base_model: str, gpu: str, precision: str
) -> None:
    proposal = plan({**SEQ2SEQ, "base_model": base_model, "params_b": 0.2, "gpu": gpu})
    assert proposal["chosen"]["precision"] == precision
    if precision == "fp32":
        assert "overflows" in proposal["reasons"]["precision"]


DECODER = {"task": "causal-lm", "base_model": "Qwen/Qwen3-0.6B"}


@pytest.mark.parametrize(
    ("inputs", "attention", "why"),
    [
        # auto: FlashAttention 2 where flash-attn is installed, SDPA where it is not.
        ({**DECODER, "gpu": "A100-80GB"}, "auto", "of a decoder"),
        ({**DECODER, "gpu": "L4"}, "auto", "pip install flash-attn"),
        ({**DECODER, "gpu": "T4"}, "sdpa", "Ampere or newer"),
        ({**DECODER, "gpu": "cpu"}, "sdpa", "needs a CUDA GPU"),
        ({**DECODER, "gpu": "A100-80GB", "precision": "fp32"}, "sdpa", "16 bits only"),
        ({**SMALL, "gpu": "A100-80GB"}, "sdpa", "at 128 tokens an encoder"),
        (
            {**TASK, "base_model": "answerdotai/ModernBERT-base", "gpu": "A100-80GB"}
            | {"max_seq_length": 2048},
            "auto",
            "at 2048 tokens",
        ),
        ({**SEQ2SEQ, "base_model": "google/flan-t5-base", "gpu": "H100"}, "sdpa", "not known"),
        ({**custom(1), "task": "causal-lm", "gpu": "H100"}, "sdpa", "not known"),
    ],
)
def test_flash_attention_is_recommended_only_where_it_is_known_to_help(
    inputs: dict[str, Any], attention: str, why: str
) -> None:
    proposal = plan(inputs)
    assert proposal["recommended"]["attn_implementation"] == attention
    assert proposal["chosen"]["attn_implementation"] == attention
    assert why in proposal["reasons"]["attn_implementation"]


def test_the_architectures_said_to_have_flash_attention_have_it_in_transformers() -> None:
    """framework.yml's list, against the installed transformers, for every task it serves."""
    from transformers import AutoConfig
    from transformers.models.auto import modeling_auto
    from transformers.models.auto.auto_factory import _get_model_class

    auto_classes = {
        "text-classification": modeling_auto.AutoModelForSequenceClassification,
        "token-classification": modeling_auto.AutoModelForTokenClassification,
        "seq2seq": modeling_auto.AutoModelForSeq2SeqLM,
        "causal-lm": modeling_auto.AutoModelForCausalLM,
        "image-classification": modeling_auto.AutoModelForImageClassification,
    }
    listed = set(catalogue("framework")["flash_attention"]["model_types"])
    checked = set()
    for facts in catalogue("model_catalogue").values():
        if facts["model_type"] not in listed:
            continue
        config = AutoConfig.for_model(facts["model_type"])
        for task in facts["tasks"]:
            model_class = _get_model_class(config, auto_classes[task]._model_mapping)
            assert model_class._supports_flash_attn, (facts["model_type"], task)
            checked.add(facts["model_type"])
    assert checked == listed


def test_a_catalogue_model_has_its_real_shape() -> None:
    facts = plan({"task": "causal-lm", "base_model": "meta-llama/Llama-3.1-8B", "gpu": "L4"})[
        "model"
    ]
    assert (facts["layers"], facts["hidden_size"], facts["vocab_size"]) == (32, 4096, 128256)
    assert facts["source"] == "catalogue"


def test_every_catalogue_shape_adds_up_to_its_parameter_count() -> None:
    """A typo in a catalogue entry shows as a shape that does not add up to params_b: the
    blocks' attention and feed-forward weights, plus the embeddings (tied to the output layer,
    or not)."""
    for name, facts in catalogue("model_catalogue").items():
        if facts.get("architecture") == "cnn":
            # No attention nor feed-forward width: tests/test_framework_estimates.py checks
            # ConvNeXt's count against the model transformers builds.
            continue
        h, heads, kv_heads = facts["hidden_size"], facts["heads"], facts["kv_heads"]
        head_dim = facts.get("head_dim", h // heads)
        attention = 2 * h * heads * head_dim + 2 * h * kv_heads * head_dim
        blocks = facts["layers"] * (attention + facts["mlp_matrices"] * h * facts["ffn_size"])
        if facts["model_type"] in {"t5", "mt5", "bart"}:
            blocks += facts["layers"] // 2 * attention  # the decoder's cross-attention
        embeddings = facts["vocab_size"] * h
        counts = [(blocks + tied * embeddings) / 1e9 for tied in (1, 2)]
        assert any(count == pytest.approx(facts["params_b"], rel=0.05) for count in counts), name


def test_a_model_outside_the_catalogue_takes_the_shape_given() -> None:
    given = {"layers": 32, "hidden_size": 4096, "vocab_size": 128256}
    facts = plan(
        {"task": "causal-lm", "base_model": "acme/llm", "gpu": "L4", "params_b": 8.03, **given}
    )["model"]
    assert {key: facts[key] for key in given} == given
    assert facts["source"] == "given" and facts["guessed"] == []
    guessed = plan({"task": "causal-lm", "base_model": "acme/llm", "gpu": "L4", "params_b": 8.03})
    assert guessed["model"]["source"] == "guessed"
    assert any("guessed from the parameter count" in note for note in guessed["warnings"])


@pytest.mark.parametrize("kind", ["given", "guessed"])
def test_the_stated_uncertainty_of_a_given_or_guessed_shape_holds_for_every_catalogue_model(
    kind: str,
) -> None:
    """Each catalogue model, asked about as if it were unknown: its memory estimate from the
    shape given (or guessed from params_b) stays within the band the proposal states."""
    band = catalogue("framework")["shape_uncertainty"][kind]
    tasks = catalogue("task_catalogue")
    for name, facts in catalogue("model_catalogue").items():
        if facts.get("architecture") == "cnn":
            # The shape questions (layers, hidden_size) describe a transformer: a CNN outside
            # the catalogue is estimated as one, which this band does not cover.
            continue
        task = facts["tasks"][0]
        inputs = {"task": task, "gpu": "H200", "max_seq_length": 512}
        shape = {"layers": facts["layers"], "hidden_size": facts["hidden_size"]}
        if tasks[task]["tokenized"]:
            shape["vocab_size"] = facts["vocab_size"]
        unknown = {**inputs, "base_model": "acme/unknown", "params_b": facts["params_b"]}
        estimate = plan({**unknown, **(shape if kind == "given" else {})})
        assert estimate["model"]["uncertainty"] == band
        real = plan({**inputs, "base_model": name})
        for known, other in zip(real["memory_table"], estimate["memory_table"], strict=True):
            if known["gradient_checkpointing"] == other["gradient_checkpointing"]:
                error = other["memory"]["total_gb"] / known["memory"]["total_gb"] - 1
                assert abs(error) <= band, (name, known["method"], round(error, 3))


def test_hyperparameters_by_method_and_size() -> None:
    full_small = plan({**SMALL, "gpu": "L4"})["hyperparameters"]
    assert 1e-5 <= full_small["learning_rate"] <= 5e-5
    lora = plan({**custom(7), "gpu": "A100-80GB"})["hyperparameters"]
    assert 1e-4 <= lora["learning_rate"] <= 3e-4
    for hyperparameters in (full_small, lora):
        assert hyperparameters["weight_decay"] == 0.01
        assert 0.05 <= hyperparameters["warmup_ratio"] <= 0.10
        assert hyperparameters["max_grad_norm"] == 1.0
        assert hyperparameters["optimizer"] == "adamw_torch"


@pytest.mark.parametrize("gpu", ["T4", "L4", "A100-40GB", "A100-80GB", "H100", "RTX-4090"])
def test_the_cheapest_platform_that_offers_the_gpu_is_recommended(gpu: str) -> None:
    prices = catalogue("gpu_catalogue")["gpus"][gpu]["prices"]
    rented = {
        name: price for name, price in prices.items() if name != "local" and price is not None
    }
    expected = min(rented, key=rented.get) if rented else "local"
    assert plan({**SMALL, "gpu": gpu})["chosen"]["platform"] == expected


def test_a_platform_without_an_instance_for_the_count_is_not_recommended_nor_priced() -> None:
    # SageMaker rents the L40S cheapest, in instances of 1, 4 or 8 of them: never 2.
    assert plan({**SMALL, "gpu": "L40S"})["chosen"]["platform"] == "sagemaker"
    two = plan({**SMALL, "gpu": "L40S", "gpu_count": 2})
    assert two["chosen"]["platform"] == "modal"
    assert "sagemaker" not in [row["platform"] for row in two["costs"]]
    assert plan({**SMALL, "gpu": "L40S", "gpu_count": 4})["chosen"]["platform"] == "sagemaker"


def test_cost_is_hours_times_gpus_times_price() -> None:
    proposal = plan({**custom(7), "gpu": "A100-80GB", "gpu_count": 2, "dataset_examples": 50000})
    for row in proposal["costs"]:
        assert row["usd"] == pytest.approx(
            proposal["training_hours"] * 2 * row["price_per_gpu_hour"], rel=0.01, abs=0.01
        )
    assert proposal["training_hours"] > 0.1


def test_nodes_multiply_the_gpus_that_shard_the_model_train_and_bill() -> None:
    fsdp = {**custom(7), "gpu": "A100-80GB", "gpu_count": 4, "distributed": "fsdp"}
    fsdp["dataset_examples"] = 200000
    one, two = plan(fsdp), plan({**fsdp, "num_nodes": 2})
    assert two["gpu"]["devices"] == 8
    # FSDP shards the model states over every GPU of every node.
    for part in ("weights_gb", "gradients_gb", "optimizer_gb"):
        assert two["memory"][part] == pytest.approx(one["memory"][part] / 2, abs=0.01)
    # Twice the GPUs, each scaling at the multi-node efficiency instead of the one-node one.
    constants = catalogue("framework")
    speedup = 2 * constants["multi_node_scaling_efficiency"] / constants["scaling_efficiency"]
    assert two["training_hours"] == pytest.approx(one["training_hours"] / speedup, rel=0.02)
    for row in two["costs"]:
        assert row["usd"] == pytest.approx(
            two["training_hours"] * 8 * row["price_per_gpu_hour"], rel=0.01, abs=0.01
        )
    # The data is split over all 8 GPUs: half the accumulation for the same effective batch.
    assert two["batch"]["effective"] == one["batch"]["effective"]


def test_one_gpu_on_each_of_several_nodes_is_distributed() -> None:
    chosen = plan({**SMALL, "gpu": "A100-80GB", "num_nodes": 2})["chosen"]
    assert chosen["distributed"] == "ddp"


def test_a_model_too_big_for_one_node_is_pointed_to_the_nodes_it_fits_on() -> None:
    too_big = {"project_name": "grid-project", **custom(400), "gpu": "A100-80GB", "gpu_count": 8}
    with pytest.raises(AnswerError) as refusal:
        answer(too_big)
    assert "num_nodes 2: LoRA sharded with FSDP over 16 GPUs fits" in str(refusal.value)
    answers = answer({**too_big, "num_nodes": 2})
    assert (answers["fine_tuning"], answers["distributed"]) == ("lora", "fsdp")


def test_budget_overrun_is_a_warning() -> None:
    inputs = {**custom(7), "gpu": "A100-80GB", "dataset_examples": 100000, "budget_usd": 1}
    assert any("over the budget" in warning for warning in plan(inputs)["warnings"])


# --- validators, through plain copier --------------------------------------------------------

IMPOSSIBLE = [
    ({"gpu": "T4", "precision": "bf16"}, "precision", "choose fp16"),
    ({"gpu": "cpu", "fine_tuning": "qlora"}, "fine_tuning", "QLoRA needs a CUDA GPU"),
    ({**custom(70), "gpu": "T4"}, "gpu_count", "fits nowhere"),
    ({"gpu": "L4", "platform": "lambda"}, "platform", "does not offer the L4"),
    ({**custom(7), "gpu": "T4", "fine_tuning": "full"}, "fine_tuning", "choose fine_tuning qlora"),
    ({"gpu": "A100-80GB", "gpu_count": 2, "distributed": "none"}, "distributed", "choose ddp"),
    ({"gpu": "A100-80GB", "distributed": "ddp"}, "distributed", "at least 2 GPUs"),
    ({"gpu": "cpu", "precision": "fp16"}, "precision", "fp16 needs a CUDA GPU"),
    ({"gpu": "cpu", "gpu_count": 2}, "gpu_count", "must be 1"),
    ({**SEQ2SEQ, "gpu": "T4", "precision": "fp16"}, "precision", "Choose fp32"),
    (
        {**SEQ2SEQ, "base_model": "google/flan-t5-base", "gpu": "L4", "precision": "fp16"},
        "precision",
        "Choose bf16",
    ),
    ({**custom(1), "layers": -1}, "layers", "between 1 and 1000"),
    (
        {"base_model": "Qwen/Qwen3-8B"},
        "base_model",
        "a model for causal-lm, not text-classification",
    ),
    ({"gpu": "cpu", "num_nodes": 2}, "num_nodes", "needs GPUs"),
    ({"gpu": "L4", "num_nodes": 0}, "num_nodes", "between 1 and 64"),
    (
        {"gpu": "A100-80GB", "num_nodes": 2, "platform": "local", "distributed": "none"},
        "distributed",
        "choose ddp or fsdp, or num_nodes 1",
    ),
    (
        {"gpu": "H100", "gpu_count": 4, "num_nodes": 2, "platform": "modal"},
        "platform",
        "choose gpu_count 8, num_nodes 1, or another platform",
    ),
    ({"gpu": "H100", "num_nodes": 20, "platform": "lambda"}, "platform", "at most 16 nodes"),
    (
        {"gpu": "A10G", "gpu_count": 2, "distributed": "ddp", "platform": "sagemaker"},
        "platform",
        "no machine with 2 x A10G (gpu A10G, gpu_count 2): choose gpu_count 1 or 4 or 8",
    ),
    ({"gpu": "A100-80GB", "platform": "sagemaker"}, "platform", "choose gpu_count 8, or another"),
]


@pytest.mark.parametrize(("inputs", "question", "reason"), IMPOSSIBLE)
def test_impossible_combinations_are_refused_by_plain_copier(
    inputs: dict[str, Any], question: str, reason: str
) -> None:
    with pytest.raises(ValueError) as error:
        copier_answers(inputs)
    message = str(error.value)
    assert f"question '{question}'" in message
    assert reason in message
    # The command line reports the very same message.
    with pytest.raises(AnswerError) as same:
        answer({"project_name": "grid-project", **inputs})
    assert str(same.value) == message


# --- one source of truth ---------------------------------------------------------------------

GRID = [
    {**model, "gpu": gpu, "gpu_count": count, "max_seq_length": length}
    for model, gpu, count, length in itertools.product(
        [
            SMALL,
            custom(1.5),
            custom(7),
            custom(34),
            {**custom(8), "layers": 32, "hidden_size": 4096, "vocab_size": 128256},
        ],
        ["cpu", "T4", "L4", "A100-80GB", "H100"],
        [1, 4],
        [128, 2048],
    )
    if not (gpu == "cpu" and count > 1)
] + [
    {**model, "gpu": gpu, "gpu_count": count, "num_nodes": 2, "max_seq_length": 512}
    for model, gpu, count in [
        # Fits only sharded over both nodes: the given num_nodes counts when gpu_count is checked.
        (custom(400), "A100-80GB", 8),
        (custom(7), "L4", 1),
        (SMALL, "cpu", 1),
    ]
]


def _grid_id(inputs: dict[str, Any]) -> str:
    size = inputs.get("params_b", 0.067)
    shape = "-shaped" if "layers" in inputs else ""
    nodes = f"{inputs['num_nodes']}n-" if "num_nodes" in inputs else ""
    return f"{size}B{shape}-{nodes}{inputs['gpu']}x{inputs['gpu_count']}-{inputs['max_seq_length']}"


@pytest.mark.parametrize("inputs", GRID, ids=_grid_id)
def test_copier_and_the_cli_settle_on_the_same_answers(inputs: dict[str, Any]) -> None:
    given = {"project_name": "grid-project", **inputs}
    try:
        expected = answer(given)
    except AnswerError as refusal:
        with pytest.raises(ValueError) as error:
            copier_answers(inputs)
        assert str(error.value) == str(refusal)
        return
    answers = copier_answers(inputs)
    for question in (
        *RECOMMENDED_QUESTIONS,
        "num_nodes",
        "dataset_examples",
        "deploy_targets",
        "budget_usd",
        *(["layers", "hidden_size", "vocab_size"] if "layers" in inputs else []),
    ):
        assert answers[question] == expected[question], question
