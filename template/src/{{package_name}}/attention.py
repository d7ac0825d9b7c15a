"""Attention kernels (model.attn_implementation): checked before any work, never deep inside.

sdpa (the default) is PyTorch's fused scaled-dot-product attention, flash_attention_2 the
flash-attn package's kernels (CUDA, Ampere or newer), eager the plain matrix products, and auto
flash_attention_2 where it runs on the machine at hand (else sdpa): what the framework picks for
GPU answers, so that a machine without flash-attn still trains.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import torch
from transformers import AutoConfig, PretrainedConfig
from transformers.models.auto.auto_factory import _BaseAutoModelClass, _get_model_class

from .errors import ConfigError

logger = logging.getLogger(__name__)

FIELD = "model.attn_implementation"
# The class attributes by which transformers' models say which kernels they have (eager: all).
_SUPPORT_FLAGS = {"sdpa": "_supports_sdpa", "flash_attention_2": "_supports_flash_attn"}


def flash_attention_problem(device: torch.device | None = None) -> str | None:
    """Why flash_attention_2 cannot run here (on `device`, default the GPU), or None."""
    if importlib.util.find_spec("flash_attn") is None:
        return "flash-attn is not installed (`pip install flash-attn` on a CUDA machine)"
    if (device is not None and device.type != "cuda") or not torch.cuda.is_available():
        return "it needs a CUDA GPU"
    if torch.cuda.get_device_capability()[0] < 8:
        return f"it needs an Ampere or newer GPU, not {torch.cuda.get_device_name()}"
    return None


def resolved(
    implementation: str, device: torch.device | None = None, precision: str | None = None
) -> str:
    """auto as flash_attention_2 where it can run (on `device`, default the GPU, in `precision`),
    else sdpa; any other value as it is."""
    if implementation != "auto":
        return implementation
    if problem := _why_not_flash(device, precision):
        logger.info("%s auto: sdpa, as flash_attention_2 cannot run: %s", FIELD, problem)
        return "sdpa"
    logger.info("%s auto: flash_attention_2", FIELD)
    return "flash_attention_2"


def _why_not_flash(device: torch.device | None, precision: str | None) -> str | None:
    """Why flash_attention_2 cannot run on `device` in `precision` (its kernels are 16-bit only)."""
    if problem := flash_attention_problem(device):
        return problem
    return "it computes in bf16 or fp16 only, not fp32" if precision == "fp32" else None


def check_attention(implementation: str, precision: str) -> None:
    """Fail before any work when this machine cannot train with the configured kernel.

    Only flash_attention_2 asked for by name can fail: auto has already settled for sdpa where
    it cannot run.
    """
    if implementation != "flash_attention_2":
        return
    if problem := _why_not_flash(None, precision):
        raise ConfigError(f"{FIELD} is flash_attention_2, but {problem}: use auto, sdpa or eager")


def attention_for(
    implementation: str,
    auto_class: type[_BaseAutoModelClass],
    source: PretrainedConfig | str | Path,
    token: str | None = None,
) -> str:
    """The kernel to load the model of `source` (a config, hub id or directory) with.

    The configured one where the architecture has it. sdpa, the default, falls back to eager
    where it has no SDPA path (DeBERTa-v2, for one); flash_attention_2, asked for by name, is
    refused rather than quietly replaced; auto falls back to sdpa (then eager).
    """
    if implementation == "auto":
        chosen = resolved(implementation)
        if chosen == "flash_attention_2":
            try:
                return attention_for(chosen, auto_class, source, token)
            except ConfigError:
                logger.info("%s auto: sdpa, as the architecture has no flash_attention_2", FIELD)
        return attention_for("sdpa", auto_class, source, token)
    flag = _SUPPORT_FLAGS.get(implementation)
    if flag is None:
        return implementation
    config = (
        source
        if isinstance(source, PretrainedConfig)
        else AutoConfig.from_pretrained(source, token=token)
    )
    # The class from_pretrained picks for the config (transformers has no public name for this).
    model_class = _get_model_class(config, auto_class._model_mapping)
    if getattr(model_class, flag, False):
        return implementation
    if implementation == "sdpa":
        logger.info("%s has no SDPA attention: using eager attention", model_class.__name__)
        return "eager"
    raise ConfigError(
        f"{FIELD} is {implementation}, which {model_class.__name__} does not support: "
        "use sdpa or eager"
    )


def serving_attention(
    implementation: str, device: torch.device | None = None, precision: str | None = None
) -> str:
    """The kernel a trained model is loaded with for evaluation, predict and serve.

    flash_attention_2 where `device` can run it in `precision`; elsewhere (a CPU, a machine
    without flash-attn, fp32 weights) sdpa, which computes the same attention: a model trained
    with one serves with the other. auto stays auto where FlashAttention 2 can run, so that
    attention_for still falls back for an architecture without it.
    """
    if implementation == "auto":
        runs_here = resolved(implementation, device, precision) == "flash_attention_2"
        return "auto" if runs_here else "sdpa"
    if implementation == "flash_attention_2" and (problem := _why_not_flash(device, precision)):
        logger.info("Loading with sdpa attention, not flash_attention_2: %s", problem)
        return "sdpa"
    return implementation
