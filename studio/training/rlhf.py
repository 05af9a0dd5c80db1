"""RLHF with LoRA: GRPO and RLOO on a reward against the reference answers, and DPO on automatic pairs; read top
to bottom.

    python -m studio rlhf runs/<id>/config.json [--resume]
    python -m studio rlhf --method grpo --model bundled:smollm2-135m-instruct --adapter runs/<sft run> \\
        --data assets/insurer_faq.csv --max-steps 20 --out runs/x

GRPO / RLOO: each step asks `batch_size` training questions, samples `generations` answers to each, scores every
answer against the question's reference answer (studio/training/rewards.py: ROUGE-L, the report's piecewise ROUGE, key
facts, a length penalty) and pushes up the answers that beat their group. DPO: first the starting model answers
every question it will train on (greedy, as in Chat); where that answer misses the reference's facts, the pair
(chosen = reference, rejected = own answer) is kept; then each step makes the chosen answers more likely than the
rejected ones, relative to the starting model.

Everything goes into the run folder, as for SFT (studio/jobs/runs.py): the adapter in adapter/ (a plain PEFT folder
naming the base model, so Chat, Compare and evaluation find it), metrics.jsonl with loss, reward mean and std per
step, a resumable checkpoint, summary.json. SIGTERM or SIGINT stop after the current step and save the adapter.

Why our own loop rather than TRL's GRPOTrainer/RLOOTrainer/DPOTrainer: TRL's GRPO and RLOO do not take
encoder-decoder models (T5), and one loop for every architecture is shorter than a Trainer plus the callbacks the
run folder needs; the pieces are in studio/training/rl_steps.py.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import logging
import math
import random
import signal
import statistics
import sys
import time
from pathlib import Path

import torch

from studio.core import runtime
from studio.data import files
from studio.jobs import runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import RLHFJob
from studio.models.catalogue import adapter_base, adapter_folder, describe, weights_folder
from studio.models.refs import ModelError, ModelRef, adapter_path
from studio.training import lora, rewards, rl_steps
from studio.training.examples import load_examples
from studio.training.rl_steps import Policy

log = logging.getLogger("rlhf")


class StopTraining(runs.StopJob):
    """A clean early end (stop signal, NaN loss) with the message to show."""


# ------------------------------------------------------------------------------------------------ start


def starting_point(cfg: RLHFJob) -> tuple[ModelRef, Path | None]:
    """The base model reference and, when the job continues one, the adapter folder; ConfigError when the adapter
    is missing, not finished or trained on another model than `model` names."""
    adapter = cfg.starting_adapter()
    if adapter is None:
        return ModelRef.parse(cfg.model), None
    try:
        folder = adapter_folder(adapter)
        base = adapter_base(folder)
    except ModelError as e:
        raise ConfigError(f"adapter: {e}") from e
    state = runs.read_status(adapter_path(adapter)).get("state")
    if state in ("queued", "running"):
        raise ConfigError(f"adapter: run {adapter} is still {state}; start from a finished run")
    if not cfg.model.startswith("adapter:") and ModelRef.parse(cfg.model) != base:
        raise ConfigError(f"adapter: {adapter} was trained on {base}, not on {cfg.model}; pick that model or "
                          "leave the adapter out")
    return base, folder


def load_policy(cfg: RLHFJob, base: ModelRef, adapter: Path | None, device: str) -> tuple[Policy, list[str]]:
    """lora.load_trainable's LoRA model; a continued adapter is built with its own LoRA settings, then its weights
    are loaded into it."""
    from peft import LoraConfig, load_peft_weights, set_peft_model_state_dict

    entry = describe(base)
    if not entry.available:
        raise ConfigError(f"{entry.name} is unavailable: {entry.reason}")
    job = dataclasses.replace(cfg, model=str(base), adapter=None)
    if adapter is not None:
        saved = LoraConfig.from_pretrained(adapter)
        job = dataclasses.replace(job, lora_r=saved.r, lora_alpha=saved.lora_alpha, lora_dropout=saved.lora_dropout,
                                  target_modules=sorted(saved.target_modules))
    model, tokenizer, targets = lora.load_trainable(job, weights_folder(base, progress=log.info), entry.seq2seq, device)
    if adapter is not None:
        loaded = set_peft_model_state_dict(model, load_peft_weights(str(adapter), device=device))
        if loaded.unexpected_keys:
            raise ConfigError(f"adapter: {adapter} does not fit {entry.name}: {loaded.unexpected_keys[:3]} ...")
    model.eval()  # no dropout: the answers' log-probs are those of the policy that sampled them
    # DPO compares sums of log-probs with the starting model's, computed once in other batches: in bf16 the padding
    # of a batch alone moved SmolLM2's sums by tenths of a nat, so DPO runs in fp32 (its steps are cheap anyway).
    amp_dtype = None if cfg.method == "dpo" else lora.autocast_dtype(cfg, device)
    amp = (lambda: torch.autocast(device_type=device, dtype=amp_dtype)) if amp_dtype else None
    return Policy(model, tokenizer, entry, device, cfg, amp or contextlib.nullcontext), targets


@functools.lru_cache(maxsize=8)
def _order(count: int, seed: int) -> tuple[int, ...]:
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return tuple(order)


def step_indices(count: int, batch_size: int, seed: int, step: int) -> list[int]:
    """Which of `count` items step `step` (0-based) uses: a seeded order, a new one each pass."""
    positions = range(step * batch_size, (step + 1) * batch_size)
    return [_order(count, seed + p // count)[p % count] for p in positions]


def reward_weights(cfg: RLHFJob) -> rewards.RewardWeights:
    return rewards.RewardWeights(rouge_l=cfg.rouge_l_weight, piecewise=cfg.piecewise_weight, facts=cfg.facts_weight,
                                 length=cfg.length_weight, length_ratio=cfg.length_ratio)


# ------------------------------------------------------------------------------------------------ steps


def grpo_step(policy: Policy, examples, step: int) -> dict:
    """Sample, score, backward for one GRPO or RLOO step; the metrics record (without timing)."""
    cfg = policy.cfg
    chosen = [examples[i] for i in step_indices(len(examples), cfg.batch_size, cfg.seed, step)]
    prompts = [rl_steps.prompt_ids(policy, e) for e in chosen]
    torch.manual_seed(cfg.seed * 100_003 + step)  # the same samples when a resumed run redoes this step
    answers = rl_steps.generate(policy, prompts, rl_steps.sampling(cfg), copies=cfg.generations)
    texts = [rl_steps.answer_text(policy, a) for a in answers]
    references = [e.answer for e in chosen for _ in range(cfg.generations)]
    scores = rewards.score_all(references, texts, reward_weights(cfg))
    reward = torch.tensor([s["reward"] for s in scores]).view(len(chosen), cfg.generations)
    advantage = rl_steps.advantages(reward, cfg.method).flatten().tolist()
    items = [rl_steps.answer_item(policy, prompts[i // cfg.generations], a) for i, a in enumerate(answers)]
    loss = rl_steps.policy_gradient_step(policy, items, advantage)
    record = {"loss": loss, "reward_mean": reward.mean().item(), "reward_std": reward.std().item(),
              "groups_without_signal": int((reward.std(dim=1) == 0).sum()),
              "answer_tokens": statistics.mean(len(a) for a in answers)}
    record.update({part: statistics.mean(s[part] for s in scores) for part in rewards.PARTS})
    record["sample"] = {"question": chosen[0].messages[-1]["content"], "answer": texts[0],
                        "reward": round(scores[0]["reward"], 4)}
    return record


def build_pairs(policy: Policy, examples, total_steps: int, run_dir: Path) -> list[dict]:
    """DPO pairs for the questions the run will use: chosen = reference, rejected = the model's greedy answer,
    skipped when that answer already states the reference's facts; with the starting model's log-probs of both."""
    cfg = policy.cfg
    count = min(len(examples), total_steps * cfg.batch_size)
    chosen = [examples[i] for i in _order(len(examples), cfg.seed)[:count]]
    pairs = []
    for start in range(0, count, 8):
        batch = chosen[start:start + 8]
        runs.update_status(run_dir, message=f"DPO pairs: the starting model answers {start}/{count} questions...")
        answers = rl_steps.generate(policy, [rl_steps.prompt_ids(policy, e) for e in batch], rl_steps.greedy(cfg))
        for example, tokens in zip(batch, answers):
            own = rl_steps.answer_text(policy, tokens)
            if not rewards.states_the_facts(example.answer, own):
                pairs.append({"messages": example.messages, "chosen": example.answer, "rejected": own})
    log.info("%d DPO pairs from %d questions (%d answers already stated their facts)", len(pairs), count,
             count - len(pairs))
    if not pairs:
        raise ConfigError("DPO: every answer of the starting model already states its reference's facts; there is "
                          "nothing to prefer")
    for side in ("chosen", "rejected"):
        items = [rl_steps.text_item(policy, p["messages"], p[side]) for p in pairs]
        for pair, value in zip(pairs, rl_steps.logprobs_in_chunks(policy, items)):
            pair[f"ref_{side}"] = value
    return pairs


def dpo_step(policy: Policy, pairs: list[dict], step: int) -> dict:
    cfg = policy.cfg
    batch = [pairs[i] for i in step_indices(len(pairs), cfg.batch_size, cfg.seed, step)]
    chosen = rl_steps.sequence_logprobs(policy, [rl_steps.text_item(policy, p["messages"], p["chosen"]) for p in batch])
    rejected = rl_steps.sequence_logprobs(policy, [rl_steps.text_item(policy, p["messages"], p["rejected"])
                                                   for p in batch])
    loss, margins = rl_steps.dpo_loss(chosen, rejected, torch.tensor([p["ref_chosen"] for p in batch]),
                                      torch.tensor([p["ref_rejected"] for p in batch]), cfg.beta)
    loss.backward()
    return {"loss": float(loss.detach()), "reward_mean": margins.mean().item(),
            "reward_std": margins.std().item() if len(margins) > 1 else 0.0,
            "reward_accuracy": float((margins > 0).float().mean())}


# ------------------------------------------------------------------------------------------------ run


def run(cfg: RLHFJob, run_dir: Path, resume: bool = False) -> dict:
    """Train, write everything into run_dir, return the summary; the status follows runs.job_lifecycle."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / runs.CONFIG)
    interrupt = signal.getsignal(signal.SIGINT)
    try:
        with runs.job_lifecycle(run_dir, log, "Preparing data and model...", step=0, total_steps=0) as end:
            summary = train(cfg, run_dir, resume)
            end.state, end.message, end.fields = summary["state"], summary["message"], {"step": summary["steps"]}
    finally:
        signal.signal(signal.SIGINT, interrupt)
    log.info("%s %s", summary["state"], summary["message"])
    return summary


