#!/usr/bin/env python3
"""Estimator check on a real GPU: measured training memory against the framework's estimates.

    python benchmarks/gpu_memory.py measure --out measured.json   # on a CUDA machine
    python benchmarks/gpu_memory.py compare measured.json         # here: prints the ratios

`measure` builds Llama-shaped decoders from configs (nothing is downloaded), trains each a few
steps as the rendered projects do (fp32 weights with bf16 autocast for full fine-tuning; a
frozen bf16 or 4-bit base with fp32 LoRA adapters for LoRA and QLoRA) and records the peak of
torch.cuda.max_memory_allocated. `compare` prints estimate / measurement for each case; the
estimate leaves out its fixed per-device overhead, which the allocator does not count.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# Shapes of the cases: a 1.1B decoder (TinyLlama's shape) and a 3B one.
SHAPES = {
    "llama-1.1b": {
        "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
        "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000,
    },
    "llama-3b": {
        "hidden_size": 3200, "intermediate_size": 8640, "num_hidden_layers": 26,
        "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32000,
    },
}  # fmt: skip
CASES = [
    ("llama-1.1b", "full", False, 4, 1024),
    ("llama-1.1b", "full", True, 4, 1024),
    ("llama-1.1b", "lora", False, 4, 1024),
    ("llama-1.1b", "lora", True, 4, 1024),
    ("llama-1.1b", "qlora", True, 4, 1024),
    ("llama-3b", "lora", True, 2, 2048),
    ("llama-3b", "qlora", True, 2, 2048),
]
LORA_RANK = 16


def measure(out: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, LlamaConfig

    results = []
    for shape, method, checkpointing, batch, seq in CASES:
        torch.cuda.empty_cache()
        config = LlamaConfig(**SHAPES[shape], max_position_embeddings=seq)
        with tempfile.TemporaryDirectory() as folder:
            if method == "qlora":
                AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).save_pretrained(
                    folder
                )
                quantization = BitsAndBytesConfig(
                    load_in_4bit=True,
                    bnb_4bit_quant_type="nf4",
                    bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=torch.bfloat16,
                )
                model = AutoModelForCausalLM.from_pretrained(
                    folder, quantization_config=quantization, device_map={"": 0}
                )
                model = prepare_model_for_kbit_training(model, checkpointing)
            else:
                dtype = torch.float32 if method == "full" else torch.bfloat16
                with torch.device("cuda"):
                    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        parameters = sum(p.numel() for p in model.parameters())
        # As the Trainer does: from_pretrained returns eval mode, where checkpointing is off.
        model.train()
        if checkpointing:
            model.gradient_checkpointing_enable()
            model.config.use_cache = False
        if method != "full":
            if checkpointing and method == "lora":
                model.enable_input_require_grads()
            lora = LoraConfig(r=LORA_RANK, lora_alpha=2 * LORA_RANK, target_modules="all-linear")
            model = get_peft_model(model, lora, autocast_adapter_dtype=True)
        trainable = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=1e-5)
        tokens = torch.randint(0, config.vocab_size, (batch, seq), device="cuda")
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        for _ in range(3):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model(input_ids=tokens, labels=tokens).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        seconds = (time.perf_counter() - started) / 3
        results.append(
            {
                "shape": shape,
                "method": method,
                "gradient_checkpointing": checkpointing,
                "micro_batch": batch,
                "seq_len": seq,
                "parameters": parameters,
                "peak_allocated_gb": torch.cuda.max_memory_allocated() / 1e9,
                "seconds_per_step": seconds,
                "device": torch.cuda.get_device_name(),
            }
        )
        print(json.dumps(results[-1]), flush=True)
        del model, optimizer, trainable, loss
    out.write_text(json.dumps(results, indent=2))


def compare(measured: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generator"))
    from ml_architect.framework import catalogue, memory

    overhead = catalogue("framework")["overhead_gb"]
    cases = json.loads(measured.read_text())
    # numel() counts packed 4-bit weights at half: take each shape's unquantized count.
    parameters = {}
    for case in cases:
        parameters[case["shape"]] = max(parameters.get(case["shape"], 0), case["parameters"])
    print(f"{'case':44} {'measured':>9} {'estimate':>9} {'ratio':>6}")
    ratios = []
    for case in cases:
        shape = SHAPES[case["shape"]]
        facts = {
            "params_b": parameters[case["shape"]] / 1e9,
            "layers": shape["num_hidden_layers"],
            "hidden_size": shape["hidden_size"],
            "ffn_size": shape["intermediate_size"],
            "heads": shape["num_attention_heads"],
            "kv_heads": shape["num_key_value_heads"],
            "vocab_size": shape["vocab_size"],
            "mlp_matrices": 3,
        }
        estimate = (
            memory(
                facts,
                case["method"],
                precision="bf16",
                gradient_checkpointing=case["gradient_checkpointing"],
                micro_batch=case["micro_batch"],
                seq_len=case["seq_len"],
                lora_rank=LORA_RANK,
            )["total_gb"]
            - overhead
        )
        ratio = estimate / case["peak_allocated_gb"]
        ratios.append(ratio)
        name = (
            f"{case['shape']} {case['method']} gc={case['gradient_checkpointing']!s:5} "
            f"b={case['micro_batch']} s={case['seq_len']}"
        )
        print(f"{name:44} {case['peak_allocated_gb']:8.2f}G {estimate:8.2f}G {ratio:6.2f}")
    device = cases[0]["device"]
    print(f"estimate / measured on {device}: {min(ratios):.2f} to {max(ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("measure")
    run.add_argument("--out", type=Path, default=Path("measured.json"))
    check = commands.add_parser("compare")
    check.add_argument("measured", type=Path)
    args = parser.parse_args()
    if args.command == "measure":
        measure(args.out)
    else:
        compare(args.measured)


if __name__ == "__main__":
    main()
