"""A model with LoRA (or QLoRA: the same path with the base in 4-bit NF4) ready to train, and what is done with
adapters: the layers LoRA goes on, the autocast dtype training runs in, saving an adapter and merging one into its
base model. SFT (sft.py) and RLHF (rlhf.py) train through it; export (export.py) merges through it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from studio.core import runtime
from studio.jobs.config import ConfigError
from studio.jobs.kinds import RLHFJob, SFTJob

log = logging.getLogger("sft")  # the SFT job's log: a merge made by training is reported in the run's log


def lora_targets(model: torch.nn.Module) -> list[str]:
    """LoRA target layer names, derived from the architecture's linear layers (the output head excluded)."""
    from transformers.pytorch_utils import Conv1D

    linear = {name.rsplit(".", 1)[-1] for name, module in model.named_modules()
              if isinstance(module, (torch.nn.Linear, Conv1D)) or type(module).__name__ == "Linear4bit"}
    linear -= {"lm_head", "embed_out", "score"}
    llama = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    for wanted in (llama, ["query_key_value"], ["c_attn"], ["q", "v"]):
        found = [name for name in wanted if name in linear]
        if found and (wanted is llama or len(found) == len(wanted)):
            return found
    if not linear:
        raise ConfigError("found no linear layers to put LoRA on; set target_modules in the config")
    return sorted(linear)


def load_trainable(cfg: SFTJob | RLHFJob, folder: Path, seq2seq: bool, device: str):
    """(PEFT model with fresh LoRA weights, tokenizer, LoRA target layers) for the base model in `folder`."""
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, BitsAndBytesConfig

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    # The default attention kernel (SDPA where the model has it): on 2 AVX2 cores it trains SmolLM2 as fast as plain
    # attention on 73-token Q/A examples and 1.09x faster on retrieval-augmented batches 343-405 tokens wide.
    if cfg.qlora:
        compute = getattr(torch, cfg.compute_dtype)
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                   bnb_4bit_use_double_quant=cfg.double_quant, bnb_4bit_compute_dtype=compute)
        model = auto.from_pretrained(folder, quantization_config=quant, dtype=compute, device_map=device)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        for module in model.modules():
            # bitsandbytes repacks 4-bit weights for AVX512-BF16 inference the first time a layer runs in eval
            # mode without grad (our validation pass); that layout needs widths divisible by 64 and is not the
            # one training reads. Keep the training layout throughout.
            if hasattr(module, "support_avx512bf16_for_cpu"):
                module.support_avx512bf16_for_cpu = False
    else:
        model = auto.from_pretrained(folder, dtype=torch.float32).to(device)
    targets = cfg.target_modules or lora_targets(model)
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, task_type=TaskType.SEQ_2_SEQ_LM if seq2seq else TaskType.CAUSAL_LM)
    torch.manual_seed(cfg.seed)
    model = get_peft_model(model, lora)
    # The saved adapter names the model reference it was trained on (not the cache folder it was read from),
    # so an adapter folder describes itself wherever it is copied.
    model.peft_config["default"].base_model_name_or_path = cfg.model
    return model, tokenizer, targets


def autocast_dtype(cfg: SFTJob | RLHFJob, device: str) -> torch.dtype | None:
    """bf16 autocast where bf16 matmul is fast; fp32 otherwise (bf16 is 30-100x slower on AVX2-only CPUs)."""
    if cfg.qlora or cfg.precision == "float32":
        return None
    if cfg.precision == "bfloat16":
        return torch.bfloat16
    fast = torch.cuda.is_bf16_supported() if device == "cuda" else runtime.cpu_bf16_is_fast()
    return torch.bfloat16 if fast else None


def save_adapter(model, folder: Path) -> None:
    # We never resize the vocabulary, so no embedding matrix is saved (PEFT's "auto" would look the base model
    # reference up on the Hub to find out).
    model.save_pretrained(folder, save_embedding_layers=False)


def merge_adapter(base_folder: Path, adapter: Path, out: Path, seq2seq: bool) -> Path:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    merged = PeftModel.from_pretrained(auto.from_pretrained(base_folder, dtype=torch.float32), adapter)
    merged.merge_and_unload().save_pretrained(out)
    AutoTokenizer.from_pretrained(base_folder).save_pretrained(out)
    log.info("merged model saved to %s", out)
    return out
