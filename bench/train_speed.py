"""Training throughput of our SFT job versus TRL's SFTTrainer at its best settings for this machine, and a naive
padded Trainer loop.

TRL is given what a knowledgeable user would pick: the better of its defaults (bf16 and gradient checkpointing on)
and fp32 without checkpointing. Both are first probed for PROBE_S seconds (at least one step) and the faster goes
into the rounds, so an AVX2-only CPU, where bf16 is 30-100x slower, does not spend the bench's time on it.
Same model, data, LoRA settings (rank, alpha, dropout, target layers), learning rate, batch size and number of
optimizer steps for all three, in one run, taking turns round by round (a shared 2-core VM drifts over minutes).
Throughput counts real (non-padding) tokens per second of training, model loading excluded.
Quality: after training, each adapter's loss on the same held-out answers (answer tokens only), so a faster
method that learned less would show it.

    python bench/train_speed.py                 # SmolLM2, sample FAQ, 3 rounds of 10 steps of 8 examples
    python bench/train_speed.py --steps 20 --model bundled:gemma-3-270m

Ends with `ratio: X` = median of our tokens/s / median of TRL's (best settings) tokens/s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore")

import torch  # noqa: E402

from studio.core import runtime
from studio.jobs import runs
from studio.jobs.kinds import SFTJob
from studio.models.catalogue import describe, weights_folder
from studio.models.refs import ModelRef
from studio.training import answer_loss, lora, sft
from studio.training.examples import load_examples


def held_out_loss(model, cfg: SFTJob, val_items, pad_id: int) -> float:
    """Answer-token loss on the held-out examples, the same measure for every method (fp32, no dropout)."""
    return answer_loss.mean_loss(model.float(), val_items, cfg, pad_id, False, "cpu", contextlib.nullcontext)


def ours(cfg: SFTJob, workdir: Path) -> dict:
    summary = sft.run(cfg, workdir)
    steps = [m for m in runs.read_metrics(workdir) if "loss" in m]
    return {"tokens_per_s": steps[-1]["tokens_per_s"], "seconds": steps[-1]["elapsed_s"],
            "adapter": Path(summary["adapter"])}


class CountingCollator:
    """Wraps a collator to count the real tokens the trainer sees."""

    def __init__(self, collate):
        self.collate, self.tokens = collate, 0

    def __call__(self, features):
        batch = self.collate(features)
        self.tokens += int(batch["attention_mask"].sum())
        return batch


def lora_config(cfg: SFTJob, targets: list[str]):
    from peft import LoraConfig, TaskType

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, target_modules=targets,
                      task_type=TaskType.CAUSAL_LM)


PROBE_S = 45
"""Seconds each TRL setting trains for before the faster one is chosen (a step in progress is finished)."""
TRL_SETTINGS = {"defaults": {}, "fp32, no checkpointing": {"bf16": False, "fp16": False,
                                                             "gradient_checkpointing": False}}


def time_limit(seconds: float):
    """A TrainerCallback that ends training at the first step end after `seconds`."""
    from transformers import TrainerCallback

    start = time.perf_counter()

    class TimeLimit(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if time.perf_counter() - start >= seconds:
                control.should_training_stop = True

    return TimeLimit()


def trl(cfg: SFTJob, folder: Path, train_examples, targets, workdir: Path, setting: str,
        seconds: float | None = None) -> dict:
    """TRL's SFTTrainer with SFTConfig's defaults changed only by TRL_SETTINGS[setting] and what must match (steps,
    batch, lr, output); with `seconds`, stopped at the first step end after that long."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    rows = [{"prompt": [{"role": "system", "content": cfg.system_prompt}] + e.messages,
             "completion": [{"role": "assistant", "content": e.answer}]} for e in train_examples]
    args = SFTConfig(output_dir=str(workdir), max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
                     learning_rate=cfg.learning_rate, seed=cfg.seed, report_to="none", save_strategy="no",
                     use_cpu=not torch.cuda.is_available(), disable_tqdm=True, logging_steps=cfg.max_steps,
                     **TRL_SETTINGS[setting])
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    torch.manual_seed(cfg.seed)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=lora_config(cfg, targets), callbacks=[time_limit(seconds)] if seconds else None)
    trainer.data_collator = CountingCollator(trainer.data_collator)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    trainer.model.save_pretrained(workdir / "adapter")
    return {"tokens_per_s": trainer.data_collator.tokens / seconds, "seconds": seconds, "adapter": workdir / "adapter",
            "notes": f"{setting}: bf16={args.bf16}, gradient_checkpointing={args.gradient_checkpointing}, "
                     f"{trainer.state.global_step} steps"}


