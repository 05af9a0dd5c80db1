"""LoRA / QLoRA supervised fine-tuning, causal and seq2seq, read top to bottom.

    python -m studio train runs/<id>/config.json [--resume]
    python -m studio train --model bundled:smollm2-135m-instruct --data assets/insurer_faq.csv --epochs 1 --out runs/x
    python -m studio train --model ... --data ... --processes 2 --out runs/x    # data parallel (jobs/distributed.py)

Everything the job produces goes into its run folder (see studio/jobs/runs.py). SIGTERM or SIGINT stop it cleanly:
the adapter trained so far and a resumable checkpoint are saved. Training never evaluates: with eval_tests set,
studio.jobs.queue queues an evaluation job that scores the adapter once this run has finished.

Why a plain loop and not a Trainer: on a CPU the defaults of TRL's SFTTrainer (bf16 on CPUs without fast bf16,
activation checkpointing, batches padded across lengths, logits over every prompt token) cost several times the
compute (bench/train_speed.py); here every example's loss covers only its answer (and the end token, so the model
learns to stop), batches group similar lengths, the output layer runs only where there is an answer to score, and
the prefix every example of a batch shares (system prompt, grounding instructions) runs once for the batch
(studio/engines/answer_logits.py: the same loss and gradients). train() below names the steps; the loop
itself (optimizer steps, validation, checkpoints) is studio/training/sft_loop.py, the LoRA model lora.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from studio.core import runtime
from studio.jobs import distributed, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import SFTJob
from studio.models.catalogue import describe, weights_folder
from studio.models.refs import ModelEntry, ModelRef
from studio.training import grounded_examples, lora
from studio.training.answer_loss import tokenize
from studio.training.examples import load_examples
from studio.training.sft_loop import Session, StopTraining, save_checkpoint, train_epochs

log = logging.getLogger("sft")


# ------------------------------------------------------------------------------------------------- run


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
    started = time.time()
    device = runtime.pick_device()
    team = distributed.join(device)
    threads = max(1, (cfg.threads or runtime.pick_threads(max_age_s=0, sample_s=0.5)) // team.size)
    torch.set_num_threads(threads)
    stop = {"asked": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(asked=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(asked=True))

    session = prepare_data_and_model(cfg, run_dir, device, team, threads)
    optimizer_and_schedule(session)
    if resume:
        resume_from_checkpoint(session)

    session.model.train()
    outcome, message = "finished", "Finished."
    if session.main:
        runs.update_status(run_dir, message="Training...", total_steps=session.total_steps, step=session.state["step"])
    session.start, session.tokens, session.first_step = time.time(), 0, session.state["step"]
    try:
        message = train_epochs(session, stop)
    except StopTraining as e:
        outcome, message = "stopped", str(e)
        log.warning(message)
    session.state["seconds"] += time.time() - session.start
    session.state["tokens"] += session.tokens
    if not session.main:
        return {"state": outcome, "message": message, "steps": session.state["step"], "rank": team.rank}
    save_results(session, outcome)
    return write_summary(session, outcome, message, started)


# ------------------------------------------------------------------------------------------------ steps


def base_model(cfg: SFTJob) -> tuple[ModelRef, ModelEntry]:
    """The model to fine-tune; ConfigError when it cannot be (an adapter, unavailable, no room for passages)."""
    ref = ModelRef.parse(cfg.model)
    if ref.kind == "adapter":
        raise ConfigError("fine-tune a base model: pick the model the adapter was trained on, not the adapter")
    entry = describe(ref)
    if not entry.available:
        raise ConfigError(f"{entry.name} is unavailable: {entry.reason}")
    if cfg.knowledge and entry.prompt_style == "turns":
        raise ConfigError(f"knowledge: {entry.name} reads turns without a system prompt, so it cannot be shown "
                          "the retrieved passages; pick a chat or instruction model")
    return ref, entry


def prepare_data_and_model(cfg: SFTJob, run_dir: Path, device: str, team: distributed.Team, threads: int) -> Session:
    """The examples, the model with LoRA on it, and the examples tokenized for it."""
    train_examples, val_examples = load_examples(cfg)
    ref, entry = base_model(cfg)
    # Retrieval-augmented: retrieve for every example once, before the model loads (a bad collection stops here).
    grounded = grounded_examples.retrieve_all(cfg, train_examples, val_examples) if cfg.knowledge else None
    folder = weights_folder(ref, progress=log.info)
    log.info("model %s (%s, %s params) from %s on %s, %d threads%s", entry.name, entry.family, entry.size, folder,
             device, threads, f" in each of {team.size} processes" if team.size > 1 else "")
    model, tokenizer, targets = lora.load_trainable(cfg, folder, entry.seq2seq, device)
    trainable, total = model.get_nb_trainable_parameters()
    log.info("LoRA r=%d on %s: %s trainable of %s parameters%s", cfg.lora_r, ",".join(targets), f"{trainable:,}",
             f"{total:,}", " (base in 4-bit NF4: QLoRA)" if cfg.qlora else "")
    def tokenize_one(example, system_prompt=None):
        return tokenize(example, tokenizer, entry.prompt_style, entry.seq2seq, cfg, system_prompt)

    knowledge_counts = None
    if grounded:  # each example's system prompt holds its retrieved passages
        train, val, built = grounded_examples.build(cfg, grounded, tokenize_one)
        if team.main:
            grounded_examples.write_record(run_dir, built)
        knowledge_counts = built["counts"]
    else:
        train, val = [tokenize_one(e) for e in train_examples], [tokenize_one(e) for e in val_examples]
    log.info("%d training and %d validation examples (mode %s)", len(train), len(val), cfg.mode)
    if len(val) > len(train):
        log.info("note: validation (%d examples, val_fraction %g of all the data, held out before train_size picks "
                 "the training examples) is larger than the training set; validation loss still measures held-out "
                 "pairs", len(val), cfg.val_fraction)
    if not train:
        raise ConfigError("no training examples: the data (after the validation split and train_size) is empty")
    return Session(cfg, run_dir, device, team, threads, entry, folder, model, tokenizer, targets, train, val,
                   knowledge_counts)


def optimizer_and_schedule(session: Session) -> None:
    """AdamW on the LoRA weights, linear warmup then linear decay to 0, and the autocast dtype."""
    cfg = session.cfg
    steps_per_epoch = math.ceil(len(session.train) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    warmup = int(cfg.warmup_ratio * total_steps)
    session.total_steps = total_steps
    session.params = [p for p in session.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(session.params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    # `model` stays the plain PEFT model (with a team, `trained` wraps it: its backward passes exchange the gradients)
    session.trained, session.optimizer = distributed.prepare(session.team, session.model, optimizer)
    def learning_rate_factor(i: int) -> float:  # linear warm-up, then linear decay to 0
        return (i + 1) / (warmup + 1) if i < warmup else max(0.0, (total_steps - i) / max(1, total_steps - warmup))

    session.scheduler = torch.optim.lr_scheduler.LambdaLR(session.optimizer, learning_rate_factor)
    session.amp_dtype = lora.autocast_dtype(cfg, session.device)
    if session.amp_dtype:
        session.amp = lambda: torch.autocast(device_type=session.device, dtype=session.amp_dtype)
    log.info("compute: %s", f"{session.amp_dtype} autocast, fp32 weights" if session.amp_dtype else
             ("4-bit base, " + cfg.compute_dtype + " compute" if cfg.qlora else "float32"))


def resume_from_checkpoint(session: Session) -> None:
    """The LoRA weights, optimizer, schedule and loop state of the run folder's checkpoint; metrics of the steps
    after it are dropped (they are redone now)."""
    from peft import set_peft_model_state_dict

    checkpoint = runs.load_checkpoint(session.run_dir)
    set_peft_model_state_dict(session.model, checkpoint["lora"])
    session.optimizer.load_state_dict(checkpoint["optimizer"])
    session.scheduler.load_state_dict(checkpoint["scheduler"])
    session.state = checkpoint["state"]
    keep = [m for m in runs.read_metrics(session.run_dir)
            if m["step"] <= session.state["step"]]  # drop the steps done again now
    if session.main:
        (session.run_dir / runs.METRICS).write_text("".join(json.dumps(m) + "\n" for m in keep))
    log.info("resumed at step %d (epoch %d, batch %d)", session.state["step"], session.state["epoch"] + 1,
             session.state["batch_in_epoch"])


def save_results(session: Session, outcome: str) -> None:
    """The adapter (the best epoch's, or the weights as they are when stopped or never validated), its tokenizer,
    the final checkpoint and, when asked, the merged model."""
    best_adapter = session.run_dir / runs.ADAPTER
    if outcome == "stopped" or session.state["best_val"] is None or not best_adapter.exists():
        lora.save_adapter(session.model, best_adapter)  # the weights as they are now
    session.tokenizer.save_pretrained(best_adapter)
    save_checkpoint(session, session.state)
    if session.cfg.merge:
        lora.merge_adapter(session.folder, best_adapter, session.run_dir / runs.MERGED, session.entry.seq2seq)


def write_summary(session: Session, outcome: str, message: str, started: float) -> dict:
    cfg, state = session.cfg, session.state
    metrics = runs.read_metrics(session.run_dir)
    train_losses = [m["loss"] for m in metrics if "loss" in m]
    summary = {
        "state": outcome, "message": message, "model": cfg.model, "qlora": cfg.qlora, "lora_targets": session.targets,
        "train_examples": len(session.train), "val_examples": len(session.val), "steps": state["step"],
        "total_steps": session.total_steps, "epochs_completed": state["epoch"],
        "runtime_s": round(time.time() - started, 1),
        "train_seconds": round(state["seconds"], 1), "tokens": state["tokens"],
        "tokens_per_s": round(state["tokens"] / max(state["seconds"], 1e-9), 1),
        "final_train_loss": train_losses[-1] if train_losses else None,
        "best_val_loss": state["best_val"],
        "best_val_perplexity": math.exp(state["best_val"]) if state["best_val"] is not None else None,
        "peak_cpu_ram_mb": round(runtime.peak_ram_mb(), 1),
        "peak_gpu_ram_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if session.device == "cuda" else None,
        "device": session.device, "threads": session.threads, "processes": session.team.size,
        "compute": str(session.amp_dtype or ("4-bit" if cfg.qlora else "float32")),
        "adapter": str(session.run_dir / runs.ADAPTER), "knowledge": session.knowledge_counts,
    }
    runs.write_json(session.run_dir / runs.SUMMARY, summary)
    return summary


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


def main(argv: list[str] | None = None) -> int:
    runs.quiet_libraries()
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
