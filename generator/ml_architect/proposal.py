"""The proposal on the terminal: the recommendation, the estimates and the trade-offs."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

METHOD_TITLES = {"full": "Full fine-tuning", "lora": "LoRA", "qlora": "QLoRA"}


def show(plan: dict[str, Any], console: Console) -> None:
    model, gpu, chosen = plan["model"], plan["gpu"], plan["chosen"]
    nodes = f"{gpu['nodes']} nodes x " if gpu["nodes"] > 1 else ""
    console.print(
        f"\n[bold]Proposal[/bold]: {model['id']} ({model['params_b']}B parameters) on {nodes}"
        f"{gpu['count']} x {gpu['id']} ({gpu['memory_gb']} GB each, {gpu['usable_gb']} GB usable)"
    )

    decisions = Table(title="Recommendation", show_lines=False)
    for column in ("question", "answer", "why"):
        decisions.add_column(column)
    for question in (
        "fine_tuning",
        "precision",
        "gradient_checkpointing",
        "distributed",
        "platform",
        "attn_implementation",
    ):
        value, reason = chosen[question], plan["reasons"][question]
        mark = "" if value == plan["recommended"][question] else " (override)"
        decisions.add_row(question, f"{value}{mark}", reason)
    console.print(decisions)

    memory = Table(
        title="Training memory per device (GB)",
        caption="total = weights + grads + optimizer + the larger of the activations and the "
        "optimizer step's fp32 temporaries (the phase that peaks, marked *) + overhead",
    )
    columns = ("method", "weights", "grads", "optimizer", "activations", "step", "overhead")
    for column in (*columns, "total", "fits"):
        memory.add_column(column, justify="left" if column == "method" else "right")
    for row in plan["memory_table"]:
        parts = row["memory"]
        name = METHOD_TITLES[row["method"]]
        if row["method"] == chosen["fine_tuning"]:
            name = f"[bold]> {name}[/bold]"
        peak = parts["peak_phase"]
        memory.add_row(
            name,
            *(str(parts[key]) for key in ("weights_gb", "gradients_gb", "optimizer_gb")),
            f"{parts['activations_gb']}{'*' if peak == 'activations' else ''}",
            f"{parts['step_gb']}{'*' if peak == 'step' else ''}",
            str(parts["overhead_gb"]),
            str(parts["total_gb"]),
            "yes" if row["fits"] else "[red]no[/red]",
        )
    console.print(memory)

    costs = Table(title=f"Time and cost: about {plan['training_hours']} h of training")
    for column in ("platform", "USD/GPU-hour", "hours", "USD"):
        costs.add_column(column, justify="left" if column == "platform" else "right")
    for row in plan["costs"]:
        name = row["platform"]
        if name == chosen["platform"]:
            name = f"[bold]> {name}[/bold]"
        costs.add_row(name, str(row["price_per_gpu_hour"]), str(row["hours"]), str(row["usd"]))
    console.print(costs)
    console.print(
        f"Serving needs about {plan['inference_gb']} GB. Trade-offs: full fine-tuning updates "
        "every weight but needs the most memory; LoRA trains small adapters on 16-bit weights; "
        "QLoRA on 4-bit weights, slower per step; gradient checkpointing trades ~33 % compute "
        "for activation memory; FSDP shards model states across GPUs."
    )
    if gpu["id"] != "cpu" and plan["inference_gb"] > gpu["usable_gb"]:
        console.print(
            f"[yellow]Note:[/yellow] serving needs about {plan['inference_gb']} GB, more than the "
            f"{gpu['usable_gb']} GB usable on one {gpu['id']}: serve on a larger GPU, or merge "
            "the adapters and quantize the model for serving."
        )
    for warning in plan["warnings"]:
        console.print(f"[yellow]Note:[/yellow] {warning}")