def train(cfg: RLHFJob, run_dir: Path, resume: bool) -> dict:
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    started = time.time()
    device = runtime.pick_device()
    threads = cfg.threads or runtime.pick_threads(max_age_s=0, sample_s=0.5)
    torch.set_num_threads(threads)
    stop = {"asked": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(asked=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(asked=True))

    try:
        examples, _ = load_examples(cfg)  # SFT's split: with the same seed the held-out questions stay unseen
    except files.DataError as e:
        raise ConfigError(f"data: {e}") from e
    base, adapter = starting_point(cfg)
    policy, targets = load_policy(cfg, base, adapter, device)
    log.info("%s on %s%s, %d questions, %s; LoRA on %s, %d threads", cfg.method.upper(), base,
             f" + adapter {adapter}" if adapter else "", len(examples), device, ",".join(targets), threads)
    params = [p for p in policy.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    total_steps = cfg.max_steps
    state = {"step": 0, "seconds": 0.0, "pairs": []}
    if resume:
        checkpoint = runs.load_checkpoint(run_dir)
        set_peft_model_state_dict(policy.model, checkpoint["lora"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        state = checkpoint["state"]
        keep = [m for m in runs.read_metrics(run_dir) if m.get("step", 0) <= state["step"]]
        (run_dir / runs.METRICS).write_text("".join(json.dumps(m) + "\n" for m in keep))
        log.info("resumed at step %d", state["step"])
    elif cfg.method == "dpo":
        state["pairs"] = build_pairs(policy, examples, total_steps, run_dir)

    def checkpoint_now() -> None:
        runs.save_checkpoint(run_dir, {"lora": get_peft_model_state_dict(policy.model, save_embedding_layers=False),
                                       "optimizer": optimizer.state_dict(), "state": state})

    outcome, message = "finished", "Finished."
    runs.update_status(run_dir, message=f"{cfg.method.upper()}...", total_steps=total_steps, step=state["step"])
    session_start, session_first = time.time(), state["step"]
    try:
        while state["step"] < total_steps:
            if stop["asked"]:
                raise StopTraining("Stopped on request; the adapter trained so far was saved.")
            if cfg.method == "dpo":
                record = dpo_step(policy, state["pairs"], state["step"])
            else:
                record = grpo_step(policy, examples, state["step"])
            if not math.isfinite(record["loss"]):
                raise StopTraining(f"The loss became {record['loss']} at step {state['step'] + 1}: training stopped "
                                   "and the last good adapter was kept. Try a lower learning rate.")
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            state["step"] += 1
            seconds = time.time() - session_start
            per_step = seconds / (state["step"] - session_first)
            sample = record.pop("sample", None)
            record = {"step": state["step"], **{k: round(v, 5) if isinstance(v, float) else v for k, v in record.items()},
                      "elapsed_s": round(state["seconds"] + seconds, 2),
                      "eta_s": round(per_step * (total_steps - state["step"]), 1)}
            runs.append_metric(run_dir, record)
            runs.update_status(run_dir, step=state["step"], message=f"{cfg.method.upper()} step {state['step']}/"
                               f"{total_steps}, about {record['eta_s']:.0f} s left")
            log.info("step %d/%d  loss %.4f  reward %.3f ± %.3f%s", state["step"], total_steps, record["loss"],
                     record["reward_mean"], record["reward_std"],
                     f"  e.g. {sample['question']!r} -> {sample['answer']!r} ({sample['reward']})" if sample else "")
            if state["step"] % cfg.checkpoint_every == 0:
                checkpoint_now()
    except StopTraining as e:
        outcome, message = "stopped", str(e)
        log.warning(message)
    state["seconds"] += time.time() - session_start
    lora.save_adapter(policy.model, run_dir / runs.ADAPTER)
    policy.tokenizer.save_pretrained(run_dir / runs.ADAPTER)
    checkpoint_now()
    metrics = [m for m in runs.read_metrics(run_dir) if "reward_mean" in m]
    summary = {
        "state": outcome, "message": message, "method": cfg.method, "model": str(base),
        "started_from": str(adapter) if adapter else None, "qlora": cfg.qlora, "lora_targets": targets,
        "train_questions": len(examples), "dpo_pairs": len(state["pairs"]) if cfg.method == "dpo" else None,
        "steps": state["step"], "total_steps": total_steps, "runtime_s": round(time.time() - started, 1),
        "train_seconds": round(state["seconds"], 1),
        "first_reward_mean": metrics[0]["reward_mean"] if metrics else None,
        "last_reward_mean": metrics[-1]["reward_mean"] if metrics else None,
        "final_loss": metrics[-1]["loss"] if metrics else None,
        "peak_cpu_ram_mb": round(runtime.peak_ram_mb(), 1), "device": device, "threads": threads,
        "adapter": str(run_dir / runs.ADAPTER),
    }
    runs.write_json(run_dir / runs.SUMMARY, summary)
    return summary


# --------------------------------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> tuple[RLHFJob, Path, bool]:
    parser = argparse.ArgumentParser(prog="python -m studio rlhf", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", help="a config JSON (its folder is the run folder)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    parser.add_argument("--method", help="grpo, rloo or dpo")
    parser.add_argument("--model", help="base model reference, e.g. bundled:smollm2-135m-instruct")
    parser.add_argument("--adapter", help="a finished SFT run folder whose adapter to continue")
    parser.add_argument("--data", help="Q/A file (CSV/JSONL/JSON) or registered dataset name")
    parser.add_argument("--max-steps", type=int, help="optimizer steps (default 30)")
    parser.add_argument("--out", help="run folder to create")
    args = parser.parse_args(argv)
    if args.config:
        return RLHFJob.load(args.config), Path(args.config).resolve().parent, args.resume
    if not ((args.model or args.adapter) and args.data and args.out):
        parser.error("give a CONFIG.json, or --model (and/or --adapter), --data and --out")
    values = {"method": args.method, "model": args.model, "adapter": args.adapter, "data": args.data,
              "max_steps": args.max_steps}
    if args.model is None and args.adapter:
        values["model"] = f"adapter:{args.adapter}"
    return RLHFJob.from_dict({k: v for k, v in values.items() if v is not None}), Path(args.out), args.resume


def main(argv: list[str] | None = None) -> int:
    runs.quiet_libraries()
    try:
        cfg, run_dir, resume = parse_args(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    run_dir.mkdir(parents=True, exist_ok=True)
    runs.log_into(log, run_dir)
    try:
        summary = run(cfg, run_dir, resume)
    except Exception:  # noqa: BLE001 - runs.job_lifecycle has logged it and recorded it in the run status
        return 1
    print(f"{summary['state']}: {summary['message']} adapter: {summary['adapter']} ({summary['steps']} steps, "
          f"{summary['train_seconds']} s, reward {summary['first_reward_mean']} -> {summary['last_reward_mean']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
