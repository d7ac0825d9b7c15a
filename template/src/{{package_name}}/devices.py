"""Where predict and serve run the model, and in which precision (serve.device, serve.dtype).

"auto" uses the GPU when torch sees one. On it, the weights take 16 bits (half the memory, and the
GPU's tensor cores) in the type training used; a model trained in fp32 takes bf16, which keeps
fp32's range, or stays in fp32 on a GPU without bf16: fp16 may overflow where training avoided it.
On the CPU, fp32: most CPUs compute 16-bit types slowly, and fp16 hardly at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import torch

from .attention import serving_attention
from .config import ProjectConfig
from .errors import ConfigError

logger = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype
    # model.attn_implementation where this device can run it (attention.serving_attention).
    attn_implementation: str = "sdpa"


def serving_placement(config: ProjectConfig) -> Placement:
    """The device and precision the model of `config` serves on, on this machine."""
    device = serving_device(config.serve.device)
    dtype = serving_dtype(config.serve.dtype, device, config.training.precision)
    logger.info(
        "Serving on %s in %s (serve.device %s, serve.dtype %s)",
        device,
        str(dtype).removeprefix("torch."),
        config.serve.device,
        config.serve.dtype,
    )
    precision = "fp32" if dtype == torch.float32 else "16-bit"
    attention = serving_attention(config.model.attn_implementation, device, precision)
    return Placement(device, dtype, attention)


def serving_device(setting: Literal["auto", "cpu", "cuda"]) -> torch.device:
    """serve.device on this machine: "auto" is the GPU when torch sees one."""
    has_gpu = torch.cuda.is_available()
    if setting == "cuda" and not has_gpu:
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise ConfigError(
            f"serve.device is cuda, but torch ({build}) sees no CUDA GPU here: set serve.device "
            "to auto or cpu, or run where a GPU is visible (docker run --gpus all, or the GPU "
            "image of the Dockerfile)"
        )
    if setting == "cpu" or not has_gpu:
        return torch.device("cpu")
    return torch.device("cuda", torch.cuda.current_device())


def serving_dtype(
    setting: Literal["auto", "fp32", "bf16", "fp16"],
    device: torch.device,
    training_precision: Literal["fp32", "bf16", "fp16"],
) -> torch.dtype:
    """serve.dtype on `device`; "auto" follows training.precision (see the module's docstring)."""
    on_gpu = device.type == "cuda"
    # Natively: the emulation that torch offers on older GPUs is slower than fp32.
    has_bf16 = on_gpu and torch.cuda.is_bf16_supported(including_emulation=False)
    if setting == "fp16" and not on_gpu:
        raise ConfigError(
            "serve.dtype is fp16, which needs a CUDA GPU, and the model serves on the CPU: "
            "set serve.dtype to auto, fp32 or bf16"
        )
    if setting == "bf16" and on_gpu and not has_bf16:
        raise ConfigError(
            f"serve.dtype is bf16, which {torch.cuda.get_device_name(device)} does not support: "
            "set serve.dtype to auto, fp16 or fp32"
        )
    if setting != "auto":
        return DTYPES[setting]
    if not on_gpu:
        return torch.float32
    if training_precision == "fp16":
        return torch.float16
    if training_precision == "bf16":
        return torch.bfloat16 if has_bf16 else torch.float16
    return torch.bfloat16 if has_bf16 else torch.float32
