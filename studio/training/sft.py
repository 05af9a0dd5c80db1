"""LoRA / QLoRA supervised fine-tuning, causal and seq2seq, read top to bottom.

    python -m studio train runs/<id>/config.json [--resume]
    python -m studio train --model bundled:smollm2-135m-instruct --data assets/insurer_faq.csv --epochs 1 --out runs/x
    python -m studio train --model ... --data ... --processes 2 --out runs/x    # data parallel, studio/jobs/distributed.py

Everything the job produces goes into its run folder (see studio/jobs/runs.py). SIGTERM or SIGINT stop it cleanly:
the adapter trained so far and a resumable checkpoint are saved. Training never evaluates: with eval_tests set,
studio.jobs.queue queues an evaluation job that scores the adapter once this run has finished.

Why a plain loop and not a Trainer: on a CPU the defaults of TRL's SFTTrainer (bf16 on CPUs without fast bf16,
activation checkpointing, batches padded across lengths, logits over every prompt token, the fused attention
kernel) cost several times the compute (bench/train_speed.py); here every example's loss covers only its answer
(and the end token, so the model learns to stop), batches group similar lengths, the output layer runs only where
there is an answer to score, and short examples use plain attention.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from studio.core import runtime
from studio.data import qa, registry
from studio.engines import hf
from studio.engines.hf import collate, micro_batches
from studio.jobs import distributed, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import SFTJob
from studio.models.catalogue import describe, weights_folder
from studio.models.refs import ModelRef
from studio.training import answer_loss, grounded_examples
from studio.training.answer_loss import batches, tokenize

log = logging.getLogger("sft")


class StopTraining(runs.StopJob):
    """A clean early end of training (stop signal, NaN loss) with the message to show."""


# --------------------------------------------------------------------------------------------- examples


def load_examples(cfg: SFTJob) -> tuple[list[qa.Example], list[qa.Example]]:
    """Train and validation examples: split by record (no leakage between them), then the training subset."""
    source = Path(cfg.data)
    if source.exists():
        dataset = qa.load_file(source, cfg.question_column, cfg.answer_column)
    else:
        dataset = registry.load_registered(cfg.data)
    train_records, val_records = qa.split(dataset.records, cfg.val_fraction, cfg.seed)
    size = int(cfg.train_size) if cfg.train_size > 1 else float(cfg.train_size)
    try:
        train_records = qa.subset(train_records, size, cfg.seed)
    except ValueError as e:
        raise ConfigError(f"train_size: {e}") from e

    def examples(records):
        if dataset.kind == "qa":
            if cfg.mode == "dialogue":
                raise ConfigError("dialogue mode needs conversations; turn Q/A pairs into conversations first "
                                  "(python -m studio conversations FILE --out conversations.jsonl)")
            return qa.qa_examples(records)
        return qa.dialogue_examples(records, cfg.context_turns if cfg.mode == "dialogue" else 0)

    return examples(train_records), examples(val_records)


# ------------------------------------------------------------------------------------------------- model


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


def load_model(cfg: SFTJob, folder: Path, seq2seq: bool, device: str):
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, BitsAndBytesConfig

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    # Q/A examples are short: on a CPU plain attention trained SmolLM2 1.25x faster than the fused SDPA kernel.
    attention = {"attn_implementation": "eager"} if device == "cpu" else {}
    if cfg.qlora:
        compute = getattr(torch, cfg.compute_dtype)
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                   bnb_4bit_use_double_quant=cfg.double_quant, bnb_4bit_compute_dtype=compute)
        model = auto.from_pretrained(folder, quantization_config=quant, dtype=compute, device_map=device, **attention)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        for module in model.modules():
            # bitsandbytes repacks 4-bit weights for AVX512-BF16 inference the first time a layer runs in eval
            # mode without grad (our validation pass); that layout needs widths divisible by 64 and is not the
            # one training reads. Keep the training layout throughout.
            if hasattr(module, "support_avx512bf16_for_cpu"):
                module.support_avx512bf16_for_cpu = False
    else:
        model = auto.from_pretrained(folder, dtype=torch.float32, **attention).to(device)
    targets = cfg.target_modules or lora_targets(model)
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, task_type=TaskType.SEQ_2_SEQ_LM if seq2seq else TaskType.CAUSAL_LM)
    torch.manual_seed(cfg.seed)
    model = get_peft_model(model, lora)
    # The saved adapter names the model reference it was trained on (not the cache folder it was read from),
    # so an adapter folder describes itself wherever it is copied.
    model.peft_config["default"].base_model_name_or_path = cfg.model
    return model, tokenizer, targets


def autocast_dtype(cfg: SFTJob, device: str) -> torch.dtype | None:
    """bf16 autocast where bf16 matmul is fast; fp32 otherwise (bf16 is 30-100x slower on AVX2-only CPUs)."""
    if cfg.qlora or cfg.precision == "float32":
        return None
    if cfg.precision == "bfloat16":
        return torch.bfloat16
    fast = torch.cuda.is_bf16_supported() if device == "cuda" else runtime.cpu_bf16_is_fast()
    return torch.bfloat16 if fast else None


# ------------------------------------------------------------------------------------------------- run


def save_adapter(model, folder: Path) -> None:
    # We never resize the vocabulary, so no embedding matrix is saved (PEFT's "auto" would look the base model
    # reference up on the Hub to find out).
    model.save_pretrained(folder, save_embedding_layers=False)


def save_checkpoint(model, optimizer, scheduler, run_dir: Path, state: dict) -> None:
    """Tensors and plain values only, so resuming loads it with weights_only=True."""
    from peft import get_peft_model_state_dict

    runs.save_checkpoint(run_dir, {"lora": get_peft_model_state_dict(model, save_embedding_layers=False),
                                   "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                   "state": state})


def peak_cpu_ram_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run(cfg: SFTJob, run_dir: Path, resume: bool = False) -> dict:
    """Train, write everything into run_dir, return the summary; the status follows runs.job_lifecycle."""
    if distributed.launched_rank() != 0:  # another process of a team: process 0 keeps the run folder
        return train(cfg, run_dir, resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / runs.CONFIG)
    interrupt = signal.getsignal(signal.SIGINT)
    try:
        with runs.job_lifecycle(run_dir, log, "Preparing data and model...", step=0, total_steps=0) as end:
            summary = train(cfg, run_dir, resume)
            end.state, end.message, end.fields = summary["state"], summary["message"], {"step": summary["steps"]}
    finally:
        signal.signal(signal.SIGINT, interrupt)  # Ctrl-C means "stop training" only while training runs
    log.info("%s %s", summary["state"], summary["message"])
    return summary


def train(cfg: SFTJob, run_dir: Path, resume: bool) -> dict:
    from peft import set_peft_model_state_dict

    started = time.time()
    device = runtime.pick_device()
    team = distributed.join(device)
    threads = max(1, (cfg.threads or runtime.pick_threads(max_age_s=0, sample_s=0.5)) // team.size)
    torch.set_num_threads(threads)
    main = team.main
    stop = {"asked": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(asked=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(asked=True))

    # Data.
    train_examples, val_examples = load_examples(cfg)
    ref = ModelRef.parse(cfg.model)
    if ref.kind == "adapter":
        raise ConfigError("fine-tune a base model: pick the model the adapter was trained on, not the adapter")
    entry = describe(ref)
    if not entry.available:
        raise ConfigError(f"{entry.name} is unavailable: {entry.reason}")
    if cfg.knowledge and entry.prompt_style == "turns":
        raise ConfigError(f"knowledge: {entry.name} reads turns without a system prompt, so it cannot be shown "
                          "the retrieved passages; pick a chat or instruction model")
    # Retrieval-augmented: retrieve for every example once, before the model loads (a bad collection stops here).
    grounded = grounded_examples.retrieve_all(cfg, train_examples, val_examples) if cfg.knowledge else None
    folder = weights_folder(ref, progress=log.info)
    log.info("model %s (%s, %s params) from %s on %s, %d threads%s", entry.name, entry.family, entry.size, folder,
             device, threads, f" in each of {team.size} processes" if team.size > 1 else "")
    model, tokenizer, targets = load_model(cfg, folder, entry.seq2seq, device)
    trainable, total = model.get_nb_trainable_parameters()
    log.info("LoRA r=%d on %s: %s trainable of %s parameters%s", cfg.lora_r, ",".join(targets), f"{trainable:,}",
             f"{total:,}", " (base in 4-bit NF4: QLoRA)" if cfg.qlora else "")
    def tokenize_one(example, system_prompt=None):
        return tokenize(example, tokenizer, entry.prompt_style, entry.seq2seq, cfg, system_prompt)

    knowledge_counts = None
    if grounded:  # each example's system prompt holds its retrieved passages
        train, val, built = grounded_examples.build(cfg, grounded, tokenize_one)
        if main:
            grounded_examples.write_record(run_dir, built)
        knowledge_counts = built["counts"]
    else:
        train, val = [tokenize_one(e) for e in train_examples], [tokenize_one(e) for e in val_examples]
    log.info("%d training and %d validation examples (mode %s)", len(train), len(val), cfg.mode)
    if not train:
        raise ConfigError("no training examples: the data (after the validation split and train_size) is empty")

    # Optimisation.
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    warmup = int(cfg.warmup_ratio * total_steps)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    trained, optimizer = distributed.prepare(team, model, optimizer)  # `model` stays the plain PEFT model
    # (with a team, `trained` wraps it: its backward passes exchange the gradients)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / (warmup + 1) if s < warmup else max(0.0, (total_steps - s) / max(1, total_steps - warmup)))
    amp_dtype = autocast_dtype(cfg, device)
    amp = (lambda: torch.autocast(device_type=device, dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext
    log.info("compute: %s", f"{amp_dtype} autocast, fp32 weights" if amp_dtype else
             ("4-bit base, " + cfg.compute_dtype + " compute" if cfg.qlora else "float32"))

    state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "best_val": None, "bad_epochs": 0, "tokens": 0,
             "seconds": 0.0}
    if resume:
        checkpoint = runs.load_checkpoint(run_dir)
        set_peft_model_state_dict(model, checkpoint["lora"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        state = checkpoint["state"]
        keep = [m for m in runs.read_metrics(run_dir) if m["step"] <= state["step"]]  # drop steps redone now
        if main:
            (run_dir / runs.METRICS).write_text("".join(json.dumps(m) + "\n" for m in keep))
        log.info("resumed at step %d (epoch %d, batch %d)", state["step"], state["epoch"] + 1,
                 state["batch_in_epoch"])

    # Training.
    pad_id = tokenizer.pad_token_id
    model.train()
    outcome, message = "finished", "Finished."
    best_adapter = run_dir / runs.ADAPTER
    if main:
        runs.update_status(run_dir, message="Training...", total_steps=total_steps, step=state["step"])
    session_start, session_tokens, session_first_step = time.time(), 0, state["step"]
    early_stopped = False
    try:
        while state["step"] < total_steps and not early_stopped:
            epoch = state["epoch"]
            order = batches(train, cfg.batch_size, cfg.seed + epoch)
            for index_batch in order[state["batch_in_epoch"]:]:
                if distributed.any_process(team, stop["asked"]):
                    raise StopTraining("Stopped on request; the adapter trained so far was saved.")
                count = sum(sum(1 for x in train[i].labels if x != -100) for i in index_batch)
                loss_sum, tokens = 0.0, 0
                micros = micro_batches([train[i] for i in index_batch])
                mine = distributed.my_share(team, micros)
                for position, micro in enumerate(mine):
                    weight = team.size / count if micro is not None else 0.0  # the processes' gradients are averaged
                    batch = {k: v.to(device) for k, v in collate(micro or micros[0], pad_id, entry.seq2seq).items()}
                    with distributed.exchange_after(team, trained, position == len(mine) - 1):
                        with amp():
                            loss, _ = hf.batch_loss(trained, batch, entry.seq2seq)
                        (loss * weight).backward()
                    if micro is not None:
                        loss_sum += float(loss.detach())
                        tokens += int(batch["attention_mask"].sum())
                loss_sum, tokens = distributed.totals(team, loss_sum, tokens)
                session_tokens += int(tokens)
                step_loss = loss_sum / max(count, 1)
                if not math.isfinite(step_loss):
                    raise StopTraining(f"The loss became {step_loss} at step {state['step'] + 1}: training stopped "
                                       "and the last good adapter was kept. Try a lower learning rate.")
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state["step"] += 1
                state["batch_in_epoch"] += 1
                if main:
                    _log_step(run_dir, state, scheduler, step_loss, epoch, len(order), total_steps, cfg,
                              time.time() - session_start, session_first_step, session_tokens)
                    if state["step"] % cfg.checkpoint_every == 0:
                        _checkpoint(model, optimizer, scheduler, run_dir, state, session_start, session_tokens)
                if state["step"] >= total_steps:
                    break
            if state["batch_in_epoch"] == len(order):  # the epoch is complete: validate, maybe stop early
                state["epoch"] += 1
                state["batch_in_epoch"] = 0
                early_stopped = _end_of_epoch(model, val, cfg, pad_id, entry.seq2seq, device, amp, run_dir, state,
                                              main)
                if main:
                    _checkpoint(model, optimizer, scheduler, run_dir, state, session_start, session_tokens)
        if early_stopped:
            message = (f"Early stop: the validation loss did not improve for {cfg.early_stopping_patience} epochs; "
                       "the best adapter was kept.")
        elif state["batch_in_epoch"]:  # max_steps ended it mid-epoch: validate what there is
            _end_of_epoch(model, val, cfg, pad_id, entry.seq2seq, device, amp, run_dir, state, main)
    except StopTraining as e:
        outcome, message = "stopped", str(e)
        log.warning(message)
    state["seconds"] += time.time() - session_start
    state["tokens"] += session_tokens
    if not main:
        return {"state": outcome, "message": message, "steps": state["step"], "rank": team.rank}
    if outcome == "stopped" or state["best_val"] is None or not best_adapter.exists():
        save_adapter(model, best_adapter)  # the weights as they are now
    tokenizer.save_pretrained(best_adapter)
    save_checkpoint(model, optimizer, scheduler, run_dir, state)
    if cfg.merge:
        merge_adapter(folder, best_adapter, run_dir / runs.MERGED, entry.seq2seq)
    metrics = runs.read_metrics(run_dir)
    train_losses = [m["loss"] for m in metrics if "loss" in m]
    summary = {
        "state": outcome, "message": message, "model": cfg.model, "qlora": cfg.qlora, "lora_targets": targets,
        "train_examples": len(train), "val_examples": len(val), "steps": state["step"], "total_steps": total_steps,
        "epochs_completed": state["epoch"], "runtime_s": round(time.time() - started, 1),
        "train_seconds": round(state["seconds"], 1), "tokens": state["tokens"],
        "tokens_per_s": round(state["tokens"] / max(state["seconds"], 1e-9), 1),
        "final_train_loss": train_losses[-1] if train_losses else None,
        "best_val_loss": state["best_val"],
        "best_val_perplexity": math.exp(state["best_val"]) if state["best_val"] is not None else None,
        "peak_cpu_ram_mb": round(peak_cpu_ram_mb(), 1),
        "peak_gpu_ram_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if device == "cuda" else None,
        "device": device, "threads": threads, "processes": team.size, "compute": str(amp_dtype or ("4-bit" if cfg.qlora else "float32")),
        "adapter": str(best_adapter), "knowledge": knowledge_counts,
    }
    runs.write_json(run_dir / runs.SUMMARY, summary)
    return summary


def _log_step(run_dir, state, scheduler, step_loss, epoch, batches_in_epoch, total_steps, cfg, seconds,
              session_first_step, session_tokens) -> None:
    """One step's metrics record, status and (now and then) log line, with the ETA from this session's pace."""
    per_step = seconds / (state["step"] - session_first_step)
    runs.append_metric(run_dir, {
        "step": state["step"], "epoch": round(epoch + state["batch_in_epoch"] / batches_in_epoch, 4),
        "loss": round(step_loss, 5), "lr": scheduler.get_last_lr()[0],
        "elapsed_s": round(state["seconds"] + seconds, 2),
        "eta_s": round(per_step * (total_steps - state["step"]), 1),
        "tokens_per_s": round(session_tokens / max(seconds, 1e-9), 1)})
    runs.update_status(run_dir, step=state["step"], message=f"Epoch {epoch + 1}/{cfg.epochs}")
    if state["step"] % max(1, total_steps // 20) == 0 or state["step"] == total_steps:
        log.info("step %d/%d  loss %.4f  lr %.2e  %.0f tokens/s", state["step"], total_steps, step_loss,
                 scheduler.get_last_lr()[0], session_tokens / max(seconds, 1e-9))


def _checkpoint(model, optimizer, scheduler, run_dir, state, session_start, session_tokens) -> None:
    snapshot = dict(state, seconds=state["seconds"] + time.time() - session_start,
                    tokens=state["tokens"] + session_tokens)
    save_checkpoint(model, optimizer, scheduler, run_dir, snapshot)


def _end_of_epoch(model, val, cfg, pad_id, seq2seq, device, amp, run_dir, state, main: bool = True) -> bool:
    """Validate; keep the best adapter; True when early stopping says stop. Every process of a team validates the
    same weights on all of `val` (so all reach the same decision); only the main one writes."""
    if not val:
        if main:
            save_adapter(model, run_dir / runs.ADAPTER)
        return False
    val_loss = answer_loss.mean_loss(model, val, cfg, pad_id, seq2seq, device, amp)
    if main:
        runs.append_metric(run_dir, {"step": state["step"], "epoch": state["epoch"], "val_loss": round(val_loss, 5),
                                     "val_perplexity": round(math.exp(min(val_loss, 50)), 3)})
        log.info("epoch %d: validation loss %.4f, perplexity %.2f", state["epoch"], val_loss,
                 math.exp(min(val_loss, 50)))
    if not math.isfinite(val_loss):
        raise StopTraining("The validation loss is not finite: training stopped; the last good adapter was kept.")
    if state["best_val"] is None or val_loss < state["best_val"]:
        state["best_val"], state["bad_epochs"] = val_loss, 0
        if main:
            save_adapter(model, run_dir / runs.ADAPTER)
        return False
    state["bad_epochs"] += 1
    return bool(cfg.early_stopping_patience) and state["bad_epochs"] >= cfg.early_stopping_patience


def merge_adapter(base_folder: Path, adapter: Path, out: Path, seq2seq: bool) -> Path:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    merged = PeftModel.from_pretrained(auto.from_pretrained(base_folder, dtype=torch.float32), adapter)
    merged.merge_and_unload().save_pretrained(out)
    AutoTokenizer.from_pretrained(base_folder).save_pretrained(out)
    log.info("merged model saved to %s", out)
    return out


# --------------------------------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> tuple[SFTJob, Path, bool]:
    parser = argparse.ArgumentParser(prog="python -m studio train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", help="a config JSON (its folder is the run folder)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    parser.add_argument("--model", help="model reference, e.g. bundled:smollm2-135m-instruct or a folder")
    parser.add_argument("--data", help="Q/A file (CSV/JSONL/JSON) or registered dataset name")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--qlora", action="store_true", help="4-bit NF4 base model (QLoRA)")
    parser.add_argument("--knowledge", help="knowledge collection: train with the passages retrieved for each "
                        "question in the system prompt (retrieval-augmented fine-tuning)")
    parser.add_argument("--knowledge-k", type=int, help="passages per example (default 3)")
    parser.add_argument("--gold-drop", type=float, help="share of examples trained without their own passage "
                        "(default 0.2)")
    parser.add_argument("--processes", type=int, help="train on N processes through accelerate launch (one per GPU, "
                        "or CPU processes)")
    parser.add_argument("--out", help="run folder to create")
    args = parser.parse_args(argv)
    if args.config:
        cfg = SFTJob.load(args.config)
        return cfg, Path(args.config).resolve().parent, args.resume
    if not (args.model and args.data and args.out):
        parser.error("give a CONFIG.json, or --model, --data and --out")
    values = {"model": args.model, "data": args.data, "qlora": args.qlora}
    optional = {"epochs": args.epochs, "knowledge": args.knowledge, "knowledge_k": args.knowledge_k,
                "gold_drop": args.gold_drop, "processes": args.processes}
    values.update({name: value for name, value in optional.items() if value is not None})
    return SFTJob.from_dict(values), Path(args.out), args.resume


def quiet_libraries() -> None:
    """Keep the run log readable: no per-file progress bars, deprecation notices or optional-kernel notices."""
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="peft")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    try:
        cfg, run_dir, resume = parse_args(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    run_dir.mkdir(parents=True, exist_ok=True)
    runs.log_into(log, run_dir)
    if cfg.processes > 1 and int(os.environ.get("WORLD_SIZE", "1")) == 1:  # at a terminal: start the team
        cfg.save(run_dir / runs.CONFIG)
        return subprocess.call(distributed.launch_command(__spec__.name, run_dir / runs.CONFIG, cfg.processes,
                                                          cfg.accelerate_config, ["--resume"] if resume else []))
    if cfg.eval_tests and not os.environ.get("CQA_STDERR_IS_LOG"):
        log.info("eval_tests are scored by the evaluation job the job queue runs after training; here, run "
                 "python -m studio evaluate --adapter %s --test TEST afterwards", run_dir)
    try:
        summary = run(cfg, run_dir, resume)
    except Exception:  # noqa: BLE001 - runs.job_lifecycle has logged it and recorded it in the run status
        return 1
    if distributed.launched_rank() != 0:
        return 0  # process 0 reports
    print(f"{summary['state']}: {summary['message']} adapter: {summary['adapter']} "
          f"({summary['steps']} steps, {summary['train_seconds']} s, {summary['tokens_per_s']} tokens/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
