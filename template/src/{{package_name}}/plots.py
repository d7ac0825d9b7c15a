"""The loss curve written at the end of training."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_loss_curve(log_history: list[dict[str, Any]], path: Path) -> Path:
    """Plot training loss (and validation loss where evaluated) against the optimizer step."""
    # Imported here, once training is over: every process that imports the training code (each
    # DDP worker, a resumed run, the test suite) would otherwise pay for matplotlib at start-up.
    import matplotlib

    matplotlib.use("Agg")  # no display is needed, on a server or in CI
    import matplotlib.pyplot as plt

    train = [(entry["step"], entry["loss"]) for entry in log_history if "loss" in entry]
    validation = [
        (entry["step"], entry["eval_loss"]) for entry in log_history if "eval_loss" in entry
    ]
    figure, axes = plt.subplots(figsize=(7, 4))
    for points, label in ((train, "train"), (validation, "validation")):
        if points:
            steps, losses = zip(*points, strict=True)
            axes.plot(steps, losses, marker="o", markersize=3, label=label)
    axes.set(xlabel="step", ylabel="loss", title="Loss")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