def naive_trainer(cfg: SFTJob, folder: Path, train_items, targets, workdir: Path, pad: int) -> dict:
    """A plain transformers Trainer: every example padded to max_length, fp32, answer-only labels."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    width = max(len(t.input_ids) for t in train_items)
    rows = [{"input_ids": t.input_ids + [pad] * (width - len(t.input_ids)),
             "attention_mask": [1] * len(t.input_ids) + [0] * (width - len(t.input_ids)),
             "labels": t.labels + [-100] * (width - len(t.labels))} for t in train_items]
    collate = CountingCollator(lambda feats: {k: torch.tensor([f[k] for f in feats]) for k in feats[0]})
    torch.manual_seed(cfg.seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), lora_config(cfg, targets))
    args = TrainingArguments(output_dir=str(workdir), max_steps=cfg.max_steps, learning_rate=cfg.learning_rate,
                             per_device_train_batch_size=cfg.batch_size, report_to="none", save_strategy="no",
                             use_cpu=not torch.cuda.is_available(), disable_tqdm=True, seed=cfg.seed,
                             logging_steps=cfg.max_steps, remove_unused_columns=False)
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collate)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    model.save_pretrained(workdir / "adapter")
    return {"tokens_per_s": collate.tokens / seconds, "seconds": seconds, "adapter": workdir / "adapter",
            "notes": f"padded to {width} tokens, fp32"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled:smollm2-135m-instruct")
    parser.add_argument("--data", default="assets/insurer_faq.csv")
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for all three (default: every core)")
    args = parser.parse_args()

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = SFTJob(model=args.model, data=args.data, max_steps=args.steps, batch_size=args.batch_size,
                 learning_rate=args.learning_rate, early_stopping_patience=0, warmup_ratio=0.0,
                 threads=args.threads or len(os.sched_getaffinity(0))).validate()
    ref = ModelRef.parse(cfg.model)
    entry = describe(ref)
    if entry.seq2seq:
        sys.exit("this benchmark compares causal-LM trainers; pick a causal model")
    folder = weights_folder(ref)
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_examples, val_examples = load_examples(cfg)
    train_items = [answer_loss.tokenize(e, tokenizer, entry.prompt_style, False, cfg) for e in train_examples]
    val_items = [answer_loss.tokenize(e, tokenizer, entry.prompt_style, False, cfg) for e in val_examples]
    targets = lora.lora_targets(AutoModelForCausalLM.from_pretrained(folder))
    print(f"{entry.name}: {cfg.max_steps} steps x {cfg.batch_size} examples, lr {cfg.learning_rate}, LoRA r={cfg.lora_r} "
          f"on {','.join(targets)}; {threads} threads; CPU bf16 fast: {runtime.cpu_bf16_is_fast()}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        probes = {}
        for setting in TRL_SETTINGS:
            probes[setting] = trl(cfg, folder, train_examples, targets, Path(tmp) / f"probe-{len(probes)}", setting,
                                  PROBE_S)
            print(f"probe  TRL {setting:24s} {probes[setting]['tokens_per_s']:7.1f} tokens/s  "
                  f"{probes[setting]['seconds']:6.1f} s  {probes[setting]['notes']}", flush=True)
        best = max(probes, key=lambda s: probes[s]["tokens_per_s"])
        trl_name = f"TRL SFTTrainer {best}"
        methods = {
            "ours": lambda d: ours(cfg, d),
            trl_name: lambda d: trl(cfg, folder, train_examples, targets, d, best),
            "naive padded Trainer": lambda d: naive_trainer(cfg, folder, train_items, targets, d, pad_id),
        }
        results: dict[str, list[dict]] = {name: [] for name in methods}
        for r in range(args.rounds):
            for name, train in methods.items():
                result = train(Path(tmp) / f"{r}-{name.split()[0]}")
                results[name].append(result)
                print(f"round {r + 1}  {name:36s} {result['tokens_per_s']:7.1f} tokens/s  {result['seconds']:6.1f} s  "
                      f"{result.get('notes', '')}", flush=True)
        for name, rounds in results.items():  # quality of the last round's adapters, one shared measure
            base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
            rounds[-1]["held_out_loss"] = held_out_loss(PeftModel.from_pretrained(base, rounds[-1]["adapter"]), cfg,
                                                        val_items, pad_id)
    speed = {name: statistics.median(r["tokens_per_s"] for r in rounds) for name, rounds in results.items()}
    loss = {name: rounds[-1]["held_out_loss"] for name, rounds in results.items()}
    for name in methods:
        print(f"{name:36s} median {speed[name]:7.1f} tokens/s   held-out loss {loss[name]:.4f}")
    mine, naive = "ours", "naive padded Trainer"
    per_round = [a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(results[mine], results[trl_name])]
    print(f"ours / {trl_name} per round: {', '.join(f'{x:.2f}' for x in per_round)}")
    print(f"ours / naive padded Trainer: {speed[mine] / speed[naive]:.2f}x")
    print(f"held-out loss, ours vs {trl_name}: {loss[mine]:.4f} vs {loss[trl_name]:.4f} "
          f"({loss[mine] / loss[trl_name] - 1:+.1%})")
    print(f"ratio: {speed[mine] / speed[trl_name]:.2f} (against TRL {best}; the probes: "
          + ", ".join(f"{s} {p['tokens_per_s']:.0f} tokens/s" for s, p in probes.items()) + ")")


if __name__ == "__main__":
    main()
