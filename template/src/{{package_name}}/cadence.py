"""When training evaluates and saves: a share of an epoch, counted from the data it trains on."""

from __future__ import annotations

import logging
import math
from collections.abc import Sized
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

logger = logging.getLogger(__name__)


class EvaluationCadence(TrainerCallback):
    """Evaluates (and saves a checkpoint) `per_epoch` times an epoch, or a little more often
    where the steps do not divide evenly (every whole share of an epoch, at least every step).

    Counted when training starts, from the batches the run trains on: the data's real size,
    packing, the processes that share the data and gradient accumulation all count. A step
    count fixed in the config for one dataset evaluates far too often, or too rarely for early
    stopping to act, on another.
    """

    def __init__(self, per_epoch: int) -> None:
        self.per_epoch = per_epoch

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        train_dataloader: Sized | None = None,
        **kwargs: Any,
    ) -> None:
        assert train_dataloader is not None  # the Trainer hands its loader to every callback
        steps_per_epoch = math.ceil(len(train_dataloader) / args.gradient_accumulation_steps)
        state.eval_steps = state.save_steps = max(1, steps_per_epoch // self.per_epoch)
        # What trackers and the saved arguments report, as the Trainer now runs.
        args.eval_steps = args.save_steps = state.eval_steps
        logger.info(
            "Evaluating and saving every %d steps: %d times an epoch of %d steps",
            state.eval_steps,
            self.per_epoch,
            steps_per_epoch,
        )
